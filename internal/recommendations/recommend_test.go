package recommendations_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// builtin returns the built-in catalog, failing the test if it does not parse.
func builtin(tb testing.TB) *bookshop.Shelf {
	tb.Helper()
	c, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatalf("catalogfile.Builtin() error: %v", err)
	}
	return c
}

// inCategory returns the books of store in category cat.
func inCategory(tb testing.TB, store bookshop.BookStore, cat bookshop.Category) []bookshop.Book {
	tb.Helper()
	books, err := store.BooksInCategory(context.Background(), cat)
	if err != nil {
		tb.Fatalf("BooksInCategory(%v) error: %v", cat, err)
	}
	return books
}

// ids returns the ids of books, in order.
func ids(books []bookshop.Book) []int32 {
	out := make([]int32, len(books))
	for i, b := range books {
		out[i] = b.ID
	}
	return out
}

// checkPicked reports any book of got that is repeated, not of category cat,
// or not one of from.
func checkPicked(tb testing.TB, req bookshop.RecommendRequest, got, from []bookshop.Book) {
	tb.Helper()
	seen := make(map[int32]bool)
	for _, b := range got {
		if seen[b.ID] {
			tb.Errorf("Recommend(%+v) = %v, book %d appears twice", req, ids(got), b.ID)
		}
		seen[b.ID] = true
		if b.Category != req.Category {
			tb.Errorf("Recommend(%+v) returned book %d of category %v", req, b.ID, b.Category)
		}
		if !slices.Contains(from, b) {
			tb.Errorf("Recommend(%+v) returned %+v, which is not a book of the catalog", req, b)
		}
	}
}

// constRand is a Rand that always returns the same choice: 0 when last is
// false, n-1 when it is true.
type constRand struct{ last bool }

func (r constRand) IntN(n int) int {
	if r.last {
		return n - 1
	}
	return 0
}

// errStore is a BookStore that always fails with err.
type errStore struct{ err error }

func (s errStore) BooksInCategory(context.Context, bookshop.Category) ([]bookshop.Book, error) {
	return nil, s.err
}

// recordingStore is a BookStore that remembers which categories were asked
// for and serves them from a catalog.
type recordingStore struct {
	mu    sync.Mutex
	asked []bookshop.Category
	books bookshop.BookStore
}

func (s *recordingStore) BooksInCategory(ctx context.Context, c bookshop.Category) ([]bookshop.Book, error) {
	s.mu.Lock()
	s.asked = append(s.asked, c)
	s.mu.Unlock()
	return s.books.BooksInCategory(ctx, c)
}

