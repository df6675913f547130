package catalog_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
)

func titles(books []bookshop.Book) []string {
	var out []string
	for _, b := range books {
		out = append(out, b.Title)
	}
	return out
}

// TestSearchBooks searches the built-in catalog through the client, over
// real gRPC: what matches, in which order, and the books whole, with their
// prices.
func TestSearchBooks(t *testing.T) {
	client := catalogclient.New(startCatalog(t, openDB(t, builtinBooks(t))), 10*time.Second)
	christie := []string{"Murder on the Orient Express", "And Then There Were None", "The Murder of Roger Ackroyd"}
	tests := []struct {
		query string
		want  []string // titles, in order
	}{
		{"agatha", christie},
		{"christie", christie},
		{"AGATHA Christie", christie},
		{"christie agatha", christie},
		{"agat", christie},
		{"orient", christie[:1]},
		{"christie orient", christie[:1]},
		{"murder christie", []string{"Murder on the Orient Express", "The Murder of Roger Ackroyd"}},
		{"ender's game", []string{"Ender's Game"}},
		{"enders", []string{"Ender's Game"}},
		// Accents, folded both ways.
		{"nesbø", []string{"The Snowman"}},
		{"nesbo", []string{"The Snowman"}},
		{"HOEG smilla", []string{"Smilla's Sense of Snow"}},
		{"stanislaw lem", []string{"Solaris"}},
		{"no such book", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res, err := client.Search(testContext(t), bookshop.SearchQuery{Text: tt.query, Limit: 20})
			if err != nil {
				t.Fatalf("Search(%q): %v", tt.query, err)
			}
			if got := titles(res.Books); !slices.Equal(got, tt.want) || res.Total != len(tt.want) {
				t.Errorf("Search(%q) = %q (total %d), want %q", tt.query, got, res.Total, tt.want)
			}
			for _, b := range res.Books {
				if b.ID < 1 || b.Author == "" || b.Year == 0 || !b.Category.Valid() || b.Price.Units <= 0 {
					t.Errorf("Search(%q) gave %+v, want a whole book with its price", tt.query, b)
				}
			}
		})
	}
}

// TestSearchBooksPages checks the pages of a search over gRPC: a page
// past the end is empty and still tells the total, and a request without
// a limit gets DefaultSearchLimit books.
func TestSearchBooksPages(t *testing.T) {
	db := openDB(t, builtinBooks(t))
	svc := catalog.NewService(db, "", 0, nil)
	items := make([]bookshop.ImportItem, 45)
	for i := range items {
		items[i].Book = bookshop.Book{Title: fmt.Sprintf("Paged %d", i+1), Author: "Page Writer", Year: 2000, Category: bookshop.SelfHelp, Price: testPrice}
	}
	res := importBooks(t, svc, items)
	first := res.Books[0].ID
	conn := dial(t, startService(t, svc))
	raw := catalogv1.NewCatalogServiceClient(conn)
	client := catalogclient.New(conn, 10*time.Second)

	resp, err := raw.SearchBooks(testContext(t), &catalogv1.SearchBooksRequest{Query: "paged"})
	if err != nil {
		t.Fatalf("SearchBooks without a limit: %v", err)
	}
	if len(resp.GetBooks()) != catalog.DefaultSearchLimit || resp.GetTotal() != 45 {
		t.Errorf("SearchBooks without a limit = %d books of %d, want %d of 45", len(resp.GetBooks()), resp.GetTotal(), catalog.DefaultSearchLimit)
	}
	tests := []struct {
		offset, limit int
		want          []int32 // ids, relative to the first imported
	}{
		{0, 3, []int32{0, 1, 2}},
		{40, 10, []int32{40, 41, 42, 43, 44}},
		{44, 1, []int32{44}},
		{45, 10, nil},
		{bookshop.MaxSearchOffset, bookshop.MaxSearchLimit, nil},
	}
	for _, tt := range tests {
		res, err := client.Search(testContext(t), bookshop.SearchQuery{Text: "paged", Offset: tt.offset, Limit: tt.limit})
		if err != nil {
			t.Fatalf("Search(offset %d, limit %d): %v", tt.offset, tt.limit, err)
		}
		var got []int32
		for _, b := range res.Books {
			got = append(got, b.ID-first)
		}
		if !slices.Equal(got, tt.want) || res.Total != 45 {
			t.Errorf("Search(offset %d, limit %d) = %v (total %d), want %v (total 45)", tt.offset, tt.limit, got, res.Total, tt.want)
		}
	}
}

