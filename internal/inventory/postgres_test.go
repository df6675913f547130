package inventory_test

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// TestRunOnPostgres runs two Inventories, as `bookshop inventory` with a
// database URL, on one PostgreSQL database, which the first reaches
// through a proxy: both sell from the same stock; while the proxy is down
// the first's health is NOT_SERVING and its calls are answered
// UNAVAILABLE, and once it is back, SERVING, and it sells again.
func TestRunOnPostgres(t *testing.T) {
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	cfg := inventory.DefaultConfig()
	cfg.Seed, cfg.ReadyInterval = map[int32]int{1: 2}, 50*time.Millisecond
	cfg.Database = st
	cfg.Database.URL, cfg.Database.ConnectTimeout = proxy.URL(st.URL), time.Second
	firstAddr, _ := runAt(t, cfg)
	first := inventoryv1.NewInventoryServiceClient(rpctest.Dial(t, firstAddr))
	cfg.Database = st
	second, _ := runWith(t, cfg)

	ctx := testContext(t)
	for i, client := range []inventoryv1.InventoryServiceClient{first, second, first} {
		_, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "buyer-" + string(rune('a'+i)), Lines: []*inventoryv1.StockLine{line(1, 1)}})
		if want := i < 2; (err == nil) != want {
			t.Errorf("Reserve %d = %v; want it to succeed: %v (2 copies in all)", i, err, want)
		}
	}

	health := grpc_health_v1.NewHealthClient(rpctest.Dial(t, firstAddr))
	waitHealth := func(want grpc_health_v1.HealthCheckResponse_ServingStatus, when string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: inventoryv1.InventoryService_ServiceDesc.ServiceName})
			if err == nil && resp.GetStatus() == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health %s = %v, %v; want %v", when, resp.GetStatus(), err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitHealth(grpc_health_v1.HealthCheckResponse_SERVING, "with the database")
	proxy.Down()
	waitHealth(grpc_health_v1.HealthCheckResponse_NOT_SERVING, "without the database")
	// A call that reaches the replica meanwhile is told UNAVAILABLE, which
	// a caller retries, not INTERNAL.
	if _, err := first.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "buyer-away", Lines: []*inventoryv1.StockLine{line(1, 1)}}); status.Code(err) != codes.Unavailable {
		t.Errorf("Reserve without the database = %v, want UNAVAILABLE", err)
	}
	if _, err := first.GetStock(ctx, &inventoryv1.GetStockRequest{BookIds: []int32{1}}); status.Code(err) != codes.Unavailable {
		t.Errorf("GetStock without the database = %v, want UNAVAILABLE", err)
	}
	proxy.Up()
	waitHealth(grpc_health_v1.HealthCheckResponse_SERVING, "once the database is back")
	if _, err := first.SetStock(ctx, &inventoryv1.SetStockRequest{BookId: 1, OnHand: 3}); err != nil {
		t.Errorf("SetStock once the database is back: %v", err)
	}
	if _, err := second.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "buyer-d", Lines: []*inventoryv1.StockLine{line(1, 1)}}); err != nil {
		t.Errorf("Reserve of the copy added through the other replica: %v", err)
	}
}

// TestRunHidesPassword runs the Inventory on a database URL with a
// password: the log names the database with the password hidden, and so
// does the error of a start whose database cannot be reached.
func TestRunHidesPassword(t *testing.T) {
	const password = "S3cret-Pa55word"
	st := pgtest.Settings(t)
	parsed, err := url.Parse(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password) // the test server trusts any
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	cfg := inventory.DefaultConfig()
	cfg.Database = st
	cfg.Database.URL = parsed.String()
	ctx, cancel := context.WithCancel(context.Background())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- inventory.Run(ctx, cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	}()
	client := inventoryv1.NewInventoryServiceClient(rpctest.Dial(t, lis.Addr().String()))
	if _, err := client.GetStock(testContext(t), &inventoryv1.GetStockRequest{BookIds: []int32{1}}); err != nil {
		t.Errorf("GetStock: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if !strings.Contains(logs.String(), "xxxxx@") || strings.Contains(logs.String(), password) {
		t.Errorf("the log does not hide the password as xxxxx:\n%s", logs)
	}

	parsed.Host = rpctest.ClosedAddr(t)
	cfg.Database.URL, cfg.Database.ConnectTimeout = parsed.String(), time.Second
	lis, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = inventory.Run(testContext(t), cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "xxxxx@") {
		t.Errorf("Run without its database = %v, want an error that hides the password as xxxxx", err)
	}
}