func TestRecommend(t *testing.T) {
	books := builtin(t)
	svc := recommendations.New(books, nil)
	n := func(c bookshop.Category) int { return len(inCategory(t, books, c)) }

	tests := []struct {
		name      string
		req       bookshop.RecommendRequest
		wantN     int
		wantCode  bookshop.Code // "" for success
		wantInMsg string        // for errors: words the message must hold
	}{
		{"mystery 3", bookshop.RecommendRequest{UserID: 1, Category: bookshop.Mystery, MaxResults: 3}, 3, "", ""},
		{"science fiction 3", bookshop.RecommendRequest{UserID: 1, Category: bookshop.ScienceFiction, MaxResults: 3}, 3, "", ""},
		{"self help 3", bookshop.RecommendRequest{Category: bookshop.SelfHelp, MaxResults: 3}, 3, "", ""},
		{"one", bookshop.RecommendRequest{Category: bookshop.SelfHelp, MaxResults: 1}, 1, "", ""},
		{"max 0", bookshop.RecommendRequest{Category: bookshop.Mystery}, 0, "", ""},
		{"mystery, more than the category", bookshop.RecommendRequest{Category: bookshop.Mystery, MaxResults: 1000}, n(bookshop.Mystery), "", ""},
		{"science fiction, exactly the category", bookshop.RecommendRequest{Category: bookshop.ScienceFiction, MaxResults: n(bookshop.ScienceFiction)}, n(bookshop.ScienceFiction), "", ""},
		{"self help, one more than the category", bookshop.RecommendRequest{Category: bookshop.SelfHelp, MaxResults: n(bookshop.SelfHelp) + 1}, n(bookshop.SelfHelp), "", ""},
		{"negative max", bookshop.RecommendRequest{Category: bookshop.Mystery, MaxResults: -1}, 0, bookshop.Invalid, "max_results"},
		{"very negative max", bookshop.RecommendRequest{Category: bookshop.SelfHelp, MaxResults: math.MinInt}, 0, bookshop.Invalid, "max_results"},
		{"negative max and unknown category", bookshop.RecommendRequest{Category: 99, MaxResults: -3}, 0, bookshop.Invalid, "max_results"},
		{"category -1", bookshop.RecommendRequest{Category: -1, MaxResults: 3}, 0, bookshop.NotFound, "category -1"},
		{"category 3", bookshop.RecommendRequest{Category: 3, MaxResults: 3}, 0, bookshop.NotFound, "category 3"},
		{"category 99", bookshop.RecommendRequest{Category: 99, MaxResults: 3}, 0, bookshop.NotFound, "category 99"},
		{"category 99, max 0", bookshop.RecommendRequest{Category: 99}, 0, bookshop.NotFound, "category 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := svc.Recommend(testContext(t), tt.req)
			if tt.wantCode != "" {
				if err == nil {
					t.Fatalf("Recommend(%+v) = %v, nil, want a %s error", tt.req, ids(got), tt.wantCode)
				}
				if code := bookshop.ErrorCode(err); code != tt.wantCode {
					t.Errorf("Recommend(%+v) error code = %q, want %q (error %v)", tt.req, code, tt.wantCode, err)
				}
				if msg := bookshop.ErrorMessage(err); !strings.Contains(msg, tt.wantInMsg) {
					t.Errorf("Recommend(%+v) error message = %q, want it to hold %q", tt.req, msg, tt.wantInMsg)
				}
				if got != nil {
					t.Errorf("Recommend(%+v) = %v with an error, want nil", tt.req, ids(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("Recommend(%+v) error: %v", tt.req, err)
			}
			if len(got) != tt.wantN {
				t.Errorf("Recommend(%+v) = %d books %v, want %d", tt.req, len(got), ids(got), tt.wantN)
			}
			all := inCategory(t, books, tt.req.Category)
			checkPicked(t, tt.req, got, all)
			if tt.wantN == len(all) {
				gotIDs, wantIDs := ids(got), ids(all)
				slices.Sort(gotIDs)
				if !slices.Equal(gotIDs, wantIDs) {
					t.Errorf("Recommend(%+v) = ids %v, want every book of the category %v", tt.req, gotIDs, wantIDs)
				}
			}
		})
	}
}

func TestRecommendEmptyCategory(t *testing.T) {
	store := bookshop.NewShelf([]bookshop.Book{
		{ID: 1, Category: bookshop.Mystery, Title: "A", Author: "A", Year: 2000},
		{ID: 2, Category: bookshop.ScienceFiction, Title: "B", Author: "B", Year: 2000},
	})
	svc := recommendations.New(store, nil)
	for _, maxResults := range []int{0, 3} {
		req := bookshop.RecommendRequest{Category: bookshop.SelfHelp, MaxResults: maxResults}
		got, err := svc.Recommend(testContext(t), req)
		if code := bookshop.ErrorCode(err); code != bookshop.NotFound {
			t.Fatalf("Recommend(%+v) = %v, %v, want a %s error", req, ids(got), err, bookshop.NotFound)
		}
		if msg := bookshop.ErrorMessage(err); !strings.Contains(msg, "SELF_HELP") {
			t.Errorf("Recommend(%+v) error message = %q, want it to name SELF_HELP", req, msg)
		}
	}
	// The other categories still work.
	req := bookshop.RecommendRequest{Category: bookshop.ScienceFiction, MaxResults: 3}
	got, err := svc.Recommend(testContext(t), req)
	if err != nil || !slices.Equal(ids(got), []int32{2}) {
		t.Errorf("Recommend(%+v) = %v, %v, want [2], nil", req, ids(got), err)
	}
}

func TestRecommendCap(t *testing.T) {
	var many []bookshop.Book
	for i := range 150 {
		many = append(many, bookshop.Book{ID: int32(i + 1), Category: bookshop.ScienceFiction, Title: fmt.Sprintf("Book %d", i+1), Author: "A", Year: 2000})
	}
	many = append(many, bookshop.Book{ID: 1000, Category: bookshop.Mystery, Title: "Other", Author: "A", Year: 2000})
	store := bookshop.NewShelf(many)
	all := inCategory(t, store, bookshop.ScienceFiction)

	for _, maxResults := range []int{recommendations.MaxResultsCap + 1, 150, 1000, 1 << 30} {
		req := bookshop.RecommendRequest{Category: bookshop.ScienceFiction, MaxResults: maxResults}
		got, err := recommendations.New(store, nil).Recommend(testContext(t), req)
		if err != nil {
			t.Fatalf("Recommend(%+v) error: %v", req, err)
		}
		if len(got) != recommendations.MaxResultsCap {
			t.Errorf("Recommend(%+v) = %d books, want %d (MaxResultsCap)", req, len(got), recommendations.MaxResultsCap)
		}
		checkPicked(t, req, got, all)
	}
	req := bookshop.RecommendRequest{Category: bookshop.ScienceFiction, MaxResults: recommendations.MaxResultsCap - 1}
	if got, err := recommendations.New(store, nil).Recommend(testContext(t), req); err != nil || len(got) != recommendations.MaxResultsCap-1 {
		t.Errorf("Recommend(%+v) = %d books, %v, want %d, nil", req, len(got), err, recommendations.MaxResultsCap-1)
	}
}

// TestRecommendPartialShuffle checks the order of the partial Fisher-Yates
// shuffle with random sources whose choices are known.
func TestRecommendPartialShuffle(t *testing.T) {
	books := builtin(t)
	mystery := inCategory(t, books, bookshop.Mystery)
	n := len(mystery)
	tests := []struct {
		name string
		r    recommendations.Rand
		max  int
		want []int32
	}{
		// Always swapping a position with itself keeps the catalog's order.
		{"always first", constRand{}, 3, []int32{1, 2, 3}},
		{"always first, whole category", constRand{}, n, ids(mystery)},
		// Always taking the last: the last book, then the books that the
		// swaps moved to the end, one after the other.
		{"always last", constRand{last: true}, 3, []int32{mystery[n-1].ID, mystery[0].ID, mystery[1].ID}},
		{"always last, one", constRand{last: true}, 1, []int32{mystery[n-1].ID}},
		{"always last, whole category", constRand{last: true}, n, append([]int32{mystery[n-1].ID}, ids(mystery[:n-1])...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := bookshop.RecommendRequest{Category: bookshop.Mystery, MaxResults: tt.max}
			got, err := recommendations.New(books, tt.r).Recommend(testContext(t), req)
			if err != nil {
				t.Fatalf("Recommend(%+v) error: %v", req, err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("Recommend(%+v) = %v, want %v", req, ids(got), tt.want)
			}
		})
	}
}

// TestRecommendSeeded checks that equal seeds give equal recommendations.
func TestRecommendSeeded(t *testing.T) {
	books := builtin(t)
	a := recommendations.New(books, recommendations.NewLockedRand(rand.NewPCG(1, 2)))
	b := recommendations.New(books, recommendations.NewLockedRand(rand.NewPCG(1, 2)))
	cats := bookshop.Categories()
	distinct := make(map[string]bool)
	for i := range 20 {
		req := bookshop.RecommendRequest{Category: cats[i%len(cats)], MaxResults: 3}
		gotA, errA := a.Recommend(testContext(t), req)
		gotB, errB := b.Recommend(testContext(t), req)
		if errA != nil || errB != nil {
			t.Fatalf("call %d: Recommend(%+v) errors: %v, %v", i, req, errA, errB)
		}
		if !slices.Equal(gotA, gotB) {
			t.Errorf("call %d: Recommend(%+v) = %v and %v from equal seeds, want equal", i, req, ids(gotA), ids(gotB))
		}
		if req.Category == bookshop.Mystery {
			distinct[fmt.Sprint(ids(gotA))] = true
		}
	}
	if len(distinct) < 2 {
		t.Errorf("seeded Recommend(mystery, 3) gave the same books on every call %v, want them to vary", distinct)
	}
}

// TestRecommendUsesRandomness checks that, with the default source, every
// book of a category is eventually recommended and the order varies.
func TestRecommendUsesRandomness(t *testing.T) {
	books := builtin(t)
	svc := recommendations.New(books, nil)
	for _, cat := range bookshop.Categories() {
		t.Run(cat.String(), func(t *testing.T) {
			all := inCategory(t, books, cat)
			seen := make(map[int32]bool)
			firsts := make(map[int32]bool)
			req := bookshop.RecommendRequest{Category: cat, MaxResults: 3}
			// With 3 of at least 12 books a call, a given book is missed by
			// 500 calls with probability below (3/4)^500.
			for range 500 {
				got, err := svc.Recommend(testContext(t), req)
				if err != nil {
					t.Fatalf("Recommend(%+v) error: %v", req, err)
				}
				checkPicked(t, req, got, all)
				for _, b := range got {
					seen[b.ID] = true
				}
				firsts[got[0].ID] = true
			}
			for _, b := range all {
				if !seen[b.ID] {
					t.Errorf("Recommend(%+v) never returned book %d %q in 500 calls", req, b.ID, b.Title)
				}
			}
			if len(firsts) < 2 {
				t.Errorf("Recommend(%+v) always started with the same book %v", req, firsts)
			}
		})
	}
}

// TestRecommendLeavesStoreUnchanged checks that Recommend does not reorder
// the shared slice that the store returns.
func TestRecommendLeavesStoreUnchanged(t *testing.T) {
	books := builtin(t)
	before := slices.Clone(inCategory(t, books, bookshop.Mystery))
	svc := recommendations.New(books, nil)
	for range 50 {
		req := bookshop.RecommendRequest{Category: bookshop.Mystery, MaxResults: 1000}
		if _, err := svc.Recommend(testContext(t), req); err != nil {
			t.Fatalf("Recommend(%+v) error: %v", req, err)
		}
	}
	if after := inCategory(t, books, bookshop.Mystery); !slices.Equal(after, before) {
		t.Errorf("BooksInCategory(mystery) after Recommend = %v, want %v", ids(after), ids(before))
	}
}

func TestRecommendAsksStoreForCategory(t *testing.T) {
	store := &recordingStore{books: builtin(t)}
	svc := recommendations.New(store, nil)
	for _, cat := range bookshop.Categories() {
		if _, err := svc.Recommend(testContext(t), bookshop.RecommendRequest{Category: cat, MaxResults: 1}); err != nil {
			t.Fatalf("Recommend(%v) error: %v", cat, err)
		}
	}
	// Requests refused before the store is asked.
	for _, req := range []bookshop.RecommendRequest{{Category: 99, MaxResults: 1}, {Category: bookshop.Mystery, MaxResults: -1}} {
		if _, err := svc.Recommend(testContext(t), req); err == nil {
			t.Fatalf("Recommend(%+v) = nil error, want one", req)
		}
	}
	if want := bookshop.Categories(); !slices.Equal(store.asked, want) {
		t.Errorf("store asked for %v, want %v", store.asked, want)
	}
}

func TestRecommendStoreError(t *testing.T) {
	errDown := errors.New("database is down")
	tests := []struct {
		name     string
		err      error
		wantCode bookshop.Code
	}{
		{"plain error", errDown, bookshop.Internal},
		{"wrapped plain error", fmt.Errorf("query: %w", errDown), bookshop.Internal},
		{"unavailable", bookshop.Errorf(bookshop.Unavailable, "catalog is restarting"), bookshop.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := recommendations.New(errStore{err: tt.err}, constRand{})
			req := bookshop.RecommendRequest{Category: bookshop.SelfHelp, MaxResults: 3}
			got, err := svc.Recommend(testContext(t), req)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Recommend(%+v) = %v, %v, want an error wrapping %v", req, ids(got), err, tt.err)
			}
			if got != nil {
				t.Errorf("Recommend(%+v) = %v with an error, want nil", req, ids(got))
			}
			if code := bookshop.ErrorCode(err); code != tt.wantCode {
				t.Errorf("Recommend(%+v) error code = %q, want %q", req, code, tt.wantCode)
			}
			if tt.wantCode == bookshop.Internal && strings.Contains(bookshop.ErrorMessage(err), "database") {
				t.Errorf("Recommend(%+v) error message = %q, want the store's details kept from users", req, bookshop.ErrorMessage(err))
			}
		})
	}
}

func TestLockedRandConcurrent(t *testing.T) {
	r := recommendations.NewLockedRand(rand.NewPCG(3, 4))
	books := builtin(t)
	svc := recommendations.New(books, r)
	all := inCategory(t, books, bookshop.ScienceFiction)

	const goroutines, calls = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				n := 1 + (g+i)%17
				if v := r.IntN(n); v < 0 || v >= n {
					t.Errorf("IntN(%d) = %d, want in [0, %d)", n, v, n)
				}
				req := bookshop.RecommendRequest{Category: bookshop.ScienceFiction, MaxResults: 3}
				got, err := svc.Recommend(context.Background(), req)
				if err != nil {
					t.Errorf("Recommend(%+v) error: %v", req, err)
					return
				}
				if len(got) != 3 {
					t.Errorf("Recommend(%+v) = %d books, want 3", req, len(got))
				}
				checkPicked(t, req, got, all)
			}
		})
	}
	wg.Wait()
}

