package resilience_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// replica is one Recommendations server of a test, counting its calls.
type replica struct {
	srv   *rpc.Server
	addr  string
	calls atomic.Int64
	delay atomic.Int64 // nanoseconds each call waits, for a slow replica
	rec   bookshop.Recommender
	stop  context.CancelFunc
	done  chan error
	once  sync.Once
	// flaky makes every other call fail with UNAVAILABLE; failed counts them.
	flaky  atomic.Bool
	failed atomic.Int64
}

func (r *replica) Recommend(ctx context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	n := r.calls.Add(1)
	if r.flaky.Load() && n%2 == 1 {
		r.failed.Add(1)
		return nil, bookshop.Errorf(bookshop.Unavailable, "try again")
	}
	if d := time.Duration(r.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.rec.Recommend(ctx, req)
}

// kill stops the replica at once, as a crash would: connections close and
// calls in flight fail.
func (r *replica) kill() {
	r.once.Do(func() {
		r.srv.Stop()
		r.stop()
		<-r.done
	})
}

// shutdown stops the replica gracefully, unless it was killed.
func (r *replica) shutdown() {
	r.once.Do(func() {
		r.stop()
		<-r.done
	})
}

// startReplicas starts n Recommendations replicas on loopback, until the
// test ends.
func startReplicas(t *testing.T, n int) []*replica {
	t.Helper()
	books, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	var rs []*replica
	for range n {
		r := &replica{rec: recommendations.New(books, nil), done: make(chan error, 1)}
		r.srv = rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: 2 * time.Second, Validators: recommendations.Validators()})
		recommendationspb.RegisterRecommendationsServer(r.srv, recommendations.NewServer(r, logger))
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.addr = lis.Addr().String()
		ctx, cancel := context.WithCancel(context.Background())
		r.stop = cancel
		go func() { r.done <- r.srv.Run(ctx, lis) }()
		t.Cleanup(r.shutdown)
		rs = append(rs, r)
	}
	return rs
}

// startCatalog serves the built-in catalog from an in-memory database
// over gRPC on loopback, until the test ends, and returns its address.
func startCatalog(t *testing.T) string {
	t.Helper()
	seed, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlite.Open(ctx, sqlite.Memory, seed.Books())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(catalog.NewService(db, "", 0, nil), logger))
	})
}

// site is a Marketplace in front of the replicas, balancing over them as
// the Marketplace command does, and calling a Catalog of its own.
type site struct {
	url    string
	client *http.Client
}

func startSite(t *testing.T, rs []*replica, timeout time.Duration) *site {
	t.Helper()
	var addrs []string
	for _, r := range rs {
		addrs = append(addrs, r.addr)
	}
	target, err := rpc.Target(strings.Join(addrs, ","), recommendations.DefaultPort)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := rpc.Dial(target, rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	catConn, err := rpc.Dial(startCatalog(t), rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catConn.Close() })
	handler, err := marketplace.NewServer(marketplace.Options{
		Logger:      slog.New(slog.DiscardHandler),
		Recommender: recommendationsclient.New(conn, timeout),
		Catalog:     catalogclient.New(catConn, timeout),
		Searcher:    catalogclient.New(catConn, timeout),
		Live:        recommendationsclient.NewLiveClient(conn),
		// The pages of a guest with no cart, which these tests load,
		// never call Accounts or Cart: clients of a server that has
		// neither.
		Accounts:         accountsclient.New(catConn, timeout),
		Carts:            cartclient.New(catConn, timeout),
		Inventory:        inventoryclient.New(catConn, timeout),
		Checkout:         checkoutclient.New(catConn, timeout),
		Orders:           ordersclient.New(catConn, timeout),
		Promotions:       promotionsclient.New(catConn, timeout),
		RecommendTimeout: timeout,
		RateLimit:        rate.Inf, // one client sends all the load
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &site{url: srv.URL + "/", client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}}
}

// outcome is what one page load gave.
type outcome int

const (
	served   outcome = iota // 200 with books
	degraded                // 200 with the "unavailable" note
	failed                  // anything else
)

func (s *site) load() (outcome, time.Duration) {
	start := time.Now()
	resp, err := s.client.Get(s.url)
	if err != nil {
		return failed, time.Since(start)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	switch {
	case err != nil || resp.StatusCode != http.StatusOK:
		return failed, took
	case strings.Contains(string(body), "Recommendations are unavailable right now"):
		return degraded, took
	case strings.Contains(string(body), `class="book"`):
		return served, took
	default:
		return failed, took
	}
}

// run loads the page total times from workers goroutines, calls at(i)
// before load i (from one goroutine at a time), and counts the outcomes.
func (s *site) run(total, workers int, at func(i int)) (counts [3]int, slowest time.Duration) {
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if at != nil {
					at(i)
				}
				o, took := s.load()
				mu.Lock()
				counts[o]++
				slowest = max(slowest, took)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts, slowest
}

// warm loads pages until every replica has served one, so that the
// balancer is connected to all of them.
func warm(t *testing.T, s *site, rs []*replica) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := true
		for _, r := range rs {
			all = all && r.calls.Load() > 0
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not every replica got a call within 10s")
		}
		s.load()
	}
	for _, r := range rs {
		r.calls.Store(0)
	}
}

