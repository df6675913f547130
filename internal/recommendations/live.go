package recommendations

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The bounds of a live recommendation list.
const (
	// DefaultLiveResults is the length of a live list when the caller does
	// not say (max_results 0 on the wire).
	DefaultLiveResults = 4
	// MaxLiveResults is the longest live list a caller may ask for.
	MaxLiveResults = 20
)

// MaxSessionBooks is the most viewed or dismissed books a [Session]
// remembers. Past it, the session forgets the book it heard of first, so
// that one long session cannot grow without limit; a book forgotten that
// way may be recommended again.
const MaxSessionBooks = 1000

// SessionBytes is the most memory a [Session] holds, once it remembers
// MaxSessionBooks books: TestSessionMemory measures it, docs/capacity.md
// budgets with it.
const SessionBytes = 10 << 10

// LiveStore is what a [Session] reads: the books of a category and one book
// by id. *catalog.Catalog is one.
type LiveStore interface {
	bookshop.BookStore
	// Book returns the book with the given id, or a NotFound error.
	Book(ctx context.Context, id int32) (bookshop.Book, error)
}

// Session is one shopper's live recommendations: it remembers what they
// viewed and dismissed, and how much each category interests them, and
// after each event answers with a fresh list.
//
// The rules:
//   - a book the shopper viewed or dismissed is never recommended (within
//     the last MaxSessionBooks books they viewed or dismissed);
//   - each view of a book adds one to the interest of its category; a
//     dismissal changes no interest, because it says "not this book", not
//     "not this kind of book": the shopper dismisses recommendations of the
//     very category they browse, and lowering its interest would turn the
//     list to other categories after a few dismissals;
//   - the list holds the books of the most interesting category first, then
//     of the next, and so on (equal interest: category enum order), each
//     category's books in random order.
//
// A Session is not safe for concurrent use: it serves one stream, one
// event at a time.
type Session struct {
	store LiveStore
	rand  Rand
	// The books viewed or dismissed: their ids in order, oldest first, as
	// a ring once full, and the same ids sorted, to look one up. Two
	// slices of MaxSessionBooks ids at most, 8 KB: a map of as many took
	// three times that, and a server holds thousands of sessions.
	order    []int32
	sorted   []int32
	next     int // where the ring writes once full
	interest map[bookshop.Category]int
	events   int
}

// NewSession returns an empty session over store, choosing with r. A nil r
// uses math/rand/v2's runtime-seeded source.
func NewSession(store LiveStore, r Rand) *Session {
	if r == nil {
		r = globalRand{}
	}
	return &Session{
		store:    store,
		rand:     r,
		interest: make(map[bookshop.Category]int),
	}
}

// Events returns how many events the session has applied.
func (s *Session) Events() int { return s.events }

// Apply records ev and returns the recommendations as they now stand: up to
// maxResults distinct books, none viewed or dismissed in the session, books
// of the categories with the most interest first. It returns fewer books
// when the catalog has no more to offer.
//
// Errors: Invalid for an unknown event type or a maxResults outside 1 to
// MaxLiveResults; NotFound for a book id the store does not have; whatever
// else the store returns. After an error the session is as it was.
func (s *Session) Apply(ctx context.Context, ev bookshop.Event, maxResults int) ([]bookshop.Book, error) {
	if ev.Type != bookshop.Viewed && ev.Type != bookshop.Dismissed {
		return nil, bookshop.Errorf(bookshop.Invalid, "unknown event type %d: use %d (viewed) or %d (dismissed)", ev.Type, bookshop.Viewed, bookshop.Dismissed)
	}
	if maxResults < 1 || maxResults > MaxLiveResults {
		return nil, bookshop.Errorf(bookshop.Invalid, "max_results must be from 1 to %d, got %d", MaxLiveResults, maxResults)
	}
	book, err := s.store.Book(ctx, ev.BookID)
	if err != nil {
		return nil, fmt.Errorf("book %d: %w", ev.BookID, err)
	}

	// Work out the list as the session will stand after ev, and change the
	// session only once the store has answered, so that a store error
	// leaves it as it was.
	interest := func(c bookshop.Category) int {
		n := s.interest[c]
		if ev.Type == bookshop.Viewed && c == book.Category {
			n++
		}
		return n
	}
	forget, forgetting := s.forgets(book.ID)
	skip := func(id int32) bool {
		if id == book.ID {
			return true
		}
		if forgetting && id == forget {
			return false
		}
		return s.excludes(id)
	}
	// Most interest first; the sort is stable, so equal interest keeps the
	// enum order.
	cats := bookshop.Categories()
	slices.SortStableFunc(cats, func(a, b bookshop.Category) int {
		return cmp.Compare(interest(b), interest(a))
	})
	picked := make([]bookshop.Book, 0, maxResults)
	for _, c := range cats {
		if len(picked) == maxResults {
			break // the categories of less interest need not be read
		}
		books, err := s.store.BooksInCategory(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("books in category %s: %w", c, err)
		}
		picked = s.pick(picked, books, maxResults, skip)
	}

	s.exclude(book.ID)
	if ev.Type == bookshop.Viewed {
		s.interest[book.Category]++
	}
	s.events++
	return picked, nil
}

// excludes reports whether book id was viewed or dismissed (within the
// last MaxSessionBooks).
func (s *Session) excludes(id int32) bool {
	_, ok := slices.BinarySearch(s.sorted, id)
	return ok
}

// forgets returns the book that exclude(id) would forget, if any.
func (s *Session) forgets(id int32) (int32, bool) {
	if s.excludes(id) || len(s.order) < MaxSessionBooks {
		return 0, false
	}
	return s.order[s.next], true
}

// exclude remembers id as viewed or dismissed, forgetting the oldest
// remembered book when the session already holds MaxSessionBooks.
func (s *Session) exclude(id int32) {
	at, ok := slices.BinarySearch(s.sorted, id)
	if ok {
		return
	}
	if len(s.order) < MaxSessionBooks {
		if len(s.order) == cap(s.order) && len(s.order) >= MaxSessionBooks/2 {
			// The last growth: to MaxSessionBooks exactly, not past it.
			s.order = append(make([]int32, 0, MaxSessionBooks), s.order...)
			s.sorted = append(make([]int32, 0, MaxSessionBooks), s.sorted...)
		}
		s.order = append(s.order, id)
	} else {
		old, _ := slices.BinarySearch(s.sorted, s.order[s.next])
		s.sorted = slices.Delete(s.sorted, old, old+1)
		if old < at {
			at--
		}
		s.order[s.next] = id
		s.next = (s.next + 1) % MaxSessionBooks
	}
	s.sorted = slices.Insert(s.sorted, at, id)
}

// pick appends to picked, until it holds max books, books of from that
// skip does not refuse, in random order. It runs a lazy Fisher-Yates
// shuffle of from, as sample does, passing over skipped books, so that it
// costs O(max + skipped) steps however many books from holds.
func (s *Session) pick(picked, from []bookshop.Book, max int, skip func(id int32) bool) []bookshop.Book {
	n := len(from)
	swapped := make(map[int]int) // position -> index into from, where not the identity
	at := func(i int) int {
		if v, ok := swapped[i]; ok {
			return v
		}
		return i
	}
	for i := 0; i < n && len(picked) < max; i++ {
		j := i + s.rand.IntN(n-i)
		b := from[at(j)]
		swapped[j] = at(i)
		if !skip(b.ID) {
			picked = append(picked, b)
		}
	}
	return picked
}
