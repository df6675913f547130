package catalogclient

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The Client searches, checked by the compiler.
var _ bookshop.Searcher = (*Client)(nil)

// Search implements [bookshop.Searcher] over SearchBooks. It checks q
// before calling, so that a query the Catalog would refuse costs no call.
// Errors: Invalid (with a message for the shopper), Unavailable, Internal.
func (c *Client) Search(ctx context.Context, q bookshop.SearchQuery) (bookshop.SearchResult, error) {
	if err := q.Validate(); err != nil {
		return bookshop.SearchResult{}, err
	}
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.SearchBooks(ctx, &catalogv1.SearchBooksRequest{Query: q.Text, Offset: int32(q.Offset), Limit: int32(q.Limit)})
	if err != nil {
		return bookshop.SearchResult{}, rpc.FromStatus(err)
	}
	res := bookshop.SearchResult{Books: make([]bookshop.Book, len(resp.GetBooks())), Total: int(resp.GetTotal())}
	for i, b := range resp.GetBooks() {
		res.Books[i] = BookFromProto(b)
	}
	return res, nil
}
