package catalogclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// catalogServer serves a Catalog of books, in memory, over gRPC on
// loopback, and returns a client of it and the ids each GetBooks call
// asked for, as the server saw them.
func catalogServer(t *testing.T, books []bookshop.Book) (*catalogclient.Client, func() [][]int32) {
	t.Helper()
	db, err := sqlite.Open(testContext(t), sqlite.Memory, books)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var (
		mu    sync.Mutex
		calls [][]int32
	)
	count := grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if r, ok := req.(*catalogv1.GetBooksRequest); ok {
			mu.Lock()
			calls = append(calls, slices.Clone(r.GetIds()))
			mu.Unlock()
		}
		return h(ctx, req)
	})
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(catalog.NewService(db, "", 0, nil), logger))
	}, count)
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return catalogclient.New(conn, 5*time.Second), func() [][]int32 {
		mu.Lock()
		defer mu.Unlock()
		got := calls
		calls = nil
		return got
	}
}

func threeBooks() []bookshop.Book {
	return []bookshop.Book{
		{ID: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930, Category: bookshop.Mystery, Price: bookshop.Money{Units: 1099, Currency: "EUR"}},
		{ID: 2, Title: "Dune", Author: "Frank Herbert", Year: 1965, Category: bookshop.ScienceFiction, Price: bookshop.Money{Units: 1299, Currency: "EUR"}},
		{ID: 3, Title: "Emma", Author: "Jane Austen", Year: 1815, Category: bookshop.SelfHelp, Price: bookshop.Money{Units: 799, Currency: "EUR"}},
	}
}

func ids(books []bookshop.Book) []int32 {
	out := make([]int32, len(books))
	for i, b := range books {
		out[i] = b.ID
	}
	return out
}

