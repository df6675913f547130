package inventoryclient_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// asking is a StockReader that passes each call on to a real Inventory's
// client, and remembers the ids each asked about.
type asking struct {
	client *inventoryclient.Client

	mu    sync.Mutex
	calls [][]int32
}

func (a *asking) Stock(ctx context.Context, ids []int32) (map[int32]int, error) {
	a.mu.Lock()
	a.calls = append(a.calls, slices.Clone(ids))
	a.mu.Unlock()
	return a.client.Stock(ctx, ids)
}

// asked returns the ids of each call since the last asked.
func (a *asking) asked() [][]int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	calls := a.calls
	a.calls = nil
	return calls
}

// stocked returns a real Inventory's client with books 5 and 6 stocked
// 12 and 1, and an asking reader of it.
func stocked(t *testing.T) (*inventoryclient.Client, *asking) {
	t.Helper()
	client := newClient(t)
	ctx := rpctest.Context(t)
	for id, n := range map[int32]int{5: 12, 6: 1} {
		if err := client.SetStock(ctx, id, n); err != nil {
			t.Fatal(err)
		}
	}
	return client, &asking{client: client}
}

// The StockCache asks only about the books it has not heard of, each
// once, and says 0 for a book the Inventory does not know.
func TestStockCacheAsksOnlyForWhatItLacks(t *testing.T) {
	_, src := stocked(t)
	cache := inventoryclient.NewStockCache(src, 100, time.Hour)
	ctx := rpctest.Context(t)
	for _, step := range []struct {
		ids  []int32
		want map[int32]int
		ask  [][]int32
	}{
		{[]int32{5, 6, 5}, map[int32]int{5: 12, 6: 1}, [][]int32{{5, 6}}},
		{[]int32{6, 7}, map[int32]int{6: 1, 7: 0}, [][]int32{{7}}},
		{[]int32{7, 5, 6}, map[int32]int{5: 12, 6: 1, 7: 0}, nil},
		{nil, map[int32]int{}, nil},
	} {
		got, err := cache.Stock(ctx, step.ids)
		if err != nil {
			t.Fatalf("Stock(%v): %v", step.ids, err)
		}
		if !maps.Equal(got, step.want) {
			t.Errorf("Stock(%v) = %v, want %v", step.ids, got, step.want)
		}
		if asked := src.asked(); !slices.EqualFunc(asked, step.ask, slices.Equal) {
			t.Errorf("Stock(%v) asked the Inventory %v, want %v", step.ids, asked, step.ask)
		}
	}
}

