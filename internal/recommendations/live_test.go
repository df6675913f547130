package recommendations_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// viewed and dismissed make events, for short tables.
func viewed(id int32) bookshop.Event    { return bookshop.Event{Type: bookshop.Viewed, BookID: id} }
func dismissed(id int32) bookshop.Event { return bookshop.Event{Type: bookshop.Dismissed, BookID: id} }

// smallCatalog has four mystery books (ids 1-4), three science fiction (11-13)
// and two self-help (21-22).
func smallCatalog() *bookshop.Shelf {
	var books []bookshop.Book
	add := func(c bookshop.Category, ids ...int32) {
		for _, id := range ids {
			books = append(books, bookshop.Book{ID: id, Category: c, Title: fmt.Sprintf("Book %d", id), Author: "A", Year: 2000})
		}
	}
	add(bookshop.Mystery, 1, 2, 3, 4)
	add(bookshop.ScienceFiction, 11, 12, 13)
	add(bookshop.SelfHelp, 21, 22)
	return bookshop.NewShelf(books)
}

// apply applies ev to s and fails the test on error.
func apply(tb testing.TB, s *recommendations.Session, ev bookshop.Event, maxResults int) []bookshop.Book {
	tb.Helper()
	got, err := s.Apply(testContext(tb), ev, maxResults)
	if err != nil {
		tb.Fatalf("Apply(%+v, %d) error: %v", ev, maxResults, err)
	}
	return got
}

// TestSessionOrder checks the order of live lists with a random source that
// keeps the catalog's order, so that each list is known exactly.
func TestSessionOrder(t *testing.T) {
	type step struct {
		ev   bookshop.Event
		max  int
		want []int32
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a view puts its category first", []step{
			{viewed(12), 4, []int32{11, 13, 1, 2}},
		}},
		{"equal interest keeps enum order", []step{
			{viewed(21), 3, []int32{22, 1, 2}},
			{viewed(1), 9, []int32{2, 3, 4, 22, 11, 12, 13}},
		}},
		{"equal interest, whatever came first", []step{
			{viewed(11), 2, []int32{12, 13}},
			{viewed(1), 2, []int32{2, 3}},
		}},
		{"the most viewed category leads", []step{
			{viewed(21), 4, []int32{22, 1, 2, 3}},
			{viewed(11), 4, []int32{12, 13, 22, 1}},
			{viewed(12), 4, []int32{13, 22, 1, 2}},
		}},
		{"a dismissal changes no interest", []step{
			{viewed(11), 4, []int32{12, 13, 1, 2}},
			{dismissed(12), 4, []int32{13, 1, 2, 3}},
			{dismissed(13), 4, []int32{1, 2, 3, 4}},
			{dismissed(1), 4, []int32{2, 3, 4, 21}},
		}},
		{"a dismissal alone", []step{
			{dismissed(1), 4, []int32{2, 3, 4, 11}},
		}},
		{"viewing a book twice counts twice", []step{
			{viewed(21), 2, []int32{22, 1}},
			{viewed(1), 2, []int32{2, 3}},
			{viewed(21), 2, []int32{22, 2}},
		}},
		{"an exhausted catalog gives fewer books", []step{
			{viewed(1), 20, []int32{2, 3, 4, 11, 12, 13, 21, 22}},
			{viewed(2), 20, []int32{3, 4, 11, 12, 13, 21, 22}},
			{dismissed(11), 20, []int32{3, 4, 12, 13, 21, 22}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := recommendations.NewSession(smallCatalog(), constRand{})
			for i, st := range tt.steps {
				got := apply(t, s, st.ev, st.max)
				if !slices.Equal(ids(got), st.want) {
					t.Errorf("step %d: Apply(%+v, %d) = %v, want %v", i, st.ev, st.max, ids(got), st.want)
				}
			}
			if got := s.Events(); got != len(tt.steps) {
				t.Errorf("Events() = %d, want %d", got, len(tt.steps))
			}
		})
	}
}

// TestSessionEmptiesOut checks that a session whose shopper has seen every
// book recommends nothing, without error.
func TestSessionEmptiesOut(t *testing.T) {
	books := smallCatalog()
	s := recommendations.NewSession(books, recommendations.NewLockedRand(rand.NewPCG(1, 2)))
	all := books.Books()
	for i, b := range all {
		ev := viewed(b.ID)
		if i%2 == 1 {
			ev = dismissed(b.ID)
		}
		got := apply(t, s, ev, recommendations.MaxLiveResults)
		if want := len(all) - i - 1; len(got) != want {
			t.Errorf("after %d events: Apply = %d books %v, want %d", i+1, len(got), ids(got), want)
		}
	}
	if got := apply(t, s, viewed(1), 4); len(got) != 0 {
		t.Errorf("Apply after every book = %v, want none", ids(got))
	}
}

