package promotionstest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/sqlite"
)

// Hangable is a real Promotions service, served over real gRPC on
// loopback for a test, that can be made to hang: from Hang on, each call
// of PromotionsService blocks until its context ends (the caller's
// deadline), and answers nothing, as a Promotions whose database stopped
// answering (blackholed: the connection open, no reply) does. It still
// accepts connections and calls, and its health stays SERVING, so that
// its callers' clients keep sending it calls: it is up, and useless,
// which a Promotions stopped (its port closed, refused at once) is not.
// It can be made slow too (see Slow): each call answered, late. It counts
// the calls it receives, by method (see Calls).
type Hangable struct {
	// Addr is the server's address, "127.0.0.1:PORT".
	Addr string

	hung  atomic.Bool
	delay atomic.Int64 // of each call, in nanoseconds (see Slow)
	held  atomic.Int64 // the calls it holds or held, from their arrival

	mu       sync.Mutex
	byMethod map[string]int64 // every call received, by method (see Calls)
}

// StartHangable serves a Promotions running promo, its claims in an
// SQLite database in memory, until the test ends; it answers at once
// until Hang or Slow is called.
func StartHangable(tb testing.TB, promo promotions.Promotion) *Hangable {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		tb.Fatalf("open the Promotions database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	svc, err := promotions.NewService(ctx, db, promotions.Options{Promotion: promo})
	if err != nil {
		tb.Fatalf("start Promotions: %v", err)
	}
	h := &Hangable{byMethod: make(map[string]int64)}
	h.Addr = rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		promotionsv1.RegisterPromotionsServiceServer(srv, promotions.NewServer(svc, logger))
	}, grpc.ChainUnaryInterceptor(h.intercept))
	return h
}

// Hang makes every call from now on hang until its caller gives up.
func (h *Hangable) Hang() { h.hung.Store(true) }

// Slow makes every call from now on (until Hang) wait d before it is
// served, and then served to its end even if its caller has given up
// meanwhile: as a Promotions whose database is slow, whose writes land
// after their caller stopped waiting (a claim granted that its caller
// never hears of). Slow(0) has it answer at once again.
func (h *Hangable) Slow(d time.Duration) { h.delay.Store(int64(d)) }

// Held returns how many calls it has held since Hang or Slow, counting
// those still held (their caller waiting, or their delay not over).
func (h *Hangable) Held() int64 { return h.held.Load() }

// Calls returns how many calls of PromotionsService's method (its name
// alone, "PriceCart") it has received since it started, held or not.
func (h *Hangable) Calls(method string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byMethod[method]
}

// service is the prefix of the full names of PromotionsService's methods.
var service = "/" + promotionsv1.PromotionsService_ServiceDesc.ServiceName + "/"

// intercept holds a call of PromotionsService until its context ends,
// once Hang was called; or, made slow, for the delay, and then serves it
// apart from its caller's cancellation (see Slow). The health service
// answers as ever.
func (h *Hangable) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method, ok := strings.CutPrefix(info.FullMethod, service)
	if !ok {
		return handler(ctx, req)
	}
	h.mu.Lock()
	h.byMethod[method]++
	h.mu.Unlock()
	delay := time.Duration(h.delay.Load())
	switch {
	case h.hung.Load():
		h.held.Add(1)
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	case delay > 0:
		h.held.Add(1)
		time.Sleep(delay)
		return handler(context.WithoutCancel(ctx), req)
	}
	return handler(ctx, req)
}
