package checkout_test

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/checkout"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// TestRunOnPostgres runs the Checkout, as `bookshop checkout` with a
// database URL (with a password), its saga log in PostgreSQL reached
// through a proxy: the log names the database with the password hidden;
// while the proxy is down its health is NOT_SERVING, and once it is back,
// SERVING; and a start whose database cannot be reached fails with an
// error that hides the password.
func TestRunOnPostgres(t *testing.T) {
	const password = "S3cret-Pa55word"
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	parsed, err := url.Parse(proxy.URL(st.URL))
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password) // the test server trusts any
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	cfg := checkout.DefaultConfig()
	cfg.Database = st
	cfg.Database.URL, cfg.Database.ConnectTimeout = parsed.String(), time.Second
	cfg.ReadyInterval = 50 * time.Millisecond
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- checkout.Run(ctx, cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	}()
	health := grpc_health_v1.NewHealthClient(rpctest.Dial(t, lis.Addr().String()))
	waitHealth := func(want grpc_health_v1.HealthCheckResponse_ServingStatus, when string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := health.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: checkoutv1.CheckoutService_ServiceDesc.ServiceName})
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
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if !strings.Contains(logs.String(), "xxxxx@") || strings.Contains(logs.String(), password) {
		t.Errorf("the log does not hide the password as xxxxx:\n%s", logs)
	}

	parsed.Host = rpctest.ClosedAddr(t)
	cfg.Database.URL = parsed.String()
	lis, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = checkout.Run(testContext(t), cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "xxxxx@") {
		t.Errorf("Run without its database = %v, want an error that hides the password as xxxxx", err)
	}
}
