package loadgen

import (
	"context"
	"errors"
	"fmt"

	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
)

// SearchQueries are the queries of the Search target by default: what
// shoppers type into the built-in catalog (words of titles and authors,
// a phrase, a word begun), and two over the books the Import target
// writes ("Load test ... book N" by Bookshop Bench): one that finds a few
// of them, and one that finds every one, the most work a query makes.
var SearchQueries = []string{
	"christie",
	"agatha christie",
	"orient express",
	"dune",
	"murder",
	"agat",
	"ender's game",
	"load test book 7",
	"bench",
}

// Search is the target of CatalogService.SearchBooks, unary: each worker
// asks for the first page of its queries in turn, each starting at a
// query of its own. A call whose query finds no book fails: the catalog
// is not the one the queries were written for.
type Search struct {
	conns   grpcConns
	queries []string
	limit   int32
}

// NewSearch returns a Search target over queries (SearchQueries when
// nil), asking for pages of limit books.
func NewSearch(cfg GRPCConfig, queries []string, limit int32) (*Search, error) {
	if queries == nil {
		queries = SearchQueries
	}
	if len(queries) == 0 {
		return nil, errors.New("no queries to search for")
	}
	conns, err := dialGRPC(cfg)
	if err != nil {
		return nil, err
	}
	return &Search{conns: conns, queries: queries, limit: limit}, nil
}

// Worker implements [Target].
func (t *Search) Worker(_ context.Context, i int) (Worker, error) {
	return &searchWorker{client: catalogv1.NewCatalogServiceClient(t.conns.conn(i)), t: t, next: i % len(t.queries)}, nil
}

// Close implements [Target].
func (t *Search) Close() error { return t.conns.Close() }

type searchWorker struct {
	client catalogv1.CatalogServiceClient
	t      *Search
	next   int // the query of the next call
}

func (w *searchWorker) Call(ctx context.Context) (int, error) {
	q := w.t.queries[w.next]
	w.next = (w.next + 1) % len(w.t.queries)
	resp, err := w.client.SearchBooks(ctx, &catalogv1.SearchBooksRequest{Query: q, Limit: w.t.limit})
	if err != nil {
		return 0, err
	}
	if resp.GetTotal() == 0 {
		return 0, fmt.Errorf("search %q found no book", q)
	}
	return 1, nil
}

func (w *searchWorker) Close() error { return nil }
