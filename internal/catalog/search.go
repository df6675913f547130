package catalog

import (
	"context"
	"fmt"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The Service searches, checked by the compiler.
var _ bookshop.Searcher = (*Service)(nil)

// Search implements [bookshop.Searcher] from the Service's index (see
// package search for what matches and how results are ranked), and the
// store's books, as they are now, each without its price when it is not
// in the shop's currency. Errors: Invalid, as
// [bookshop.SearchQuery.Validate] says.
func (s *Service) Search(ctx context.Context, q bookshop.SearchQuery) (bookshop.SearchResult, error) {
	res, err := s.index.Search(q)
	if err != nil {
		return bookshop.SearchResult{}, err
	}
	books := make([]bookshop.Book, len(res.IDs))
	for i, id := range res.IDs {
		// The index only has books the store had first: it is told of an
		// import's books once the store has them. So a book missing is a
		// bug, logged, not a NotFound for the caller: %v, not %w.
		b, err := s.store.Book(ctx, id)
		if err != nil {
			return bookshop.SearchResult{}, fmt.Errorf("search: book %d of the index: %v", id, err)
		}
		books[i] = s.served(b)
	}
	return bookshop.SearchResult{Books: books, Total: res.Total}, nil
}
