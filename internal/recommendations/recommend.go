// Package recommend chooses books to recommend: the rules of the
// Recommendations service, independent of any transport.
package recommendations

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// MaxResultsCap is the most books one Recommend call returns, whatever
// max_results asks for, so that one request cannot make the server copy a
// whole large catalog. Larger requests are served up to the cap, as
// Google's API design guide (AIP-158) advises for page sizes.
const MaxResultsCap = 100

// Rand is the random source of a [Service]. IntN returns a number in [0, n)
// for n > 0. Implementations must be safe for concurrent use.
type Rand interface {
	IntN(n int) int
}

// Service is a [bookshop.Recommender] over a [bookshop.BookStore]: it picks
// books of the requested category at random, as the tutorial does.
type Service struct {
	books bookshop.BookStore
	rand  Rand
}

// New returns a Service that recommends books from store, choosing with r.
// A nil r uses math/rand/v2's runtime-seeded source.
func New(store bookshop.BookStore, r Rand) *Service {
	if r == nil {
		r = globalRand{}
	}
	return &Service{books: store, rand: r}
}

// Recommend implements [bookshop.Recommender]. It returns min(req.MaxResults,
// books in the category, MaxResultsCap) distinct books of req.Category in
// random order. Errors: Invalid for a negative MaxResults; NotFound for a
// category that is unknown or has no books; whatever the store returns.
func (s *Service) Recommend(ctx context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	return s.RecommendAppend(ctx, req, nil)
}

// RecommendAppend is Recommend, appending the books to dst: for a caller
// that keeps none of them past the call, and gives a slice it uses again
// (the gRPC server), there is nothing to allocate. It returns dst as it
// was with an error.
func (s *Service) RecommendAppend(ctx context.Context, req bookshop.RecommendRequest, dst []bookshop.Book) ([]bookshop.Book, error) {
	if req.MaxResults < 0 {
		return dst, bookshop.Errorf(bookshop.Invalid, "max_results must be zero or more, got %d", req.MaxResults)
	}
	if !req.Category.Valid() {
		return dst, bookshop.Errorf(bookshop.NotFound, "category %d does not exist: the categories are 0 (MYSTERY), 1 (SCIENCE_FICTION) and 2 (SELF_HELP)", int32(req.Category))
	}
	books, err := s.books.BooksInCategory(ctx, req.Category)
	if err != nil {
		return dst, fmt.Errorf("books in category %s: %w", req.Category, err)
	}
	if len(books) == 0 {
		return dst, bookshop.Errorf(bookshop.NotFound, "the catalog has no books in category %s", strings.ToUpper(req.Category.String()))
	}
	n := min(req.MaxResults, len(books), MaxResultsCap)
	dst = slices.Grow(dst, n)
	var small [8]int // the homepage's three fit: no allocation
	idx := small[:0]
	if n > len(small) {
		idx = make([]int, 0, n)
	}
	for _, j := range sample(idx[:n], s.rand, len(books)) {
		dst = append(dst, books[j])
	}
	return dst, nil
}

// booksAppender is a [bookshop.Recommender] that can append the books it
// recommends to a slice it is given (see Service.RecommendAppend).
type booksAppender interface {
	RecommendAppend(ctx context.Context, req bookshop.RecommendRequest, dst []bookshop.Book) ([]bookshop.Book, error)
}

// sample fills out with len(out) distinct numbers from [0, n) in random
// order, len(out) <= n, and returns it.
//
// It runs the first k steps of a Fisher-Yates shuffle of 0..n-1 without
// materialising the whole permutation: positions that were swapped are kept
// in a map of at most 2k entries, so the cost is O(k) even when a category
// holds many books.
func sample(out []int, r Rand, n int) []int {
	k := len(out)
	swapped := make(map[int]int, 2*k) // position -> value, where not the identity
	at := func(i int) int {
		if v, ok := swapped[i]; ok {
			return v
		}
		return i
	}
	for i := range k {
		j := i + r.IntN(n-i)
		out[i] = at(j)
		swapped[j] = at(i)
	}
	return out
}

// globalRand uses math/rand/v2's top-level functions, which are safe for
// concurrent use without a shared lock.
type globalRand struct{}

func (globalRand) IntN(n int) int { return rand.IntN(n) }

// LockedRand makes a *rand.Rand, such as a seeded one for tests or a
// reproducible demo, safe for concurrent use.
type LockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

// NewLockedRand returns a LockedRand drawing from src.
func NewLockedRand(src rand.Source) *LockedRand {
	return &LockedRand{r: rand.New(src)}
}

// IntN implements [Rand].
func (l *LockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}
