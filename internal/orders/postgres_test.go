package orders_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/postgres"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/tool/report"
)

// runOnPostgres runs the Orders service as `bookshop orders` with a
// database URL does (orders.Run), on the database of st, its readiness
// checked every 50ms, logging to logger, until the test ends. It returns
// a client of it and of its health service.
func runOnPostgres(tb testing.TB, st pgdb.Settings, logger *slog.Logger) (ordersv1.OrdersServiceClient, grpc_health_v1.HealthClient) {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := orders.DefaultConfig()
	cfg.Database, cfg.ReadyInterval = st, 50*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- orders.Run(ctx, cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("orders.Run: %v", err)
		}
	})
	conn := rpctest.Dial(tb, lis.Addr().String())
	return ordersv1.NewOrdersServiceClient(conn), grpc_health_v1.NewHealthClient(conn)
}

// TestRunOnPostgres runs two replicas of the Orders service, as `bookshop
// orders` with a database URL (one with a password, which the test server
// does not ask for), on one PostgreSQL database, which the first reaches
// through a proxy. A checkout whose CreateOrder reaches both at once
// records one order, which both list; while the proxy is down the first's
// health is NOT_SERVING and its calls are answered UNAVAILABLE, which a
// caller retries; once it is back, SERVING, and the retry records the
// order once. The log names the database with its password hidden.
func TestRunOnPostgres(t *testing.T) {
	const password = "S3cret-Pa55word"
	st := pgtest.Settings(t)
	parsed, err := url.Parse(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password)
	st.URL = parsed.String()
	proxy := pgtest.NewProxy(t, st.URL)
	viaProxy := st
	viaProxy.URL, viaProxy.ConnectTimeout = proxy.URL(st.URL), time.Second
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	first, health := runOnPostgres(t, viaProxy, logger)
	second, _ := runOnPostgres(t, st, discard)
	ctx := testContext(t)

	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]bool{}
	)
	for i := range 8 {
		client := []ordersv1.OrdersServiceClient{first, second}[i%2]
		wg.Go(func() {
			resp, err := client.CreateOrder(ctx, createRequest("one-checkout", 7))
			if err != nil {
				t.Errorf("CreateOrder #%d: %v", i, err)
				return
			}
			mu.Lock()
			ids[resp.GetOrder().GetId()] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("one key on two replicas recorded orders %v, want one", ids)
	}
	a, errA := first.ListOrders(ctx, &ordersv1.ListOrdersRequest{CustomerId: 7})
	b, errB := second.ListOrders(ctx, &ordersv1.ListOrdersRequest{CustomerId: 7})
	if errA != nil || errB != nil || len(a.GetOrders()) != 1 || !proto.Equal(a, b) {
		t.Errorf("ListOrders on the two replicas = %v, %v and %v, %v; want the one order from both", a, errA, b, errB)
	}

	waitHealth := func(want grpc_health_v1.HealthCheckResponse_ServingStatus, when string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: ordersv1.OrdersService_ServiceDesc.ServiceName})
			if err == nil && resp.GetStatus() == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health %s = %v, %v; want %v", when, resp.GetStatus(), err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	proxy.Down()
	waitHealth(grpc_health_v1.HealthCheckResponse_NOT_SERVING, "without the database")
	if _, err := first.CreateOrder(ctx, createRequest("while-away", 8)); status.Code(err) != codes.Unavailable {
		t.Errorf("CreateOrder without the database = %v, want UNAVAILABLE", err)
	}
	if _, err := first.ListOrders(ctx, &ordersv1.ListOrdersRequest{CustomerId: 7}); status.Code(err) != codes.Unavailable {
		t.Errorf("ListOrders without the database = %v, want UNAVAILABLE", err)
	}
	proxy.Up()
	waitHealth(grpc_health_v1.HealthCheckResponse_SERVING, "once the database is back")
	retried, err := first.CreateOrder(ctx, createRequest("while-away", 8))
	if err != nil {
		t.Fatalf("CreateOrder retried once the database is back: %v", err)
	}
	got, err := second.GetOrder(ctx, &ordersv1.GetOrderRequest{CustomerId: 8, OrderId: retried.GetOrder().GetId()})
	if err != nil || !proto.Equal(got.GetOrder(), retried.GetOrder()) {
		t.Errorf("GetOrder on the other replica = %v, %v; want %v", got.GetOrder(), err, retried.GetOrder())
	}
	if !strings.Contains(logs.String(), "xxxxx@") || strings.Contains(logs.String(), password) {
		t.Errorf("the log does not hide the password as xxxxx:\n%s", logs)
	}
}

