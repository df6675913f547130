package payments_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

var (
	testContext = rpctest.Context
	discard     = slog.New(slog.DiscardHandler)
)

// eur returns an amount in euro cents.
func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// card returns a card of number, good until December three years from
// now, with a CVC of the brand's length.
func card(number string) bookshop.Card {
	c := bookshop.Card{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "321", Name: "Ada Lovelace"}
	if paymentsclient.Brand(number[:2]) == paymentsclient.BrandAmex {
		c.CVC = "4321"
	}
	return c
}

// clock is a clock that a test sets.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// newService returns a Payments service over an in-memory database, made
// with opts (a logger that discards when opts has none).
func newService(tb testing.TB, opts payments.Options) *payments.Service {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), sqlite.Memory)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if opts.Logger == nil {
		opts.Logger = discard
	}
	return payments.NewService(db, opts)
}

// syncBuffer is a bytes.Buffer that a logger and a test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a Payments service run as its command runs it (payments.Run).
type running struct {
	addr   string
	health string // the address of the health port
	client *paymentsclient.Client
	raw    paymentsv1.PaymentsServiceClient
	stop   func() error // stops it, once, and returns Run's error
}

// runPayments runs the Payments service with cfg and deps (a logger that
// discards, the listeners and the drain timeout filled in when unset)
// until the test ends or stop is called, and waits until it serves.
func runPayments(tb testing.TB, cfg payments.Config, deps process.Deps) *running {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	health, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if deps.Logger == nil {
		deps.Logger = discard
	}
	deps.Listener, deps.HealthListener, deps.DrainTimeout = lis, health, time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- payments.Run(ctx, cfg, deps) }()
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("payments.Run: %v", err)
		}
	})
	waitServing(tb, health.Addr().String())
	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &running{
		addr:   lis.Addr().String(),
		health: health.Addr().String(),
		client: paymentsclient.New(conn, 5*time.Second),
		raw:    paymentsv1.NewPaymentsServiceClient(rpctest.Dial(tb, lis.Addr().String())),
		stop:   stop,
	}
}

// waitServing waits until the health service at addr says that
// PaymentsService is SERVING.
func waitServing(tb testing.TB, addr string) {
	tb.Helper()
	health := healthpb.NewHealthClient(rpctest.Dial(tb, addr))
	ctx := testContext(tb)
	for {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: paymentsv1.PaymentsService_ServiceDesc.ServiceName})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("PaymentsService at %s never SERVING: %v", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// counter returns the value of the metric line want ("name{labels}") in
// m's exposition, or -1 when there is none.
func counter(tb testing.TB, m *telemetry.Metrics, want string) float64 {
	tb.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && name == want {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				tb.Fatalf("metric %s: %v", want, err)
			}
			return v
		}
	}
	return -1
}