// TestSearchBooksInvalid checks that the server itself refuses bad
// queries with INVALID_ARGUMENT and a message for the shopper (no
// validators run on this server), and that the client refuses them
// without a call.
func TestSearchBooksInvalid(t *testing.T) {
	conn := startCatalog(t, openDB(t, builtinBooks(t)))
	raw := catalogv1.NewCatalogServiceClient(conn)
	client := catalogclient.New(conn, 10*time.Second)
	tests := []struct {
		name string
		req  *catalogv1.SearchBooksRequest
		want string
	}{
		{"empty", &catalogv1.SearchBooksRequest{}, "Type words of a title or an author"},
		{"blank", &catalogv1.SearchBooksRequest{Query: "  \t"}, "Type words of a title or an author"},
		{"too long", &catalogv1.SearchBooksRequest{Query: strings.Repeat("christie ", 30)}, "use at most 200"},
		{"no letter or digit", &catalogv1.SearchBooksRequest{Query: "?!"}, "letters or digits"},
		{"negative offset", &catalogv1.SearchBooksRequest{Query: "christie", Offset: -1}, "offset -1"},
		{"offset too deep", &catalogv1.SearchBooksRequest{Query: "christie", Offset: 10001}, "offset 10001"},
		{"limit too high", &catalogv1.SearchBooksRequest{Query: "christie", Limit: 101}, "limit 101"},
		{"negative limit", &catalogv1.SearchBooksRequest{Query: "christie", Limit: -5}, "limit -5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := raw.SearchBooks(testContext(t), tt.req)
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tt.want) {
				t.Errorf("SearchBooks(%v) = %v, want INVALID_ARGUMENT saying %q", tt.req, err, tt.want)
			}
			q := bookshop.SearchQuery{Text: tt.req.GetQuery(), Offset: int(tt.req.GetOffset()), Limit: int(tt.req.GetLimit())}
			if q.Limit == 0 {
				q.Limit = 20
			}
			if _, err := client.Search(testContext(t), q); bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tt.want) {
				t.Errorf("client Search(%+v) = %v, want Invalid saying %q", q, err, tt.want)
			}
		})
	}
}

// TestSearchFindsImports checks that the index keeps up with imports: a
// book is found as soon as its import returns, over gRPC, import after
// import.
func TestSearchFindsImports(t *testing.T) {
	svc := catalog.NewService(openDB(t, builtinBooks(t)), "", 0, nil)
	client := catalogclient.New(dial(t, startService(t, svc)), 10*time.Second)
	search := func(text string) bookshop.SearchResult {
		t.Helper()
		res, err := client.Search(testContext(t), bookshop.SearchQuery{Text: text, Limit: 100})
		if err != nil {
			t.Fatalf("Search(%q): %v", text, err)
		}
		return res
	}
	if res := search("bronte"); res.Total != 0 {
		t.Fatalf("Search(bronte) before the import = %q, want nothing", titles(res.Books))
	}
	importBooks(t, svc, []bookshop.ImportItem{
		{Book: bookshop.Book{Title: "Jane Eyre", Author: "Charlotte Brontë", Year: 1847, Category: bookshop.Mystery, Price: testPrice}},
	})
	for _, q := range []string{"bronte", "Brontë", "BRONTË", "jane eyre", "eyre charlotte"} {
		if res := search(q); !slices.Equal(titles(res.Books), []string{"Jane Eyre"}) {
			t.Errorf("Search(%q) after the import = %q, want [Jane Eyre]", q, titles(res.Books))
		}
	}
	for i := range 20 {
		importBooks(t, svc, []bookshop.ImportItem{
			{Book: bookshop.Book{Title: fmt.Sprintf("Wuthering Heights, volume %d", i+1), Author: "Emily Brontë", Year: 1847, Category: bookshop.Mystery, Price: testPrice}},
		})
		if res := search("bronte"); res.Total != i+2 {
			t.Fatalf("Search(bronte) after %d more imports = %d books, want %d", i+1, res.Total, i+2)
		}
	}
	if got := titles(search("bronte").Books)[:3]; !slices.Equal(got, []string{"Jane Eyre", "Wuthering Heights, volume 1", "Wuthering Heights, volume 2"}) {
		t.Errorf("Search(bronte) begins %q, want the books by id", got)
	}
}