// A count is kept for the TTL, however the stock changes meanwhile, and
// asked again after it.
func TestStockCacheTTL(t *testing.T) {
	client, src := stocked(t)
	const ttl = 300 * time.Millisecond
	cache := inventoryclient.NewStockCache(src, 100, ttl)
	ctx := rpctest.Context(t)
	if got, err := cache.Stock(ctx, []int32{6}); err != nil || got[6] != 1 {
		t.Fatalf("Stock(6) = %v, %v; want 1", got, err)
	}
	if _, err := client.Reserve(ctx, "take-the-last", []bookshop.StockLine{{BookID: 6, Quantity: 1}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := cache.Stock(ctx, []int32{6}); err != nil || got[6] != 1 {
		t.Errorf("Stock(6) within the TTL = %v, %v; want the count kept, 1", got, err)
	}
	time.Sleep(ttl + 10*time.Millisecond)
	if got, err := cache.Stock(ctx, []int32{6}); err != nil || got[6] != 0 {
		t.Errorf("Stock(6) after the TTL = %v, %v; want the Inventory's 0", got, err)
	}
	if n := len(src.asked()); n != 2 {
		t.Errorf("the Inventory was asked %d times, want 2 (once, and again after the TTL)", n)
	}
}

// A full StockCache makes room, and answers right past its size.
func TestStockCacheCap(t *testing.T) {
	_, src := stocked(t)
	cache := inventoryclient.NewStockCache(src, 2, time.Hour)
	ctx := rpctest.Context(t)
	for _, ids := range [][]int32{{5, 6}, {7}, {5, 8, 9}} {
		if _, err := cache.Stock(ctx, ids); err != nil {
			t.Fatal(err)
		}
		if cache.Len() > 2 {
			t.Fatalf("after Stock(%v) the cache holds %d counts, past its 2", ids, cache.Len())
		}
	}
	got, err := cache.Stock(ctx, []int32{5, 6, 7})
	if want := map[int32]int{5: 12, 6: 1, 7: 0}; err != nil || !maps.Equal(got, want) {
		t.Errorf("Stock past the cap = %v, %v; want %v", got, err, want)
	}
}

// The Inventory's refusal is the StockCache's, and nothing of it is kept.
func TestStockCacheErrors(t *testing.T) {
	_, src := stocked(t)
	cache := inventoryclient.NewStockCache(src, 100, time.Hour)
	ctx := rpctest.Context(t)
	if _, err := cache.Stock(ctx, []int32{5, 0}); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("Stock(5, 0) = %v, want Invalid", err)
	}
	if cache.Len() != 0 {
		t.Errorf("a refused call left %d counts in the cache", cache.Len())
	}
}

// WithStockCache keeps the counts its quotes read, and sends what changes
// the stock to the Inventory every time, learning the counts a sold-out
// refusal gives; with a TTL of 0 it keeps none.
func TestWithStockCache(t *testing.T) {
	client, _ := stocked(t)
	ctx := rpctest.Context(t)
	cached, uncached := inventoryclient.WithStockCache(client, time.Hour), inventoryclient.WithStockCache(client, 0)
	for _, c := range []*inventoryclient.CachedStock{cached, uncached} {
		if got, err := c.Stock(ctx, []int32{5}); err != nil || got[5] != 12 {
			t.Fatalf("Stock(5) = %v, %v; want 12", got, err)
		}
	}
	if _, err := cached.Reserve(ctx, "two-of-five", []bookshop.StockLine{{BookID: 5, Quantity: 2}}, time.Minute); err != nil {
		t.Fatalf("Reserve through the cache: %v", err)
	}
	if got, _ := cached.Stock(ctx, []int32{5}); got[5] != 12 {
		t.Errorf("Stock(5) kept = %d, want 12 (the count read before)", got[5])
	}
	if got, _ := uncached.Stock(ctx, []int32{5}); got[5] != 10 {
		t.Errorf("Stock(5) with no cache = %d, want 10 (the Reserve made through the cache took 2)", got[5])
	}
	// A Reserve refused as sold out tells the cache what is left, so that
	// the quote the shopper sees next says it.
	if _, err := cached.Reserve(ctx, "nine-of-five", []bookshop.StockLine{{BookID: 5, Quantity: 9}}, time.Minute); err != nil {
		t.Fatalf("Reserve of 9 of the 10 left: %v", err)
	}
	if _, err := cached.Reserve(ctx, "two-of-five-again", []bookshop.StockLine{{BookID: 5, Quantity: 2}}, time.Minute); len(inventoryclient.SoldOutOf(err)) != 1 {
		t.Fatalf("Reserve of 2 of the 1 left = %v, want sold out", err)
	}
	if got, _ := cached.Stock(ctx, []int32{5}); got[5] != 1 {
		t.Errorf("Stock(5) kept after a sold-out Reserve = %d, want the 1 it was refused with", got[5])
	}
}

// TestStockCacheMemory holds a StockCache at its cap to the budget of a
// count in docs/capacity.md.
func TestStockCacheMemory(t *testing.T) {
	memtest.Budgets(t)
	if n, each := memtest.Documented(t, "Checkout", "stock counts"); n != inventoryclient.DefaultStockCounts || each != inventoryclient.StockCountBytes {
		t.Fatalf("docs/capacity.md budgets the Checkout %d stock counts of %d B; the code %d of %d B", n, each, inventoryclient.DefaultStockCounts, inventoryclient.StockCountBytes)
	}
	const n = inventoryclient.DefaultStockCounts
	// A reading counts more than the cache holds, never less: what the
	// package's earlier tests left running (a connection closing, say)
	// may allocate between the two. The least of up to three is held to
	// the budget.
	each, readings := memtest.Least(3, inventoryclient.StockCountBytes, func() uint64 {
		before := memtest.Held()
		cache := inventoryclient.NewStockCache(nil, n, time.Hour)
		for from := 1; from <= n; from += inventoryclient.MaxStockIDs {
			batch := make(map[int32]int, inventoryclient.MaxStockIDs)
			for id := from; id < from+inventoryclient.MaxStockIDs; id++ {
				batch[int32(id)] = id
			}
			cache.Put(batch)
		}
		after := memtest.Held()
		if cache.Len() != n {
			t.Fatalf("the cache holds %d counts, want %d", cache.Len(), n)
		}
		if after <= before {
			return 0
		}
		return (after - before) / n
	})
	t.Logf("%d stock counts: %d B each (readings %v)", n, each, readings)
	if each > inventoryclient.StockCountBytes {
		t.Errorf("a stock count holds %d B, past its budget of %d B", each, inventoryclient.StockCountBytes)
	}
}
