package promotions_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
)

// childDB, set in a test binary's environment, makes it a Promotions
// service with its database at the value (a file, or a postgres:// URL),
// for the tests that kill it: it prints "listening on ADDR" and serves
// until it is killed, or stopped by SIGTERM.
const childDB = "BOOKSHOP_PROMOTIONS_TEST_CHILD_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(childDB); path != "" {
		os.Exit(rpctest.ServeChild(func(ctx context.Context, lis net.Listener) error {
			cfg := promotions.DefaultConfig()
			cfg.DB, cfg.Promotion = path, promotions.BuyTwoGetOneFree()
			if strings.HasPrefix(path, "postgres://") {
				cfg.Database.URL = path
			}
			return promotions.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
		}))
	}
	os.Exit(m.Run())
}

// startChild runs the test binary as a Promotions service on the
// database at path (a file, or a postgres:// URL), and returns it and a
// client of it. The process is killed when the test ends.
func startChild(tb testing.TB, path string) (*rpctest.Child, promotionsv1.PromotionsServiceClient) {
	tb.Helper()
	proc, addr := rpctest.StartChild(tb, childDB+"="+path)
	return proc, promotionsv1.NewPromotionsServiceClient(rpctest.Dial(tb, addr))
}

// shopper is one customer of TestKilled, and what the service
// acknowledged to their checkouts before the kill.
type shopper struct {
	id    int32
	round string // "round-N": their checkouts' keys are round-N-checkout-0 to 3
	// release: each checkout that gets the use fails, and releases it,
	// so that another may get it; otherwise the first places its order.
	release bool
	mu      sync.Mutex
	winners []string        // the keys whose Claim answered claimed, in order
	ended   map[string]bool // those whose Confirm or Release was answered
}

// TestKilled kills the Promotions service's process (SIGKILL) at a random
// point of a load of concurrent checkouts, each customer's four at once,
// several times over, and starts it again on its file each time. Of the
// checkouts of a customer whose first winner places its order, at most
// one is ever given the discount; what was acknowledged is there (a claim
// answered still holds the use, a confirmation keeps it spent); and the
// checkouts retried after the outage with their keys finish as they
// would have (a confirmation goes through; releases leave the use free).
func TestKilled(t *testing.T) { testKilled(t, filepath.Join(t.TempDir(), "promotions.db")) }

// TestKilledOnPostgres is TestKilled with the claims in PostgreSQL: what
// a killed replica acknowledged was committed, and a customer's use is
// still given once.
func TestKilledOnPostgres(t *testing.T) { testKilled(t, pgtest.NewDatabase(t)) }

// testKilled is TestKilled on the database at path.
func testKilled(t *testing.T, path string) {
	seed := rand.Uint64()
	rnd := rand.New(rand.NewPCG(seed, seed))
	t.Logf("seed %d", seed)

	proc, client := startChild(t, path)
	for round := range 4 {
		const customers, checkouts = 8, 4
		// Kill after a random number of acknowledged calls: each customer
		// has four claims and one confirmation or release.
		killAfter := int64(1 + rnd.IntN(customers*(checkouts+1)-1))
		var (
			acks   atomic.Int64
			killed sync.Once
			wg     sync.WaitGroup
		)
		ack := func() {
			if acks.Add(1) == killAfter {
				killed.Do(func() { _ = proc.Kill() })
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		shoppers := make([]*shopper, customers)
		for c := range shoppers {
			s := &shopper{id: int32(1000*(round+1) + c), round: fmt.Sprintf("round-%d", round), release: c%3 == 0, ended: make(map[string]bool)}
			shoppers[c] = s
			for k := range checkouts {
				key := fmt.Sprintf("round-%d-checkout-%d", round, k)
				wg.Go(func() {
					resp, err := client.Claim(ctx, &promotionsv1.ClaimRequest{CustomerId: s.id, IdempotencyKey: key, Lines: three})
					if err != nil {
						return
					}
					ack()
					if !resp.GetClaimed() {
						return
					}
					s.mu.Lock()
					s.winners = append(s.winners, key)
					s.mu.Unlock()
					if s.release {
						_, err = client.Release(ctx, &promotionsv1.ReleaseRequest{CustomerId: s.id, IdempotencyKey: key})
					} else {
						_, err = client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: s.id, IdempotencyKey: key})
					}
					if err == nil {
						s.mu.Lock()
						s.ended[key] = true
						s.mu.Unlock()
						ack()
					}
				})
			}
		}
		wg.Wait()
		cancel()
		killed.Do(func() { _ = proc.Kill() })
		t.Logf("round %d: killed after %d acknowledged calls, of %d at most", round, acks.Load(), customers*(checkouts+1))

		proc, client = startChild(t, path)
		for _, s := range shoppers {
			checkAfterKill(t, client, s)
		}
	}
}

// checkAfterKill checks, after a restart, what the service acknowledged
// to s's checkouts before the kill, and then finishes them as their
// retries would.
func checkAfterKill(tb testing.TB, client promotionsv1.PromotionsServiceClient, s *shopper) {
	tb.Helper()
	ctx := testContext(tb)
	probe := func() bool {
		resp, err := client.Claim(ctx, &promotionsv1.ClaimRequest{CustomerId: s.id, IdempotencyKey: "probe", Lines: three})
		if err != nil {
			tb.Fatalf("Claim(%d, probe) after a restart: %v", s.id, err)
		}
		return resp.GetClaimed()
	}
	if s.release {
		// Each checkout that got the use released it; others may have got
		// it after. A checkout whose answer was lost to the kill releases
		// with its key, as it would on failure: once all four have, the
		// use is free, whatever the kill interrupted.
		for k := range 4 {
			key := fmt.Sprintf("%s-checkout-%d", s.round, k)
			if _, err := client.Release(ctx, &promotionsv1.ReleaseRequest{CustomerId: s.id, IdempotencyKey: key}); err != nil {
				tb.Errorf("customer %d: Release(%s) retried after a restart: %v", s.id, key, err)
			}
		}
		if !probe() {
			tb.Errorf("customer %d: the use is not free after a restart and every checkout's release", s.id)
		}
		return
	}
	switch {
	case len(s.winners) > 1:
		tb.Errorf("customer %d: %d checkouts were given the discount (%v), want at most 1", s.id, len(s.winners), s.winners)
	case len(s.winners) == 0:
		// Nothing acknowledged: a claim made but not answered may hold
		// the use; no use was spent.
		if o := offer(tb, client, s.id); !o.GetEligible() {
			tb.Errorf("customer %d: spent after a restart, though no claim was answered", s.id)
		}
	default:
		key := s.winners[0]
		if !s.ended[key] {
			// Claimed, its confirmation not answered: the claim still holds
			// the use (or is confirmed); a retry of the key finishes it.
			if probe() {
				tb.Errorf("customer %d: another checkout got the discount while %s's claim was acknowledged", s.id, key)
			}
			if _, err := client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: s.id, IdempotencyKey: key}); err != nil {
				tb.Errorf("customer %d: Confirm(%s) retried after a restart: %v", s.id, key, err)
			}
		}
		if o := offer(tb, client, s.id); o.GetEligible() {
			tb.Errorf("customer %d: the use confirmed by %s is not spent after a restart", s.id, key)
		}
		if probe() {
			tb.Errorf("customer %d: another checkout got the discount after the use was confirmed", s.id)
		}
	}
}
