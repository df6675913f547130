package orders_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/orders/postgres"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// serveEnv, when set to a database (a file, or a postgres:// URL), makes
// the test binary run the Orders service on it instead of the tests (see
// TestMain): the process
// that TestKillAtAnyPoint kills. killAfterEnv, when set to a number n as
// well, makes that process kill itself (SIGKILL) as soon as the n-th
// order it records is committed, before it answers: a fault point that
// only this test binary has.
const (
	serveEnv     = "BOOKSHOP_ORDERS_TEST_SERVE_DB"
	killAfterEnv = "BOOKSHOP_ORDERS_TEST_KILL_AFTER"
)

func TestMain(m *testing.M) {
	if db := os.Getenv(serveEnv); db != "" {
		os.Exit(rpctest.ServeChild(func(ctx context.Context, lis net.Listener) error {
			return serve(ctx, lis, db, os.Getenv(killAfterEnv))
		}))
	}
	os.Exit(m.Run())
}

// serve runs the Orders service on db (a file, or a postgres:// URL) and
// lis until ctx is done or the process is killed: as orders.Run does, or,
// with killAfter (a number n), over a store that kills the process once
// its n-th order is committed.
func serve(ctx context.Context, lis net.Listener, db, killAfter string) error {
	deps := process.Deps{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), DrainTimeout: time.Second, Listener: lis}
	onPostgres := strings.HasPrefix(db, "postgres://")
	if killAfter == "" {
		cfg := orders.DefaultConfig()
		cfg.DB = db
		if onPostgres {
			cfg.Database.URL = db
		}
		return orders.Run(ctx, cfg, deps)
	}
	n, err := strconv.Atoi(killAfter)
	if err != nil {
		return err
	}
	var store orders.Store
	if onPostgres {
		st := pgdb.DefaultSettings()
		st.URL = db
		store, err = postgres.Open(ctx, st)
	} else {
		store, err = sqlite.Open(ctx, db)
	}
	if err != nil {
		return err
	}
	srv, err := orders.NewGRPCServer(orders.NewService(&killingStore{Store: store, left: n}, orders.Options{Logger: deps.Logger}), deps)
	if err != nil {
		return err
	}
	return srv.Run(ctx, lis)
}

// killingStore is the orders database of a process that kills itself
// with SIGKILL when its left-th order is committed: between the commit
// and the answer.
type killingStore struct {
	orders.Store
	mu   sync.Mutex
	left int
}

func (s *killingStore) Create(ctx context.Context, key string, fp [sha256.Size]byte, o bookshop.Order) (bookshop.Order, [sha256.Size]byte, bool, error) {
	got, gotFP, created, err := s.Store.Create(ctx, key, fp, o)
	s.mu.Lock()
	defer s.mu.Unlock()
	if created {
		if s.left--; s.left == 0 {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	return got, gotFP, created, err
}

// startServer starts this test binary as an Orders service on db (a file,
// or a postgres:// URL), with env added to its environment, and returns a
// client of it and the process.
func startServer(tb testing.TB, db string, env ...string) (ordersv1.OrdersServiceClient, *rpctest.Child) {
	tb.Helper()
	proc, addr := rpctest.StartChild(tb, append([]string{serveEnv + "=" + db}, env...)...)
	return ordersv1.NewOrdersServiceClient(rpctest.Dial(tb, addr)), proc
}

// TestKillAtAnyPoint kills the Orders process with SIGKILL while 8 clients
// create orders as fast as it takes them, three times, and restarts it on
// the same file each time. After each restart, every order acknowledged
// is there as it was acknowledged; a retry of every key tried, answered
// or not, returns one order, the same as before when it was answered; and
// the database holds exactly one order for each key, each whole (its
// lines add up to its totals): no order lost, none recorded twice, none
// half-written.
func TestKillAtAnyPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	testKillAtAnyPoint(t, filepath.Join(t.TempDir(), "orders.db"))
}

// TestKillAtAnyPointOnPostgres is TestKillAtAnyPoint with the orders in
// PostgreSQL: what a killed replica acknowledged was committed, and no
// order is lost, recorded twice or half-written.
func TestKillAtAnyPointOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	testKillAtAnyPoint(t, pgtest.NewDatabase(t))
}

// testKillAtAnyPoint is TestKillAtAnyPoint on db, a file or a postgres://
// URL.
func testKillAtAnyPoint(t *testing.T, db string) {
	var (
		mu    sync.Mutex
		acked = map[string]*ordersv1.Order{}              // key: the order its creation answered
		tried = map[string]*ordersv1.CreateOrderRequest{} // key: its request, answered or not
	)
	client, proc := startServer(t, db)
	for round := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var (
			wg       sync.WaitGroup
			answered atomic.Int64
		)
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					key := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					req := &ordersv1.CreateOrderRequest{IdempotencyKey: key, Order: ordersclient.OrderToProto(newOrder(int32(w+1), line(int32(i%40+1), 1299, i%3+1), line(99, 500, 1)))}
					mu.Lock()
					tried[key] = req
					mu.Unlock()
					resp, err := client.CreateOrder(ctx, req)
					if err != nil {
						return // the process is gone
					}
					mu.Lock()
					acked[key] = resp.GetOrder()
					mu.Unlock()
					answered.Add(1)
				}
			})
		}
		for answered.Load() < 40 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		if err := proc.Kill(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		cancel()
		t.Logf("round %d: killed after %d orders answered; %d keys tried in all, %d answered", round+1, answered.Load(), len(tried), len(acked))

		client, proc = startServer(t, db)
		checkAfterKill(t, client, tried, acked)
	}
}

