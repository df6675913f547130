package recommendations

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
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
	shelf     atomic.Pointer[shelf]
	readyCh   chan struct{} // closed at the first snapshot
	readyOnce sync.Once
	metrics   *metrics
}

// shelf is one immutable state of Books.
type shelf struct {
	byID       map[int32]bookshop.Book
	byCategory map[bookshop.Category][]bookshop.Book // each in id order
}

var (
	_ bookshop.BookStore = (*Books)(nil)
	_ LiveStore          = (*Books)(nil)
)

// NewBooks returns an empty Books; Follow fills it.
func NewBooks() *Books {
	b := &Books{readyCh: make(chan struct{})}
	b.shelf.Store(&shelf{byID: map[int32]bookshop.Book{}, byCategory: map[bookshop.Category][]bookshop.Book{}})
	return b
}

// Ready is closed once Books holds a whole snapshot of the catalog.
func (b *Books) Ready() <-chan struct{} { return b.readyCh }

// Len returns the number of books.
func (b *Books) Len() int { return len(b.shelf.Load().byID) }

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
func (b *Books) BooksInCategory(_ context.Context, c bookshop.Category) ([]bookshop.Book, error) {
	if !b.ready() {
		return nil, errNotReady
	}
	return b.shelf.Load().byCategory[c], nil
}

// Book implements [LiveStore]: the book with the given id, or NotFound;
// before the first snapshot, Unavailable.
func (b *Books) Book(_ context.Context, id int32) (bookshop.Book, error) {
	if !b.ready() {
		return bookshop.Book{}, errNotReady
	}
	book, ok := b.shelf.Load().byID[id]
	if !ok {
		return bookshop.Book{}, bookshop.Errorf(bookshop.NotFound, "no book has id %d", id)
	}
	return book, nil
}

// replace makes books the whole catalog.
func (b *Books) replace(books []bookshop.Book) error {
	s := &shelf{byID: make(map[int32]bookshop.Book, len(books)), byCategory: map[bookshop.Category][]bookshop.Book{}}
	s.add(books)
	b.shelf.Store(s)
	b.metrics.setBooks(len(s.byID))
	b.readyOnce.Do(func() { close(b.readyCh) })
	return nil
}

// add adds books to the catalog, on a new shelf: the old one's readers
// carry on undisturbed.
func (b *Books) add(books []bookshop.Book) error {
	old := b.shelf.Load()
	s := &shelf{byID: make(map[int32]bookshop.Book, len(old.byID)+len(books)), byCategory: make(map[bookshop.Category][]bookshop.Book, len(old.byCategory))}
	for id, book := range old.byID {
		s.byID[id] = book
	}
	for c, bs := range old.byCategory {
		s.byCategory[c] = slices.Clip(bs) // add appends to a copy, never into the old shelf
	}
	s.add(books)
	b.shelf.Store(s)
	b.metrics.setBooks(len(s.byID))
	return nil
}

// add puts books on s, which no reader sees yet, keeping each category in
// id order; a book already there (same id) is replaced.
func (s *shelf) add(books []bookshop.Book) {
	changed := map[bookshop.Category]bool{}
	for _, book := range books {
		if old, ok := s.byID[book.ID]; ok {
			s.byCategory[old.Category] = slices.DeleteFunc(slices.Clone(s.byCategory[old.Category]), func(x bookshop.Book) bool { return x.ID == book.ID })
		}
		s.byID[book.ID] = book
		s.byCategory[book.Category] = append(s.byCategory[book.Category], book)
		changed[book.Category] = true
	}
	for c := range changed {
		bs := s.byCategory[c]
		slices.SortFunc(bs, func(a, b bookshop.Book) int { return cmp.Compare(a.ID, b.ID) })
		s.byCategory[c] = slices.Clip(bs)
	}
}

// Follow keeps b a copy of feed's books until ctx ends: it watches the
// feed and, whenever the watch ends (the Catalog restarted, or cannot be
// reached), waits a moment and watches again, which starts from a whole
// snapshot. Meanwhile b answers from the books it has. It returns when ctx
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
		logger.Warn("the catalog's feed ended; following it again", "err", err, "retry_in", backoff, "books", b.Len())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}
