package recommendations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
)

// BookFeed is where Recommendations gets its books: Watch calls snapshot
// once with every book, then added with the books of each change, until
// ctx ends or the feed fails. *catalogclient.Client is one, over the
// Catalog's WatchBooks stream; StaticBooks is one for a fixed list.
type BookFeed interface {
	Watch(ctx context.Context, snapshot, added func([]bookshop.Book) error) error
}

// StaticBooks is a BookFeed of a fixed list of books, which never
// changes: for Recommendations run alone, on the built-in catalog.
type StaticBooks []bookshop.Book

// Watch calls snapshot with the books, then waits for ctx to end.
func (s StaticBooks) Watch(ctx context.Context, snapshot, _ func([]bookshop.Book) error) error {
	if err := snapshot(slices.Clone(s)); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// Books is Recommendations' copy of the catalog, in memory, so that
// Recommend is a local answer: a [bookshop.BookStore] and a [LiveStore].
// Follow keeps it fresh. Readers never wait: each change makes a new
// shelf, swapped in at once. It is safe for concurrent use.
type Books struct {
	shelf     atomic.Pointer[bookshop.Shelf]
	readyCh   chan struct{} // closed at the first snapshot
	readyOnce sync.Once
	metrics   *metrics
	maxBooks  int
}

var (
	_ bookshop.BookStore = (*Books)(nil)
	_ LiveStore          = (*Books)(nil)
)

// NewBooks returns an empty Books, which holds at most maxBooks books
// (DefaultMaxBooks when 0); Follow fills it.
func NewBooks(maxBooks int) *Books {
	if maxBooks <= 0 {
		maxBooks = DefaultMaxBooks
	}
	b := &Books{readyCh: make(chan struct{}), maxBooks: maxBooks}
	b.shelf.Store(bookshop.NewShelf(nil))
	return b
}

// Ready is closed once Books holds a whole snapshot of the catalog.
func (b *Books) Ready() <-chan struct{} { return b.readyCh }

// Len returns the number of books.
func (b *Books) Len() int { return b.shelf.Load().Len() }

// errNotReady answers reads before the first snapshot: the books are not
// known yet, which is not the same as there being none.
var errNotReady = bookshop.Errorf(bookshop.Unavailable, "the catalog has not been loaded yet: try again in a moment")

// ready reports whether b holds a whole snapshot.
func (b *Books) ready() bool {
	select {
	case <-b.readyCh:
		return true
	default:
		return false
	}
}

// BooksInCategory implements [bookshop.BookStore]. The slice is shared:
// callers must not modify it. Before the first snapshot it returns an
// Unavailable error.
func (b *Books) BooksInCategory(ctx context.Context, c bookshop.Category) ([]bookshop.Book, error) {
	if !b.ready() {
		return nil, errNotReady
	}
	return b.shelf.Load().BooksInCategory(ctx, c)
}

// Book implements [LiveStore]: the book with the given id, or NotFound;
// before the first snapshot, Unavailable.
func (b *Books) Book(ctx context.Context, id int32) (bookshop.Book, error) {
	if !b.ready() {
		return bookshop.Book{}, errNotReady
	}
	return b.shelf.Load().Book(ctx, id)
}

// replace makes books the whole catalog.
func (b *Books) replace(books []bookshop.Book) error {
	if len(books) > b.maxBooks {
		return &overBudgetError{books: len(books), max: b.maxBooks}
	}
	shelf := bookshop.NewShelf(books)
	b.shelf.Store(shelf)
	b.metrics.setBooks(shelf.Len())
	b.readyOnce.Do(func() { close(b.readyCh) })
	return nil
}

// add adds the books of one import to the catalog, on a new shelf: the
// old one's readers carry on undisturbed (see bookshop.Shelf.With).
func (b *Books) add(books []bookshop.Book) error {
	old := b.shelf.Load()
	if n := old.Len() + len(books); n > b.maxBooks {
		return &overBudgetError{books: n, max: b.maxBooks}
	}
	shelf := old.With(books)
	b.shelf.Store(shelf)
	b.metrics.setBooks(shelf.Len())
	return nil
}

// DefaultMaxBooks is how many books Recommendations holds in memory by
// default: about 220 bytes a book at the catalog's sizes (the shelf's
// indexes, 180 bytes: the list of books and the lists by category, 80
// bytes a book each, and the index by id; and the title, author and
// currency), some 55 MB, and about two and a half times that for a moment
// while a new snapshot arrives and replaces the old (the old shelf, the
// books received, 135 bytes each, and the new shelf's indexes): about
// 135 MB, which fits the 256 MiB a replica is given in deploy/k8s with room
// for its streams. BenchmarkBooksMemory measures the bytes a book.
const DefaultMaxBooks = 250_000

// overBudgetError is a catalog larger than the copy may be.
type overBudgetError struct{ books, max int }

func (e *overBudgetError) Error() string {
	return fmt.Sprintf("the catalog has %d books, more than this replica may hold in memory (%d): raise -max-books (RECOMMENDATIONS_MAX_BOOKS) with the memory limit", e.books, e.max)
}

// Follow keeps b a copy of feed's books until ctx ends: it watches the
// feed and, whenever the watch ends (the Catalog restarted, or cannot be
// reached), waits a moment and watches again, which starts from a whole
// snapshot. Meanwhile b answers from the books it has. The waits grow
// from 100 ms to 10 s, with jitter, so that the replicas of a Catalog
// that restarts do not all come back at once; a catalog over the budget
// is logged as an error and tried again each minute. It returns when ctx
// is done.
func (b *Books) Follow(ctx context.Context, feed BookFeed, logger *slog.Logger) {
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		err := feed.Watch(ctx, b.replace, b.add)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond // it had worked for a while
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		_, over := errors.AsType[*overBudgetError](err)
		_, tooMany := errors.AsType[*catalogclient.TooManyBooksError](err)
		switch {
		case (over || tooMany) && b.ready():
			wait = time.Minute
			logger.Error("the catalog does not fit in this replica's memory budget (-max-books); serving the books it has", "err", err, "books", b.Len(), "retry_in", wait)
		case over || tooMany:
			wait = time.Minute
			logger.Error("the catalog does not fit in this replica's memory budget (-max-books); not serving until it does", "err", err, "retry_in", wait)
		default:
			logger.Warn("the catalog's feed ended; following it again", "err", err, "retry_in", wait, "books", b.Len())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}