// TestSessionNeverRecommendsSeenBooks runs many random events over the
// built-in catalog and checks every list: no book viewed or dismissed, no
// book twice, and as many books as asked for while the catalog has them.
func TestSessionNeverRecommendsSeenBooks(t *testing.T) {
	books := builtin(t)
	all := books.Books()
	r := rand.New(rand.NewPCG(3, 4))
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			s := recommendations.NewSession(books, recommendations.NewLockedRand(rand.NewPCG(seed, seed)))
			seen := make(map[int32]bool)
			var last []bookshop.Book
			for i := range 200 {
				// Half the time act on a recommended book, as shoppers do.
				b := all[r.IntN(len(all))]
				if len(last) > 0 && r.IntN(2) == 0 {
					b = last[r.IntN(len(last))]
				}
				ev := bookshop.Event{Type: bookshop.EventType(1 + r.IntN(2)), BookID: b.ID}
				max := 1 + r.IntN(recommendations.MaxLiveResults)
				seen[b.ID] = true
				got := apply(t, s, ev, max)
				last = got
				if want := min(max, len(all)-len(seen)); len(got) != want {
					t.Fatalf("event %d: Apply(%+v, %d) = %d books, want %d", i, ev, max, len(got), want)
				}
				dup := make(map[int32]bool)
				for _, g := range got {
					if seen[g.ID] {
						t.Fatalf("event %d: Apply(%+v, %d) = %v, recommends book %d, which was viewed or dismissed", i, ev, max, ids(got), g.ID)
					}
					if dup[g.ID] {
						t.Fatalf("event %d: Apply(%+v, %d) = %v, book %d twice", i, ev, max, ids(got), g.ID)
					}
					dup[g.ID] = true
					if !slices.Contains(all, g) {
						t.Fatalf("event %d: Apply returned %+v, which is not a book of the catalog", i, g)
					}
				}
			}
		})
	}
}

// TestSessionRandomWithinCategory checks that lists follow the interest of
// categories and vary within them, and that equal seeds give equal lists.
func TestSessionRandomWithinCategory(t *testing.T) {
	books := builtin(t)
	scifi := inCategory(t, books, bookshop.ScienceFiction)
	firsts := make(map[int32]bool)
	for seed := range uint64(20) {
		a := recommendations.NewSession(books, recommendations.NewLockedRand(rand.NewPCG(seed, 9)))
		b := recommendations.NewSession(books, recommendations.NewLockedRand(rand.NewPCG(seed, 9)))
		ev := viewed(scifi[0].ID)
		gotA, gotB := apply(t, a, ev, 5), apply(t, b, ev, 5)
		if !slices.Equal(gotA, gotB) {
			t.Errorf("seed %d: Apply(%+v) = %v and %v from equal seeds, want equal", seed, ev, ids(gotA), ids(gotB))
		}
		for _, g := range gotA {
			if g.Category != bookshop.ScienceFiction {
				t.Errorf("seed %d: Apply(%+v) = %v, book %d is %v, want science fiction first", seed, ev, ids(gotA), g.ID, g.Category)
			}
		}
		firsts[gotA[0].ID] = true
	}
	if len(firsts) < 2 {
		t.Errorf("Apply always started with the same book %v, want it to vary with the seed", firsts)
	}
}

// TestSessionBounded checks that a session remembers at most
// MaxSessionBooks books, forgetting the oldest first.
func TestSessionBounded(t *testing.T) {
	const n = recommendations.MaxSessionBooks + 5
	var many []bookshop.Book
	for i := range n {
		many = append(many, bookshop.Book{ID: int32(i + 1), Category: bookshop.Mystery, Title: fmt.Sprint("Book ", i+1), Author: "A", Year: 2000})
	}
	s := recommendations.NewSession(bookshop.NewShelf(many), constRand{})
	var got []bookshop.Book
	for id := range int32(recommendations.MaxSessionBooks) {
		got = apply(t, s, viewed(id+1), 3)
	}
	if want := []int32{1001, 1002, 1003}; !slices.Equal(ids(got), want) {
		t.Fatalf("after viewing books 1-%d: Apply = %v, want %v", recommendations.MaxSessionBooks, ids(got), want)
	}
	// One more book pushes the first one out of the session's memory.
	got = apply(t, s, viewed(1001), 3)
	if want := []int32{1, 1002, 1003}; !slices.Equal(ids(got), want) {
		t.Errorf("after viewing book 1001 too: Apply = %v, want %v (book 1 forgotten)", ids(got), want)
	}
	// Viewing a remembered book again does not push anything out.
	got = apply(t, s, viewed(500), 3)
	if want := []int32{1, 1002, 1003}; !slices.Equal(ids(got), want) {
		t.Errorf("after viewing book 500 again: Apply = %v, want %v", ids(got), want)
	}
	got = apply(t, s, viewed(1002), 3)
	if want := []int32{1, 2, 1003}; !slices.Equal(ids(got), want) {
		t.Errorf("after viewing book 1002: Apply = %v, want %v (book 2 forgotten)", ids(got), want)
	}
}

