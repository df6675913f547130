package promotions_test

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/health/grpc_health_v1"

	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
)

// TestRunOnPostgres runs two Promotions services, as `bookshop
// promotions` with a database URL, on one PostgreSQL database, which the
// first reaches through a proxy: they share the campaign's start and the
// customers' uses (a customer who claimed through one is refused through
// the other); while the proxy is down the first's health is NOT_SERVING,
// and once it is back, SERVING, and it confirms the claim.
func TestRunOnPostgres(t *testing.T) {
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	cfg := promotions.DefaultConfig()
	cfg.ReadyInterval = 50 * time.Millisecond
	cfg.Database = st
	cfg.Database.URL, cfg.Database.ConnectTimeout = proxy.URL(st.URL), time.Second
	firstAddr, _ := runAt(t, cfg)
	first := promotionsv1.NewPromotionsServiceClient(rpctest.Dial(t, firstAddr))
	time.Sleep(10 * time.Millisecond) // the second starts later: the campaign's start is still the first's
	cfg.Database = st
	second, _ := runWith(t, cfg)

	if a, b := offer(t, first, 0), offer(t, second, 0); !a.GetStartTime().AsTime().Equal(b.GetStartTime().AsTime()) {
		t.Errorf("the campaign starts at %v on one replica, %v on the other; want the first start recorded, shared", a.GetStartTime().AsTime(), b.GetStartTime().AsTime())
	}
	if resp := claim(t, first, 1, "checkout-a", three...); !resp.GetClaimed() {
		t.Fatalf("Claim through the first = %v, want claimed", resp)
	}
	if resp := claim(t, second, 1, "checkout-b", three...); resp.GetClaimed() {
		t.Errorf("Claim of another checkout through the second = %v, want refused: the first holds the use", resp)
	}

	ctx := testContext(t)
	health := grpc_health_v1.NewHealthClient(rpctest.Dial(t, firstAddr))
	waitHealth := func(want grpc_health_v1.HealthCheckResponse_ServingStatus, when string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: promotionsv1.PromotionsService_ServiceDesc.ServiceName})
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
	confirm(t, first, 1, "checkout-a")
	if o := offer(t, second, 1); o.GetEligible() {
		t.Errorf("Offer(1) through the second after the first confirmed = %v, want the use spent", o)
	}
}

// TestRunHidesPassword runs the Promotions service on a database URL
// with a password: the log names the database with the password hidden,
// and so does the error of a start whose database cannot be reached.
func TestRunHidesPassword(t *testing.T) {
	const password = "S3cret-Pa55word"
	st := pgtest.Settings(t)
	parsed, err := url.Parse(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password) // the test server trusts any
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	cfg := promotions.DefaultConfig()
	cfg.Database = st
	cfg.Database.URL = parsed.String()
	ctx, cancel := context.WithCancel(context.Background())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- promotions.Run(ctx, cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	}()
	offer(t, promotionsv1.NewPromotionsServiceClient(rpctest.Dial(t, lis.Addr().String())), 0)
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
	err = promotions.Run(testContext(t), cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "xxxxx@") {
		t.Errorf("Run without its database = %v, want an error that hides the password as xxxxx", err)
	}
}