// TestLockedRandSequence checks that LockedRand draws the same numbers as
// the *rand.Rand it wraps.
func TestLockedRandSequence(t *testing.T) {
	locked := recommendations.NewLockedRand(rand.NewPCG(5, 6))
	plain := rand.New(rand.NewPCG(5, 6))
	for i := range 100 {
		n := 1 + i%10
		if got, want := locked.IntN(n), plain.IntN(n); got != want {
			t.Fatalf("call %d: IntN(%d) = %d, want %d", i, n, got, want)
		}
	}
}

// FuzzRecommend checks the rules of Recommend for any category number,
// max_results and random source: it never panics; it answers Invalid for a
// negative max_results, NotFound for a category that is not one or has no
// books, and otherwise min(max_results, books in the category,
// MaxResultsCap) distinct books of the category. large picks a catalog
// with more books in a category than the cap (and none in self-help)
// instead of the built-in one.
func FuzzRecommend(f *testing.F) {
	f.Add(int32(0), 3, uint64(1), false)
	f.Add(int32(1), 0, uint64(2), false)
	f.Add(int32(2), 15, uint64(3), false)
	f.Add(int32(2), 16, uint64(4), false)
	f.Add(int32(0), -1, uint64(5), false)
	f.Add(int32(3), 3, uint64(6), false)
	f.Add(int32(-1), -1, uint64(7), false)
	f.Add(int32(math.MaxInt32), math.MaxInt, uint64(8), false)
	f.Add(int32(1), recommendations.MaxResultsCap+1, uint64(9), true)
	f.Add(int32(2), 1, uint64(10), true)
	f.Add(int32(0), math.MinInt, uint64(11), true)

	builtinBooks := builtin(f)
	var many []bookshop.Book
	for i := range 150 {
		many = append(many, bookshop.Book{ID: int32(i + 1), Category: bookshop.ScienceFiction, Title: fmt.Sprintf("Book %d", i+1), Author: "A", Year: 2000})
	}
	many = append(many, bookshop.Book{ID: 1000, Category: bookshop.Mystery, Title: "Other", Author: "A", Year: 2000})
	large := bookshop.NewShelf(many)

	f.Fuzz(func(t *testing.T, category int32, maxResults int, seed uint64, useLarge bool) {
		var store bookshop.BookStore = builtinBooks
		if useLarge {
			store = large
		}
		req := bookshop.RecommendRequest{UserID: 1, Category: bookshop.Category(category), MaxResults: maxResults}
		svc := recommendations.New(store, recommendations.NewLockedRand(rand.NewPCG(seed, ^seed)))
		got, err := svc.Recommend(context.Background(), req)

		var from []bookshop.Book
		var wantCode bookshop.Code
		switch {
		case maxResults < 0:
			wantCode = bookshop.Invalid
		case !req.Category.Valid():
			wantCode = bookshop.NotFound
		default:
			if from = inCategory(t, store, req.Category); len(from) == 0 {
				wantCode = bookshop.NotFound
			}
		}
		if wantCode != "" {
			if code := bookshop.ErrorCode(err); code != wantCode || got != nil {
				t.Fatalf("Recommend(%+v) = %v, %v (code %q); want nil and a %q error", req, ids(got), err, code, wantCode)
			}
			return
		}
		if err != nil {
			t.Fatalf("Recommend(%+v) error: %v", req, err)
		}
		if want := min(maxResults, len(from), recommendations.MaxResultsCap); len(got) != want {
			t.Errorf("Recommend(%+v) = %d books, want %d", req, len(got), want)
		}
		checkPicked(t, req, got, from)
	})
}