// TestSessionErrors checks the events and sizes Apply refuses, and that a
// refused event leaves the session as it was.
func TestSessionErrors(t *testing.T) {
	tests := []struct {
		name      string
		ev        bookshop.Event
		max       int
		wantCode  bookshop.Code
		wantInMsg string
	}{
		{"no type", bookshop.Event{BookID: 1}, 4, bookshop.Invalid, "event type 0"},
		{"unknown type", bookshop.Event{Type: 3, BookID: 1}, 4, bookshop.Invalid, "event type 3"},
		{"max 0", viewed(1), 0, bookshop.Invalid, "max_results"},
		{"max negative", viewed(1), -1, bookshop.Invalid, "got -1"},
		{"max past the cap", viewed(1), recommendations.MaxLiveResults + 1, bookshop.Invalid, "from 1 to 20"},
		{"unknown book", viewed(99), 4, bookshop.NotFound, "id 99"},
		{"book 0", dismissed(0), 4, bookshop.NotFound, "id 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := recommendations.NewSession(smallCatalog(), constRand{})
			before := apply(t, s, viewed(11), 4)
			got, err := s.Apply(testContext(t), tt.ev, tt.max)
			if code := bookshop.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("Apply(%+v, %d) = %v, %v; want a %s error", tt.ev, tt.max, ids(got), err, tt.wantCode)
			}
			if msg := bookshop.ErrorMessage(err); !strings.Contains(msg, tt.wantInMsg) {
				t.Errorf("Apply(%+v, %d) message = %q, want it to hold %q", tt.ev, tt.max, msg, tt.wantInMsg)
			}
			if got != nil {
				t.Errorf("Apply(%+v, %d) = %v with an error, want nil", tt.ev, tt.max, ids(got))
			}
			if n := s.Events(); n != 1 {
				t.Errorf("Events() after a refused event = %d, want 1", n)
			}
			// Dismissing an already viewed book changes nothing either.
			if after := apply(t, s, dismissed(11), 4); !slices.Equal(ids(after), ids(before)) {
				t.Errorf("Apply after a refused event = %v, want %v as before it", ids(after), ids(before))
			}
		})
	}
}

// failingLiveStore is a LiveStore whose BooksInCategory fails once failing
// is set.
type failingLiveStore struct {
	*bookshop.Shelf
	failing bool
	err     error
}

func (s *failingLiveStore) BooksInCategory(ctx context.Context, c bookshop.Category) ([]bookshop.Book, error) {
	if s.failing {
		return nil, s.err
	}
	return s.Shelf.BooksInCategory(ctx, c)
}

// TestSessionStoreError checks that a store failure is returned, wrapped,
// and leaves the session as it was.
func TestSessionStoreError(t *testing.T) {
	errDown := errors.New("database is down")
	store := &failingLiveStore{Shelf: smallCatalog(), err: errDown}
	s := recommendations.NewSession(store, constRand{})
	apply(t, s, viewed(11), 4)

	store.failing = true
	got, err := s.Apply(testContext(t), viewed(1), 4)
	if !errors.Is(err, errDown) || got != nil {
		t.Fatalf("Apply with a failing store = %v, %v; want nil and an error wrapping %v", ids(got), err, errDown)
	}
	if code := bookshop.ErrorCode(err); code != bookshop.Internal {
		t.Errorf("Apply with a failing store: code %q, want %q", code, bookshop.Internal)
	}
	store.failing = false
	// Book 1 was not recorded as viewed, and mystery gained no interest.
	if got, want := apply(t, s, dismissed(13), 4), []int32{12, 1, 2, 3}; !slices.Equal(ids(got), want) {
		t.Errorf("Apply after the store recovered = %v, want %v", ids(got), want)
	}
}

func BenchmarkSessionApply(b *testing.B) {
	books := builtin(b)
	all := books.Books()
	s := recommendations.NewSession(books, recommendations.NewLockedRand(rand.NewPCG(1, 2)))
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := viewed(all[i%len(all)].ID)
		if _, err := s.Apply(ctx, ev, recommendations.DefaultLiveResults); err != nil {
			b.Fatalf("Apply(%+v) error: %v", ev, err)
		}
		i++
	}
}

// recordingLiveStore is a LiveStore that remembers which categories were
// asked for.
type recordingLiveStore struct {
	*bookshop.Shelf
	asked []bookshop.Category
}

func (s *recordingLiveStore) BooksInCategory(ctx context.Context, c bookshop.Category) ([]bookshop.Book, error) {
	s.asked = append(s.asked, c)
	return s.Shelf.BooksInCategory(ctx, c)
}

// TestSessionReadsOnlyWhatItNeeds checks that Apply reads the categories of
// less interest only when the ones before do not fill the list.
func TestSessionReadsOnlyWhatItNeeds(t *testing.T) {
	store := &recordingLiveStore{Shelf: smallCatalog()}
	s := recommendations.NewSession(store, constRand{})
	apply(t, s, viewed(11), 2)
	if want := []bookshop.Category{bookshop.ScienceFiction}; !slices.Equal(store.asked, want) {
		t.Errorf("Apply(viewed 11, 2) read categories %v, want %v", store.asked, want)
	}
	store.asked = nil
	apply(t, s, viewed(12), 2)
	if want := []bookshop.Category{bookshop.ScienceFiction, bookshop.Mystery}; !slices.Equal(store.asked, want) {
		t.Errorf("Apply(viewed 12, 2) read categories %v, want %v", store.asked, want)
	}
}