// checkAfterKill checks the orders of a restarted Orders service against
// the keys tried and the orders acknowledged before it was killed.
func checkAfterKill(t *testing.T, client ordersv1.OrdersServiceClient, tried map[string]*ordersv1.CreateOrderRequest, acked map[string]*ordersv1.Order) {
	t.Helper()
	ctx := testContext(t)
	before := len(acked)
	t.Logf("after the restart: %d orders for %d keys answered, %d tried", len(listAll(t, client)), before, len(tried))
	for key, o := range acked {
		got, err := client.GetOrder(ctx, &ordersv1.GetOrderRequest{CustomerId: o.GetCustomerId(), OrderId: o.GetId()})
		if err != nil || !proto.Equal(got.GetOrder(), o) {
			t.Fatalf("after the kill, GetOrder(%s) of key %s = %v, %v\nwant %v", o.GetId(), key, got.GetOrder(), err, o)
		}
	}
	for key, req := range tried {
		resp, err := client.CreateOrder(ctx, req)
		if err != nil {
			t.Fatalf("after the kill, CreateOrder(%s) again: %v", key, err)
		}
		if o, ok := acked[key]; ok && !proto.Equal(resp.GetOrder(), o) {
			t.Fatalf("after the kill, CreateOrder(%s) again = %v\nwant the order it answered before, %v", key, resp.GetOrder(), o)
		}
		acked[key] = resp.GetOrder()
	}
	seen := listAll(t, client)
	if len(seen) != len(tried) {
		t.Errorf("after the kill, %d orders for %d keys: want one order for each key", len(seen), len(tried))
	}
	for key, o := range acked {
		if !seen[o.GetId()] {
			t.Errorf("the order %s of key %s is not listed", o.GetId(), key)
		}
	}
}

// listAll returns the ids of every order, listed by ListAllOrders, after
// checking that each is whole and listed once.
func listAll(t *testing.T, client ordersv1.OrdersServiceClient) map[string]bool {
	t.Helper()
	ctx := testContext(t)
	seen := map[string]bool{}
	for page := ""; ; {
		resp, err := client.ListAllOrders(ctx, &ordersv1.ListAllOrdersRequest{PageSize: orders.MaxAllPageSize, PageToken: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.GetOrders() {
			if seen[m.GetId()] {
				t.Fatalf("order %s listed twice", m.GetId())
			}
			seen[m.GetId()] = true
			o := ordersclient.OrderFromProto(m)
			if _, err := orders.Checked(o); err != nil {
				t.Errorf("order %s is not whole after the kill: %v", m.GetId(), err)
			}
		}
		if page = resp.GetNextPageToken(); page == "" {
			return seen
		}
	}
}

// TestKillAfterCommit kills the Orders process between the commit of an
// order and its answer, the moment a lost answer is the most likely to
// make a client retry: the caller hears UNAVAILABLE, and after a restart
// its retry with the key returns the order that was recorded, and records
// no other.
func TestKillAfterCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	testKillAfterCommit(t, filepath.Join(t.TempDir(), "orders.db"))
}

// TestKillAfterCommitOnPostgres is TestKillAfterCommit with the orders in
// PostgreSQL.
func TestKillAfterCommitOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	testKillAfterCommit(t, pgtest.NewDatabase(t))
}

// testKillAfterCommit is TestKillAfterCommit on db, a file or a
// postgres:// URL.
func testKillAfterCommit(t *testing.T, db string) {
	ctx := testContext(t)
	client, proc := startServer(t, db, killAfterEnv+"=3")
	var answered []*ordersv1.Order
	for i := range 3 {
		resp, err := client.CreateOrder(ctx, createRequest(fmt.Sprintf("k%d", i), 7))
		if i < 2 {
			if err != nil {
				t.Fatalf("CreateOrder(k%d): %v", i, err)
			}
			answered = append(answered, resp.GetOrder())
			continue
		}
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("CreateOrder(k2), killed after its commit: %v, want UNAVAILABLE", err)
		}
	}
	proc.Wait()

	client, _ = startServer(t, db)
	recorded := listAll(t, client)
	if len(recorded) != 3 {
		t.Fatalf("after the restart, %d orders; want 3, the last committed though not answered", len(recorded))
	}
	retry, err := client.CreateOrder(ctx, createRequest("k2", 7))
	if err != nil {
		t.Fatalf("CreateOrder(k2) again: %v", err)
	}
	if !recorded[retry.GetOrder().GetId()] {
		t.Errorf("the retry of k2 returned %s, which was not recorded before it", retry.GetOrder().GetId())
	}
	for _, o := range answered {
		if o.GetId() == retry.GetOrder().GetId() {
			t.Errorf("the retry of k2 returned the order of another key, %s", o.GetId())
		}
	}
	if n := len(listAll(t, client)); n != 3 {
		t.Errorf("after the retry, %d orders; want still 3", n)
	}
}
