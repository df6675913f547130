package inventory_test

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

	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// childDB, set in a test binary's environment, makes it an Inventory
// with its database at the value (a file, or a postgres:// URL), for the
// tests that kill it: it prints "listening on ADDR" and serves until it is
// killed, or stopped by SIGTERM.
const childDB = "BOOKSHOP_INVENTORY_TEST_CHILD_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(childDB); path != "" {
		os.Exit(rpctest.ServeChild(func(ctx context.Context, lis net.Listener) error {
			cfg := inventory.DefaultConfig()
			cfg.DB, cfg.Seed = path, nil
			if strings.HasPrefix(path, "postgres://") {
				cfg.Database.URL = path
			}
			return inventory.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
		}))
	}
	os.Exit(m.Run())
}

// startChild runs the test binary as an Inventory on the database at
// path (a file, or a postgres:// URL), and returns it and a client of it. The process is killed when the
// test ends.
func startChild(tb testing.TB, path string) (*rpctest.Child, inventoryv1.InventoryServiceClient) {
	tb.Helper()
	proc, addr := rpctest.StartChild(tb, childDB+"="+path)
	return proc, inventoryv1.NewInventoryServiceClient(rpctest.Dial(tb, addr))
}

// buyer is one checkout of TestKilled: it reserves one copy of each of
// two books under key, then commits (or, for one in three, releases).
type buyer struct {
	key     string
	release bool
	// What the Inventory acknowledged before the kill: the reservation's
	// id, and whether its commit or release was answered.
	id    string
	ended bool
}

// The two books of TestKilled, and the copies each starts with.
const (
	bookA, bookB = 1000, 1001
	startCopies  = 300
)

// TestKilled kills the Inventory's process (SIGKILL) at a random point of
// a load of concurrent checkouts, several times over, and starts it again
// on its file each time: what it acknowledged is there (the same
// reservation for each key, each commit and release), nothing is half
// done (a reservation of two books holds, and a commit takes, both or
// neither), and once every checkout is finished the stock is exactly what
// the commits took, with nothing held.
func TestKilled(t *testing.T) { testKilled(t, filepath.Join(t.TempDir(), "inventory.db")) }

// TestKilledOnPostgres is TestKilled with the stock in PostgreSQL: what a
// killed replica acknowledged was committed, and nothing is half done.
func TestKilledOnPostgres(t *testing.T) { testKilled(t, pgtest.NewDatabase(t)) }

// testKilled is TestKilled on the database at path.
func testKilled(t *testing.T, path string) {
	seed := rand.Uint64()
	rnd := rand.New(rand.NewPCG(seed, seed))
	t.Logf("seed %d", seed)
	lines := []*inventoryv1.StockLine{line(bookA, 1), line(bookB, 1)}

	proc, client := startChild(t, path)
	setStock(t, client, bookA, startCopies, bookB, startCopies)
	var buyers []*buyer
	for round := range 4 {
		const workers = 24
		// Kill after a random number of acknowledged calls: each buyer
		// makes two.
		killAfter := int64(1 + rnd.IntN(2*workers-1))
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
		for i := range workers {
			b := &buyer{key: fmt.Sprintf("round-%d-buyer-%d", round, i), release: i%3 == 0}
			buyers = append(buyers, b)
			wg.Go(func() {
				resp, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: b.key, Lines: lines})
				if err != nil {
					return
				}
				b.id = resp.GetReservation().GetId()
				ack()
				if b.release {
					_, err = client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: b.id})
				} else {
					_, err = client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: b.id})
				}
				if err == nil {
					b.ended = true
					ack()
				}
			})
		}
		wg.Wait()
		cancel()
		killed.Do(func() { _ = proc.Kill() })
		t.Logf("round %d: killed after %d acknowledged calls, of %d at most", round, acks.Load(), 2*workers)

		proc, client = startChild(t, path)
		checkAtomic(t, client)
	}

	// Finish every checkout as a client would after the outage: retry its
	// Reserve (the same key), then its commit or release.
	ctx := testContext(t)
	commits := 0
	for _, b := range buyers {
		resp, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: b.key, Lines: lines})
		if err != nil {
			t.Fatalf("Reserve(%s) retried: %v", b.key, err)
		}
		r := resp.GetReservation()
		if b.id != "" && r.GetId() != b.id {
			t.Errorf("Reserve(%s) retried = %s, want %s, acknowledged before the kill", b.key, r.GetId(), b.id)
		}
		switch {
		case b.ended && b.release && r.GetState() != released:
			t.Errorf("%s: acknowledged released, now %v", b.key, r.GetState())
		case b.ended && !b.release && r.GetState() != committed:
			t.Errorf("%s: acknowledged committed, now %v", b.key, r.GetState())
		}
		if b.release {
			_, err = client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: r.GetId()})
		} else {
			_, err = client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: r.GetId()})
			commits++
		}
		if err != nil {
			t.Errorf("%s: finishing %s: %v", b.key, r.GetId(), err)
		}
	}
	left := int32(startCopies - commits)
	wantStock(t, client, stock(bookA, left, left, 0), stock(bookB, left, left, 0))
}

// checkAtomic fails the test unless the two books of TestKilled have the
// same stock: every reservation holds one of each, and every commit takes
// one of each, so that a change done in part would show.
func checkAtomic(tb testing.TB, client inventoryv1.InventoryServiceClient) {
	tb.Helper()
	resp, err := client.GetStock(testContext(tb), &inventoryv1.GetStockRequest{BookIds: []int32{bookA, bookB}})
	if err != nil {
		tb.Fatalf("GetStock after a restart: %v", err)
	}
	a, b := resp.GetStock()[0], resp.GetStock()[1]
	if a.GetOnHand() != b.GetOnHand() || a.GetHeld() != b.GetHeld() {
		tb.Errorf("after a restart, book %d has %d on hand and %d held, book %d %d and %d: a change was done in part",
			bookA, a.GetOnHand(), a.GetHeld(), bookB, b.GetOnHand(), b.GetHeld())
	}
}