// checkSpread fails the test unless each count is within ±25% of their
// mean, and says so either way.
func checkSpread(t *testing.T, what string, counts []int64) {
	t.Helper()
	var sum int64
	for _, c := range counts {
		sum += c
	}
	mean := float64(sum) / float64(len(counts))
	t.Logf("%s: calls per replica %v (mean %.0f)", what, counts, mean)
	for i, c := range counts {
		if dev := (float64(c) - mean) / mean; dev > 0.25 || dev < -0.25 {
			t.Errorf("%s: replica %d served %d calls, %+.0f%% off the mean %.0f; want within ±25%%", what, i, c, dev*100, mean)
		}
	}
}

// TestReplicaKilledUnderLoad loads the homepage 2,000 times at 20 at once
// over three replicas, and kills one half-way: no page load fails or loses
// its books, and the replicas share the calls before and after.
func TestReplicaKilledUnderLoad(t *testing.T) {
	rs := startReplicas(t, 3)
	s := startSite(t, rs, 2*time.Second)
	warm(t, s, rs)

	const total, half = 2000, 1000
	var before []int64
	var killOnce sync.Once
	counts, slowest := s.run(total, 20, func(i int) {
		if i == half {
			killOnce.Do(func() {
				for _, r := range rs {
					before = append(before, r.calls.Swap(0))
				}
				rs[0].kill()
			})
		}
	})
	t.Logf("page loads: %d served, %d degraded, %d failed; slowest %v", counts[served], counts[degraded], counts[failed], slowest)
	if counts[failed] != 0 || counts[degraded] != 0 {
		t.Errorf("%d page loads failed and %d lost their books while a replica died; want none", counts[failed], counts[degraded])
	}
	checkSpread(t, "before the kill", before)
	checkSpread(t, "after the kill, live replicas", []int64{rs[1].calls.Load(), rs[2].calls.Load()})
}

// TestAllReplicasDown stops every replica: pages still answer 200, with
// the note in place of the books, within the deadline.
func TestAllReplicasDown(t *testing.T) {
	rs := startReplicas(t, 2)
	s := startSite(t, rs, 500*time.Millisecond)
	warm(t, s, rs)
	for _, r := range rs {
		r.kill()
	}
	counts, slowest := s.run(100, 10, nil)
	t.Logf("page loads with every replica down: %d served, %d degraded, %d failed; slowest %v", counts[served], counts[degraded], counts[failed], slowest)
	if counts[degraded] != 100 {
		t.Errorf("with every replica down, %d of 100 page loads answered 200 with the note, want all", counts[degraded])
	}
}