// TestSameFromBothStores records the same history in SQLite and in
// PostgreSQL, 300 orders of 5 customers over 30 days, many in the same
// millisecond, a third with the promotion, some cancelled, and reads it
// back through the Service over each: every order by its id, every
// customer's pages and everyone's, with their page tokens, and the
// promotion's report (report.Collect, as `bookshop report promotion`
// makes it) are the same from both.
func TestSameFromBothStores(t *testing.T) {
	ctx := testContext(t)
	lite, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	pg, err := postgres.Open(ctx, pgtest.Settings(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	stores := map[string]orders.Store{"SQLite": lite, "PostgreSQL": pg}

	start := time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)
	var history []bookshop.Order
	for i := range 300 {
		o := newOrder(int32(1+i%5), line(int32(1+i%7), 1299, 1+i%3), line(int32(10+i%4), 850, 1), line(int32(20+i%2), 500, 2))
		if i%3 == 0 {
			o.Promotions = []string{promotionsclient.BuyTwoGetOneFreeCode}
			o.Discount = eur(500)
			o.Total = eur(o.Subtotal.Units - 500)
		}
		checked, err := orders.Checked(o)
		if err != nil {
			t.Fatal(err)
		}
		// Three orders to a millisecond, spread over 30 days.
		at := start.Add(time.Duration(i/3) * 30 * 24 * time.Hour / 100).Truncate(time.Millisecond)
		checked.ID, checked.State, checked.Created, checked.Updated = orders.NewOrderID(), "placed", at, at
		history = append(history, checked)
	}
	for name, store := range stores {
		for i, o := range history {
			if _, _, created, err := store.Create(ctx, fmt.Sprintf("key-%d", i), orders.Fingerprint(o), o); err != nil || !created {
				t.Fatalf("%s: Create #%d = %v, %v", name, i, created, err)
			}
			if i%17 == 0 {
				if _, _, err := store.Cancel(ctx, o.ID, o.Created.Add(time.Hour)); err != nil {
					t.Fatalf("%s: Cancel #%d: %v", name, i, err)
				}
			}
		}
	}

	type view struct {
		byID    map[string]bookshop.Order
		pages   map[int32][]bookshop.OrderPage // by customer; 0 for ListAll
		report  *report.Report
		ordered []string // ListAll's ids, in order
	}
	views := map[string]view{}
	for name, store := range stores {
		svc := orders.NewService(store, orders.Options{})
		v := view{byID: map[string]bookshop.Order{}, pages: map[int32][]bookshop.OrderPage{}}
		for _, o := range history {
			got, err := svc.Order(ctx, o.CustomerID, o.ID)
			if err != nil {
				t.Fatalf("%s: Order(%s): %v", name, o.ID, err)
			}
			v.byID[o.ID] = got
		}
		for customer := range int32(6) {
			for page := ""; ; {
				var p bookshop.OrderPage
				if customer == 0 {
					p, err = svc.ListAll(ctx, page, 7)
				} else {
					p, err = svc.List(ctx, customer, page, 7)
				}
				if err != nil {
					t.Fatalf("%s: the pages of customer %d: %v", name, customer, err)
				}
				v.pages[customer] = append(v.pages[customer], p)
				if customer == 0 {
					for _, o := range p.Orders {
						v.ordered = append(v.ordered, o.ID)
					}
				}
				if page = p.Next; page == "" {
					break
				}
			}
		}
		v.report, err = report.Collect(ctx, svc, report.Options{
			Promotion: promotionsclient.BuyTwoGetOneFreeCode,
			From:      start, To: start.AddDate(0, 0, 29),
			Location: time.FixedZone("CET", 3600),
			Campaign: bookshop.Campaign{Starts: start.AddDate(0, 0, 10).Add(90 * time.Minute), Ends: start.AddDate(0, 0, 20)},
		})
		if err != nil {
			t.Fatalf("%s: report.Collect: %v", name, err)
		}
		views[name] = v
	}

	lv, pv := views["SQLite"], views["PostgreSQL"]
	if len(lv.ordered) != len(history) {
		t.Errorf("SQLite lists %d orders, want %d", len(lv.ordered), len(history))
	}
	for id, o := range lv.byID {
		if !reflect.DeepEqual(pv.byID[id], o) {
			t.Errorf("Order(%s) from SQLite = %+v\nfrom PostgreSQL = %+v", id, o, pv.byID[id])
		}
	}
	for customer, pages := range lv.pages {
		if !reflect.DeepEqual(pv.pages[customer], pages) {
			t.Errorf("customer %d's pages differ: SQLite's %d, PostgreSQL's %d", customer, len(pages), len(pv.pages[customer]))
		}
	}
	if !reflect.DeepEqual(lv.ordered, pv.ordered) {
		t.Errorf("ListAll's order differs:\nSQLite     %v\nPostgreSQL %v", lv.ordered, pv.ordered)
	}
	if !reflect.DeepEqual(lv.report, pv.report) {
		t.Errorf("the report differs:\nSQLite     %+v\nPostgreSQL %+v", lv.report.Total, pv.report.Total)
	}
	if r := pv.report; r.Total.WithPromotion == 0 || r.Total.WithoutPromotion == 0 || r.Cancelled == 0 || len(r.Days) < 30 {
		t.Errorf("the report = %+v, %d cancelled, %d days: want orders with and without the promotion, cancelled ones, every day", r.Total, r.Cancelled, len(r.Days))
	}
}