// The Cache answers as the Client does (the books that exist, in the
// order asked, each once), and asks the Catalog only for the books it
// does not hold: none, once it has read them all.
func TestCacheAsksOnlyForWhatItLacks(t *testing.T) {
	client, calls := catalogServer(t, threeBooks())
	cache := catalogclient.NewCache(client, 100, time.Hour)
	ctx := testContext(t)
	steps := []struct {
		ask, want []int32
		asked     [][]int32
	}{
		{ask: []int32{2, 1}, want: []int32{2, 1}, asked: [][]int32{{2, 1}}},
		{ask: []int32{1, 2}, want: []int32{1, 2}},
		{ask: []int32{3, 1, 3, 2}, want: []int32{3, 1, 2}, asked: [][]int32{{3}}},
		{ask: []int32{2, 3, 1}, want: []int32{2, 3, 1}},
		// An id with no book is left out, and not kept: asked each time.
		{ask: []int32{99, 1}, want: []int32{1}, asked: [][]int32{{99}}},
		{ask: []int32{1, 99}, want: []int32{1}, asked: [][]int32{{99}}},
	}
	for _, s := range steps {
		got, err := cache.Books(ctx, s.ask)
		if err != nil {
			t.Fatalf("Books(%v): %v", s.ask, err)
		}
		if !slices.Equal(ids(got), s.want) {
			t.Errorf("Books(%v) = books %v, want %v", s.ask, ids(got), s.want)
		}
		if asked := calls(); !slices.EqualFunc(asked, s.asked, slices.Equal) {
			t.Errorf("Books(%v) asked the Catalog for %v, want %v", s.ask, asked, s.asked)
		}
	}
	direct, err := client.Books(ctx, []int32{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := cache.Books(ctx, []int32{1, 2, 3})
	if !slices.Equal(kept, direct) {
		t.Errorf("the kept books are %+v, the Catalog's %+v", kept, direct)
	}
}

// A book is kept for the TTL, then read again.
func TestCacheTTL(t *testing.T) {
	client, calls := catalogServer(t, threeBooks())
	ctx := testContext(t)
	if _, err := client.Books(ctx, []int32{2}); err != nil { // connects, before the TTL starts
		t.Fatal(err)
	}
	calls()
	const ttl = 300 * time.Millisecond
	cache := catalogclient.NewCache(client, 100, ttl)
	for range 2 {
		if _, err := cache.Books(ctx, []int32{1}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(calls()); n != 1 {
		t.Fatalf("two reads within the TTL made %d calls, want 1", n)
	}
	time.Sleep(ttl + 10*time.Millisecond)
	if got, err := cache.Books(ctx, []int32{1}); err != nil || len(got) != 1 {
		t.Fatalf("after the TTL: %v, %v", got, err)
	}
	if asked := calls(); !slices.EqualFunc(asked, [][]int32{{1}}, slices.Equal) {
		t.Errorf("a read after the TTL asked for %v, want [[1]]", asked)
	}
}

// The Cache holds at most its size, and answers right past it: a full
// cache makes room for a new book by dropping one other, not all.
func TestCacheCap(t *testing.T) {
	client, calls := catalogServer(t, threeBooks())
	cache := catalogclient.NewCache(client, 2, time.Hour)
	ctx := testContext(t)
	for _, ask := range [][]int32{{1}, {2}, {3}, {1, 2, 3}, {3, 2}} {
		got, err := cache.Books(ctx, ask)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), ask) {
			t.Errorf("Books(%v) = %v", ask, ids(got))
		}
		if n := cache.Len(); n > 2 {
			t.Fatalf("after Books(%v) the cache holds %d books, more than its 2", ask, n)
		}
	}
	full := catalogclient.NewCache(client, 2, time.Hour)
	for _, id := range []int32{1, 2, 3} {
		if _, err := full.Books(ctx, []int32{id}); err != nil {
			t.Fatal(err)
		}
	}
	if n := full.Len(); n != 2 {
		t.Errorf("after a third book in a cache of 2, it holds %d books, want 2: one dropped to make room", n)
	}
	calls()
	if _, err := full.Books(ctx, []int32{3}); err != nil {
		t.Fatal(err)
	}
	if asked := calls(); len(asked) != 0 {
		t.Errorf("the book just read, read again, asked the Catalog for %v, want nothing", asked)
	}
}

// The Cache is safe for concurrent use (run with -race): readers of
// books kept and books not kept at once, past its cap.
func TestCacheConcurrent(t *testing.T) {
	client, _ := catalogServer(t, threeBooks())
	cache := catalogclient.NewCache(client, 2, time.Hour)
	ctx := testContext(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				ask := []int32{int32((i+j)%3 + 1), int32((i+2*j)%3 + 1)}
				got, err := cache.Books(ctx, ask)
				if err != nil {
					t.Error(err)
					return
				}
				if want := slices.Compact(slices.Clone(ask)); !slices.Equal(ids(got), want) {
					t.Errorf("Books(%v) = %v, want %v", ask, ids(got), want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The Catalog's refusals and failures reach the caller as the Client's
// do, and a failed read keeps nothing.
func TestCacheErrors(t *testing.T) {
	client, calls := catalogServer(t, threeBooks())
	cache := catalogclient.NewCache(client, 100, time.Hour)
	ctx := testContext(t)
	if _, err := cache.Books(ctx, []int32{1, 0}); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("an id of 0: %v, want Invalid", err)
	}
	many := make([]int32, catalogclient.MaxGetBooks+1)
	for i := range many {
		many[i] = 1
	}
	if _, err := cache.Books(ctx, []int32{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Books(ctx, many); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("%d ids, every one kept: %v, want Invalid as the Client says", len(many), err)
	}
	calls()

	conn, err := rpc.Dial(rpctest.ClosedAddr(t), rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	down := catalogclient.NewCache(catalogclient.New(conn, time.Second), 100, time.Hour)
	if _, err := down.Books(ctx, []int32{1}); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("a Catalog down: %v, want Unavailable", err)
	}
	if n := down.Len(); n != 0 {
		t.Errorf("a failed read kept %d books", n)
	}
}

// TestCacheMemory holds the Cache at its cap, filled with books of the
// longest title and author the Catalog takes, to the budget of
// docs/capacity.md.
func TestCacheMemory(t *testing.T) {
	memtest.Budgets(t)
	for _, service := range []string{"Cart", "Checkout"} {
		if n, each := memtest.Documented(t, service, "books of the Catalog"); n != catalogclient.DefaultCacheBooks || each != 2560 {
			t.Fatalf("docs/capacity.md budgets %d books of %d B for %s; the Cache holds %d, tested at 2,560 B", n, each, service, catalogclient.DefaultCacheBooks)
		}
	}
	const n = catalogclient.DefaultCacheBooks
	books := make([]bookshop.Book, n)
	for i := range books {
		books[i] = bookshop.Book{
			ID:       int32(i + 1),
			Title:    strings.Repeat("𝔅", bookshop.MaxTitleLen-5) + fmt.Sprintf("%05d", i),
			Author:   strings.Repeat("𝔄", bookshop.MaxAuthorLen),
			Year:     2000,
			Category: bookshop.Mystery,
			Price:    bookshop.Money{Units: 1999, Currency: "EUR"},
		}
	}
	client, _ := catalogServer(t, books)
	ctx := testContext(t)
	read := func(c *catalogclient.Cache) {
		for from := 1; from <= n; from += catalogclient.MaxGetBooks {
			batch := make([]int32, 0, catalogclient.MaxGetBooks)
			for id := from; id < from+catalogclient.MaxGetBooks && id <= n; id++ {
				batch = append(batch, int32(id))
			}
			if _, err := c.Books(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A first pass through a Cache of its own warms the server and the
	// connection, whose buffers are not the Cache's.
	read(catalogclient.NewCache(client, 1, time.Hour))
	// What the server and the collector do meanwhile counts too, more on a
	// busy host: the least of a few fresh caches is the Cache's (see
	// memtest.Least).
	const budget = 2560
	each, readings := memtest.Least(3, budget, func() uint64 {
		cache := catalogclient.NewCache(client, n, time.Hour)
		before := memtest.Held()
		read(cache)
		after := memtest.Held()
		if cache.Len() != n {
			t.Fatalf("the cache holds %d books, want %d", cache.Len(), n)
		}
		runtime.KeepAlive(cache)
		if after < before {
			return 0
		}
		return (after - before) / n
	})
	t.Logf("%d books with the longest title and author: %d B each (readings %v)", n, each, readings)
	if each > budget {
		t.Errorf("a kept book holds %d B, over its budget of 2,560 B (docs/capacity.md)", each)
	}
}