// TestSlowReplicas makes every replica slower than the Marketplace's
// deadline: pages still answer, with the note, within the deadline and a
// margin.
func TestSlowReplicas(t *testing.T) {
	rs := startReplicas(t, 2)
	const timeout = 200 * time.Millisecond
	s := startSite(t, rs, timeout)
	warm(t, s, rs)
	for _, r := range rs {
		r.delay.Store(int64(5 * time.Second))
	}
	counts, slowest := s.run(60, 10, nil)
	t.Logf("page loads with slow replicas: %d served, %d degraded, %d failed; slowest %v", counts[served], counts[degraded], counts[failed], slowest)
	if counts[degraded] != 60 {
		t.Errorf("with slow replicas, %d of 60 page loads answered 200 with the note, want all", counts[degraded])
	}
	if budget := timeout + time.Second; slowest > budget {
		t.Errorf("slowest page load took %v with a %v deadline, want under %v", slowest, timeout, budget)
	}
}

// TestNotServingReplicaGetsNoCalls marks one of three replicas NOT_SERVING,
// as a replica that is starting or draining is: client-side health
// checking takes it out of rotation, and it gets no calls until it is
// SERVING again.
func TestNotServingReplicaGetsNoCalls(t *testing.T) {
	rs := startReplicas(t, 3)
	s := startSite(t, rs, 2*time.Second)
	warm(t, s, rs)

	rs[0].srv.SetServing(false)
	// The health watch tells the client at once; wait until the replica
	// has been out of rotation for 30 page loads in a row.
	deadline := time.Now().Add(10 * time.Second)
	for quiet := 0; quiet < 30; {
		if time.Now().After(deadline) {
			t.Fatal("the NOT_SERVING replica still got calls 10s later")
		}
		before := rs[0].calls.Load()
		s.load()
		if rs[0].calls.Load() == before {
			quiet++
		} else {
			quiet = 0
		}
	}
	for _, r := range rs {
		r.calls.Store(0)
	}
	counts, _ := s.run(300, 10, nil)
	if counts[served] != 300 {
		t.Errorf("%d of 300 page loads served books with one replica NOT_SERVING, want all", counts[served])
	}
	if n := rs[0].calls.Load(); n != 0 {
		t.Errorf("the NOT_SERVING replica got %d calls, want none", n)
	}
	checkSpread(t, "with one replica NOT_SERVING, the others", []int64{rs[1].calls.Load(), rs[2].calls.Load()})

	rs[0].srv.SetServing(true)
	deadline = time.Now().Add(5 * time.Second)
	for rs[0].calls.Load() == 0 && time.Now().Before(deadline) {
		s.load()
	}
	if rs[0].calls.Load() == 0 {
		t.Error("the replica got no calls within 5s of turning SERVING again")
	}
}

// TestRetryOfUnavailable checks the retry policy of the service config: a
// call that fails with UNAVAILABLE is tried again, and the page gets its
// books; and retry throttling: when most calls keep failing, the client
// stops retrying rather than double the load on a failing service.
func TestRetryOfUnavailable(t *testing.T) {
	rs := startReplicas(t, 1)
	s := startSite(t, rs, 2*time.Second)
	warm(t, s, rs)
	rs[0].flaky.Store(true) // every other call fails: each first attempt
	for i := range 4 {
		if o, _ := s.load(); o != served {
			t.Fatalf("page load %d, whose first Recommend call failed with UNAVAILABLE, got outcome %d, want its books", i, o)
		}
	}
	if got := rs[0].calls.Load(); got != 8 {
		t.Errorf("4 page loads made %d calls, want 8: each failed once and was retried", got)
	}
	// Each failure costs a token and each success gives a tenth back: below
	// half the tokens (100), retries stop: after about 55 such page loads.
	counts, _ := s.run(100, 1, nil)
	t.Logf("100 more page loads against a service failing half its calls: %d served, %d degraded; %d calls in all",
		counts[served], counts[degraded], rs[0].calls.Load())
	if counts[degraded] == 0 {
		t.Error("retries never stopped although the service kept failing; want retry throttling")
	}
	if counts[failed] != 0 {
		t.Errorf("%d page loads failed, want them served or degraded", counts[failed])
	}
}
