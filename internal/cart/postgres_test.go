package cart_test

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/cart"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// runCartWith runs the Cart as `bookshop cart` does (cart.Run) with cfg
// and logger, until the test ends, and returns the address it serves on.
func runCartWith(tb testing.TB, cfg cart.Config, logger *slog.Logger) string {
	tb.Helper()
	return rpctest.Run(tb, "cart.Run", func(ctx context.Context, deps process.Deps) error { return cart.Run(ctx, cfg, deps) }, logger)
}

// waitHealth waits until the health of CartService at addr is want, and
// fails the test if it is not within 10 seconds.
func waitHealth(tb testing.TB, addr string, want healthpb.HealthCheckResponse_ServingStatus, when string) {
	tb.Helper()
	rpctest.WaitHealth(tb, addr, cartv1.CartService_ServiceDesc.ServiceName, want, when)
}

// TestRunOnPostgres runs two Carts, as `bookshop cart` with a database
// URL, on one PostgreSQL database, which the first reaches through a
// proxy: a cart filled through both holds what each added, a keyed
// addition retried on the other adds nothing, and a guest's cart merged
// on one is found merged on the other; while the proxy is down the
// first's health is NOT_SERVING and its calls fail with UNAVAILABLE, and
// once it is back, SERVING, and it adds again.
func TestRunOnPostgres(t *testing.T) {
	catalogAddr, _ := serveCatalog(t, "127.0.0.1:0", catalogBooks(10, price))
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	cfg := cart.DefaultConfig()
	cfg.CatalogHost, cfg.ReadyInterval = catalogAddr, 50*time.Millisecond
	cfg.Database = st
	cfg.Database.URL, cfg.Database.ConnectTimeout = proxy.URL(st.URL), time.Second
	firstAddr := runCartWith(t, cfg, discard)
	cfg.Database = st
	secondAddr := runCartWith(t, cfg, discard)
	first := cartv1.NewCartServiceClient(rpctest.Dial(t, firstAddr))
	second := cartv1.NewCartServiceClient(rpctest.Dial(t, secondAddr))

	ctx := testContext(t)
	keyed := &cartv1.AddItemRequest{CartId: "g-guest", BookId: 2, Quantity: 3, IdempotencyKey: "add-2"}
	for _, c := range []cartv1.CartServiceClient{first, second} {
		if _, err := c.AddItem(ctx, keyed); err != nil {
			t.Fatalf("AddItem(add-2): %v", err)
		}
	}
	if _, err := second.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 2, Quantity: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 5, Quantity: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.MergeCarts(ctx, &cartv1.MergeCartsRequest{FromCartId: "g-guest", IntoCartId: "c-1"}); err != nil {
		t.Fatalf("MergeCarts on the first: %v", err)
	}
	got, err := second.GetCart(ctx, &cartv1.GetCartRequest{CartId: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	wantCart(t, "GetCart on the second after the merge on the first", got.GetCart(), &cartv1.Cart{
		Id: "c-1", Lines: []*cartv1.CartLine{line(2, 4, price), line(5, 1, price)}, Count: 5, Subtotal: money(eur(4*299 + 599)),
	})
	if n, err := second.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "g-guest"}); err != nil || n.GetCount() != 0 {
		t.Errorf("CountItems(the guest's cart) on the second = %v, %v; want 0", n, err)
	}

	waitHealth(t, firstAddr, healthpb.HealthCheckResponse_SERVING, "with the database")
	proxy.Down()
	waitHealth(t, firstAddr, healthpb.HealthCheckResponse_NOT_SERVING, "without the database")
	if _, err := first.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "c-1"}); status.Code(err) != codes.Unavailable {
		t.Errorf("CountItems on the first without its database = %v, want UNAVAILABLE, which a caller retries", err)
	}
	if _, err := first.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 5, Quantity: 1}); status.Code(err) != codes.Unavailable {
		t.Errorf("AddItem on the first without its database = %v, want UNAVAILABLE, which a caller retries", err)
	}
	waitHealth(t, secondAddr, healthpb.HealthCheckResponse_SERVING, "of the other replica")
	proxy.Up()
	waitHealth(t, firstAddr, healthpb.HealthCheckResponse_SERVING, "once the database is back")
	if _, err := first.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 5, Quantity: 1}); err != nil {
		t.Errorf("AddItem on the first once the database is back: %v", err)
	}
	if n, err := second.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "c-1"}); err != nil || n.GetCount() != 6 {
		t.Errorf("CountItems(c-1) on the second = %v, %v; want 6", n, err)
	}
}

// TestRunHidesPassword runs the Cart on a database URL with a password:
// the log names the database with the password hidden, and so does the
// error of a start whose database cannot be reached.
func TestRunHidesPassword(t *testing.T) {
	const password = "S3cret-Pa55word"
	st := pgtest.Settings(t)
	parsed, err := url.Parse(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password) // the test server trusts any
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	cfg := cart.DefaultConfig()
	cfg.CatalogHost = rpctest.ClosedAddr(t) // the Cart serves without its Catalog
	cfg.Database = st
	cfg.Database.URL = parsed.String()
	addr := runCartWith(t, cfg, logger)
	waitHealth(t, addr, healthpb.HealthCheckResponse_SERVING, "on its database")
	if !strings.Contains(logs.String(), "xxxxx@") || strings.Contains(logs.String(), password) {
		t.Errorf("the log does not hide the password as xxxxx:\n%s", logs)
	}

	parsed.Host = rpctest.ClosedAddr(t)
	cfg.Database.URL, cfg.Database.ConnectTimeout = parsed.String(), time.Second
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = cart.Run(testContext(t), cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "xxxxx@") {
		t.Errorf("Run without its database = %v, want an error that hides the password as xxxxx", err)
	}
}

// TestRunWaitsForDatabase starts the Cart while its database is away (a
// proxy down), as Compose or a rollout may start a service before its
// database: it waits rather than exits, logging each attempt at Warn
// without the password, and once the database is back it serves,
// SERVING. A login the server refuses (a user it does not know) ends the
// start at once, however long the wait, with an error that says so and
// hides the password.
func TestRunWaitsForDatabase(t *testing.T) {
	const password = "Wa1t-For-Me-pw"
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	parsed, err := url.Parse(proxy.URL(st.URL))
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password) // the test server trusts any
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	cfg := cart.DefaultConfig()
	cfg.CatalogHost = rpctest.ClosedAddr(t) // the Cart serves without its Catalog
	cfg.Database = st
	cfg.Database.URL, cfg.Database.ConnectTimeout, cfg.Database.Wait = parsed.String(), time.Second, 30*time.Second
	proxy.Down()
	addr := runCartWith(t, cfg, logger)
	time.Sleep(time.Second)
	if !strings.Contains(logs.String(), "database not reachable yet") || strings.Contains(logs.String(), password) {
		t.Errorf("log while the database is away: want attempts logged, the password hidden:\n%s", logs)
	}
	proxy.Up()
	waitHealth(t, addr, healthpb.HealthCheckResponse_SERVING, "once its database is back")

	parsed.User = url.UserPassword("bookshop_no_such_user", password)
	cfg.Database.URL, cfg.Database.Wait = parsed.String(), time.Minute
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = cart.Run(testContext(t), cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run with a login the server refuses took %v, want it to end at once", took)
	}
	if err == nil || !strings.Contains(err.Error(), "refuses the login (SQLSTATE 28000)") || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "xxxxx@") {
		t.Errorf("Run with a login the server refuses = %v, want an error that says so and hides the password as xxxxx", err)
	}
	t.Log(err)
}
