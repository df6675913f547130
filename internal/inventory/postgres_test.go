package inventory_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/health/grpc_health_v1"

	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// TestRunOnPostgres runs two Inventories, as `bookshop inventory` with a
// database URL, on one PostgreSQL database, which the first reaches
// through a proxy: both sell from the same stock; while the proxy is down
// the first's health is NOT_SERVING, and once it is back, SERVING, and it
// sells again.
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
	proxy.Up()
	waitHealth(grpc_health_v1.HealthCheckResponse_SERVING, "once the database is back")
	if _, err := first.SetStock(ctx, &inventoryv1.SetStockRequest{BookId: 1, OnHand: 3}); err != nil {
		t.Errorf("SetStock once the database is back: %v", err)
	}
	if _, err := second.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "buyer-d", Lines: []*inventoryv1.StockLine{line(1, 1)}}); err != nil {
		t.Errorf("Reserve of the copy added through the other replica: %v", err)
	}
}
