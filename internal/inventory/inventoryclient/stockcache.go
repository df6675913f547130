package inventoryclient

import (
	"context"
	"maps"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/ttlcache"
)

// StockReader is what a StockCache asks for the stock it does not hold:
// a [Client], or another StockReader.
type StockReader interface {
	// Stock returns the copies of each of ids that can be bought now, as
	// Client.Stock does.
	Stock(ctx context.Context, ids []int32) (map[int32]int, error)
}

// The stock the pages and quotes show is a hint, not a promise: a
// checkout's reservation is what takes the copies, and what tells a
// shopper a book sold out. So the services that show it keep what the
// Inventory said for a moment.
const (
	// DefaultStockTTL is how long a StockCache keeps a count by default:
	// a count shown is at most that old.
	DefaultStockTTL = 2 * time.Second
	// MaxStockTTL is the longest a StockCache keeps a count.
	MaxStockTTL = time.Minute
	// StockCountBytes is what a StockCache holds for a count, at most:
	// the budget of docs/capacity.md, held to it by the memory tests.
	StockCountBytes = 80
)

// StockCache is a [StockReader] that keeps, for its TTL, what its reader
// said of each book's stock, and asks it only about the books it has not
// heard of since. It holds at most its size of counts; when it is full, a
// new count takes the place of one past its TTL, or else of any other
// (see ttlcache). It is safe for concurrent use.
type StockCache struct {
	src    StockReader
	counts *ttlcache.Cache[int32, int]
}

// The StockCache's promise, checked by the compiler.
var _ StockReader = (*StockCache)(nil)

// NewStockCache returns a StockCache over src (nil for one that is only
// asked what it holds: Known and Put) that holds at most size counts (at
// least 1), each for ttl.
func NewStockCache(src StockReader, size int, ttl time.Duration) *StockCache {
	return &StockCache{src: src, counts: ttlcache.New[int32, int](size, ttl)}
}

// Stock implements [StockReader]: the copies of each of ids that can be
// bought, as its reader said of them within the TTL, and asked in one
// call for the others. Errors: the reader's, for a call it had to make.
func (c *StockCache) Stock(ctx context.Context, ids []int32) (map[int32]int, error) {
	known := make(map[int32]int, len(ids))
	missing := c.Known(ids, known)
	if len(missing) == 0 {
		return known, nil
	}
	got, err := c.src.Stock(ctx, missing)
	if err != nil {
		return nil, err
	}
	for _, id := range missing {
		known[id] = got[id] // a book the reader does not know has none
	}
	c.counts.Put(func(yield func(int32, int) bool) {
		for _, id := range missing {
			if !yield(id, known[id]) {
				return
			}
		}
	})
	return known, nil
}

// Known records in known the copies of each of ids that c has heard of
// within its TTL, and returns the others, each once: those to ask about.
// The caller makes known, so that a page of a few books can keep it off
// the heap.
func (c *StockCache) Known(ids []int32, known map[int32]int) []int32 {
	return c.counts.Lookup(ids, func(id int32, n int) { known[id] = n })
}

// Put keeps stock, as the Inventory said it now.
func (c *StockCache) Put(stock map[int32]int) {
	if len(stock) > 0 {
		c.counts.Put(maps.All(stock))
	}
}

// Len returns how many counts c holds, some of them perhaps past their
// TTL.
func (c *StockCache) Len() int { return c.counts.Len() }

// CachedStock is a [Client] whose Stock answers from a [StockCache]: for
// the Checkout, whose quotes show the stock of the same few books again
// and again. Reserve, Commit and Release still go to the Inventory each
// time: they are what the hint may lag behind. A Reserve refused as sold
// out tells the cache the counts it was refused with, so that the quote
// that follows shows them.
type CachedStock struct {
	*Client
	cache *StockCache // nil: Stock asks the Inventory every time
}

// DefaultStockCounts is how many counts the StockCache of WithStockCache
// holds: 10,000 of StockCountBytes, under 1 MiB.
const DefaultStockCounts = 10_000

// WithStockCache returns c with its Stock answered from a StockCache of
// DefaultStockCounts that keeps each count for ttl; with Stock asking the
// Inventory every time when ttl is 0.
func WithStockCache(c *Client, ttl time.Duration) *CachedStock {
	if ttl <= 0 {
		return &CachedStock{Client: c}
	}
	return &CachedStock{Client: c, cache: NewStockCache(c, DefaultStockCounts, ttl)}
}

// Stock returns the copies of each of ids that can be bought, as the
// Inventory said of them within the cache's TTL (see [StockCache.Stock]).
func (c *CachedStock) Stock(ctx context.Context, ids []int32) (map[int32]int, error) {
	if c.cache == nil {
		return c.Client.Stock(ctx, ids)
	}
	return c.cache.Stock(ctx, ids)
}

// Reserve is [Client.Reserve]; when the Inventory refuses it as sold out,
// the counts it names are kept as the Inventory's latest.
func (c *CachedStock) Reserve(ctx context.Context, key string, lines []bookshop.StockLine, ttl time.Duration) (bookshop.Reservation, error) {
	r, err := c.Client.Reserve(ctx, key, lines, ttl)
	if short := SoldOutOf(err); len(short) > 0 && c.cache != nil {
		counts := make(map[int32]int, len(short))
		for _, l := range short {
			counts[l.BookID] = l.Available
		}
		c.cache.Put(counts)
	}
	return r, err
}