func BenchmarkRecommend(b *testing.B) {
	books := builtin(b)
	req := bookshop.RecommendRequest{UserID: 1, Category: bookshop.Mystery, MaxResults: 3}
	b.Run("serial", func(b *testing.B) {
		svc := recommendations.New(books, nil)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if got, err := svc.Recommend(ctx, req); err != nil || len(got) != 3 {
				b.Fatalf("Recommend(%+v) = %v, %v", req, ids(got), err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		svc := recommendations.New(books, nil)
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if got, err := svc.Recommend(ctx, req); err != nil || len(got) != 3 {
					b.Errorf("Recommend(%+v) = %v, %v", req, ids(got), err)
					return
				}
			}
		})
	})
	b.Run("parallel locked", func(b *testing.B) {
		svc := recommendations.New(books, recommendations.NewLockedRand(rand.NewPCG(1, 2)))
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if got, err := svc.Recommend(ctx, req); err != nil || len(got) != 3 {
					b.Errorf("Recommend(%+v) = %v, %v", req, ids(got), err)
					return
				}
			}
		})
	})
}

// TestRecommendAppend checks that RecommendAppend appends what Recommend
// returns to the slice it is given, keeping what it held, and leaves it as
// it was on an error.
func TestRecommendAppend(t *testing.T) {
	books := builtin(t)
	svc := recommendations.New(books, nil)
	first := bookshop.Book{ID: 999, Title: "Already there"}
	dst := make([]bookshop.Book, 1, 8)
	dst[0] = first
	got, err := svc.RecommendAppend(testContext(t), bookshop.RecommendRequest{Category: bookshop.Mystery, MaxResults: 3}, dst)
	if err != nil || len(got) != 4 || got[0] != first {
		t.Fatalf("RecommendAppend(3 mystery books, after one) = %v, %v; want the one, then 3", ids(got), err)
	}
	mystery := inCategory(t, books, bookshop.Mystery)
	for _, b := range got[1:] {
		if !slices.Contains(mystery, b) {
			t.Errorf("RecommendAppend gave %+v, not a mystery book of the catalog", b)
		}
	}
	got, err = svc.RecommendAppend(testContext(t), bookshop.RecommendRequest{Category: bookshop.Mystery, MaxResults: -1}, dst[:1])
	if bookshop.ErrorCode(err) != bookshop.Invalid || len(got) != 1 || got[0] != first {
		t.Errorf("RecommendAppend(max -1) = %v, %v; want the slice as it was and an Invalid error", ids(got), err)
	}
}
