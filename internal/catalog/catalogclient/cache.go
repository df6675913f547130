package catalogclient

import (
	"context"
	"slices"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/ttlcache"
)

// Reader is what a Cache reads the books it does not hold from: a
// [Client], or another Reader.
type Reader interface {
	// Books returns the books of ids that exist, as Client.Books does.
	Books(ctx context.Context, ids []int32) ([]bookshop.Book, error)
}

// The caches' defaults, for the services that price carts: a cart's books
// are a shop's best sellers again and again, and a few thousand books
// cover them.
const (
	// DefaultCacheBooks is how many books a Cache holds at most by
	// default: 4,096 at most 2.5 KiB each, with the longest title and
	// author the Catalog takes (docs/capacity.md budgets it).
	DefaultCacheBooks = 4096
	// DefaultCacheTTL is how long a Cache keeps a book by default.
	DefaultCacheTTL = time.Minute
	// MaxCacheTTL is the longest a Cache keeps a book.
	MaxCacheTTL = time.Hour
)

// CacheFlag declares on s the setting "catalog-cache" of a service that
// prices books (what it prices, such as "carts"): how long its Cache keeps
// a book, 0 for no Cache. CheckCacheFlag checks it.
func CacheFlag(s *config.Set, ttl *time.Duration, what string) {
	s.Duration(ttl, "catalog-cache", *ttl, "how long a book read from the Catalog is kept to price "+what+", so that the same books cost no call (the Catalog's books do not change once imported), up to 1h; 0 asks the Catalog every time")
}

// CheckCacheFlag checks the value of the setting CacheFlag declares.
func CheckCacheFlag(s *config.Set, ttl time.Duration) error {
	if ttl < 0 || ttl > MaxCacheTTL {
		return config.UsageErrorf("%s %s: want from 0 (no cache) to %s, such as 1m", s.Setting("catalog-cache"), ttl, MaxCacheTTL)
	}
	return nil
}

// Cached returns c behind a Cache of DefaultCacheBooks that keeps each
// book for ttl, or c itself when ttl is 0.
func Cached(c *Client, ttl time.Duration) Reader {
	if ttl <= 0 {
		return c
	}
	return NewCache(c, DefaultCacheBooks, ttl)
}

// Cache is a [Reader] that keeps the books it has read, for the services
// that price the same books again and again: the Cart prices a cart at
// each change, the Checkout each quote and each order. It asks its Reader
// only for the books it does not hold.
//
// A book does not change once the Catalog has it (an import only adds
// books; nothing edits or deletes one), so a kept book is the Catalog's
// own. A Cache still keeps one for a TTL at most, so that a catalog
// restored under the same ids, or priced in a new shop currency, shows
// within it (after a change of the shop's currency, restart the services
// that keep books, or wait for their TTL: docs/configuration.md). An id with
// no book is not kept: an import may add it at any time. A Cache holds at
// most max books; when it is full, a new book takes the place of one past
// its TTL, or else of any other (see ttlcache). It is safe for concurrent
// use.
type Cache struct {
	src   Reader
	books *ttlcache.Cache[int32, bookshop.Book]
}

// The Cache's promise, checked by the compiler.
var _ Reader = (*Cache)(nil)

// NewCache returns a Cache over src that holds at most size books (at
// least 1), each for ttl.
func NewCache(src Reader, size int, ttl time.Duration) *Cache {
	return &Cache{src: src, books: ttlcache.New[int32, bookshop.Book](size, ttl)}
}

// Books returns the books of ids that exist, in the order of ids, each
// once, as [Client.Books] does: those it holds, and the others from its
// Reader, in one call. Errors: the Reader's, for a call it had to make
// (Invalid for more than MaxGetBooks ids or an id under 1; Unavailable,
// Internal).
func (c *Cache) Books(ctx context.Context, ids []int32) ([]bookshop.Book, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxGetBooks {
		return c.src.Books(ctx, ids) // refused, as the Reader says
	}
	books := make([]bookshop.Book, 0, len(ids))
	missing := c.books.Lookup(ids, func(id int32, b bookshop.Book) {
		if !containsBook(books, id) {
			books = append(books, b)
		}
	})
	if len(missing) == 0 {
		return books, nil
	}
	got, err := c.src.Books(ctx, missing)
	if err != nil {
		return nil, err
	}
	c.books.Put(func(yield func(int32, bookshop.Book) bool) {
		for _, b := range got {
			if !yield(b.ID, b) {
				return
			}
		}
	})
	if len(missing) == len(ids) {
		return got, nil // all of them read: in the order asked, each once
	}
	books = append(books, got...)
	order := make(map[int32]int, len(ids))
	for i, id := range ids {
		if _, ok := order[id]; !ok {
			order[id] = i
		}
	}
	slices.SortFunc(books, func(a, b bookshop.Book) int { return order[a.ID] - order[b.ID] })
	return books, nil
}

// Len returns how many books c holds, some of them perhaps past their TTL.
func (c *Cache) Len() int { return c.books.Len() }

func containsBook(books []bookshop.Book, id int32) bool {
	return slices.ContainsFunc(books, func(b bookshop.Book) bool { return b.ID == id })
}
