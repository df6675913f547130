package marketplace_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// noticeDetailsUnavailable is the book page's notice when the Catalog
// cannot give the book's details.
const noticeDetailsUnavailable = "We cannot show all of this book's details right now"

// tutorialBooks are mystery books as the tutorial's Recommendations server
// sends them, with an id and a title only, and two with what a server
// might add: a year alone, an author alone.
var tutorialBooks = []bookshop.Book{
	{ID: 1, Title: "The Maltese Falcon", Category: bookshop.Mystery},
	{ID: 2, Title: "Murder on the Orient Express", Year: 1934, Category: bookshop.Mystery},
	{ID: 3, Title: "The Hound of the Baskervilles", Author: "Arthur Conan Doyle", Category: bookshop.Mystery},
}

// wantMeta is what p.book-meta of each of tutorialBooks says: nothing at
// all without an author or a year.
var wantMeta = map[string]string{"1": "", "2": "1934", "3": "by Arthur Conan Doyle"}

// tutorialRecommender recommends tutorialBooks, of any category, as many
// as asked for.
type tutorialRecommender struct{}

func (tutorialRecommender) Recommend(_ context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	return tutorialBooks[:min(len(tutorialBooks), req.MaxResults)], nil
}

// tutorialCatalog holds tutorialBooks, as a Catalog of a server other than
// ours might (ours requires an author and a year of every book); it is
// the store of live recommendations too.
type tutorialCatalog struct{}

func (tutorialCatalog) Book(_ context.Context, id int32) (bookshop.Book, error) {
	for _, b := range tutorialBooks {
		if b.ID == id {
			return b, nil
		}
	}
	return bookshop.Book{}, bookshop.Errorf(bookshop.NotFound, "no book %d", id)
}

func (tutorialCatalog) BooksInCategory(_ context.Context, c bookshop.Category) ([]bookshop.Book, error) {
	if c != bookshop.Mystery {
		return []bookshop.Book{}, nil
	}
	return tutorialBooks, nil
}

func (tutorialCatalog) ExportBooks(_ context.Context, c bookshop.Category, _ int, yield func([]bookshop.Book) error) error {
	if c != bookshop.Mystery {
		return nil
	}
	return yield(tutorialBooks)
}

// emptyBy finds a "by" with nothing after it, and a book-meta paragraph
// that is empty or starts with a comma.
var emptyBy = regexp.MustCompile(`\bby\s*<|class="book-meta">\s*(</p>|,)`)

// bookMetas returns the text of p.book-meta of each li.book of body, by
// data-book-id ("" for a book without one).
func bookMetas(tb testing.TB, body string) map[string]string {
	tb.Helper()
	doc := parseHTML(tb, body)
	metas := make(map[string]string)
	for li := range doc.Descendants() {
		if li.DataAtom != atom.Li || !hasClass(li, "book") {
			continue
		}
		id := attr(li, "data-book-id")
		metas[id] = ""
		for p := range li.Descendants() {
			if p.Type == html.ElementNode && p.DataAtom == atom.P && hasClass(p, "book-meta") {
				metas[id] = text(p)
			}
		}
	}
	return metas
}

// TestBooksWithoutAuthorOrYear serves books as the tutorial's
// Recommendations server sends them, with neither author nor year, on
// every page that shows books: never a "by" with nothing after it, nor a
// year 0, in the HTML or the JSON.
func TestBooksWithoutAuthorOrYear(t *testing.T) {
	srv := startSite(t, marketplace.Options{
		Recommender: grpcRecommender(t, tutorialRecommender{}),
		Catalog:     tutorialCatalog{},
	})
	for _, tc := range []struct {
		target string
		want   map[string]string // the book-meta of each book shown
	}{
		{"/", wantMeta},
		{"/categories/mystery", wantMeta},
		{"/books/1", map[string]string{"2": "1934", "3": "by Arthur Conan Doyle"}}, // its panel
	} {
		r := get(t, srv, tc.target)
		wantHTML(t, "GET", tc.target, r, http.StatusOK)
		if m := emptyBy.FindString(r.body); m != "" {
			t.Errorf("GET %s shows %q: an author or a year that is not there", tc.target, m)
		}
		got := bookMetas(t, r.body)
		if len(got) != len(tc.want) {
			t.Errorf("GET %s shows books %v, want %v", tc.target, got, tc.want)
		}
		for id, want := range tc.want {
			if got[id] != want {
				t.Errorf("GET %s: the book-meta of book %s = %q, want %q", tc.target, id, got[id], want)
			}
		}
	}

	r := get(t, srv, "/books/1")
	doc := parseHTML(t, r.body)
	for id, want := range map[string]string{"book-title": "The Maltese Falcon", "book-author": "unknown", "book-year": "unknown"} {
		if n := byID(doc, id); n == nil || text(n) != want {
			t.Errorf("GET /books/1: #%s = %v, want %q", id, n, want)
		}
	}

	r = get(t, srv, "/api/books/1")
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/books/1 = %d, want 200: %s", r.status, r.body)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(r.body), &fields); err != nil {
		t.Fatal(err)
	}
	for _, unknown := range []string{"author", "year"} {
		if v, ok := fields[unknown]; ok {
			t.Errorf("GET /api/books/1 has %s %v, want it left out: the book has none", unknown, v)
		}
	}
	if fields["title"] != "The Maltese Falcon" {
		t.Errorf("GET /api/books/1 title = %v, want The Maltese Falcon", fields["title"])
	}
}

// TestBookPageWithoutCatalog checks the book page of a book the Catalog
// cannot give, as behind the tutorial's Recommendations server, which has
// no CatalogService: a recommended book's page still says which book it is
// (its title, its category, the "you may also like" panel) with a notice,
// and nothing to buy; a book never recommended gets the 503 page; the
// book's JSON, which only the page's script reads, stays a 503, after
// which the script loads the page. The Catalog's absence is one warning
// in the log, not one per page.
func TestBookPageWithoutCatalog(t *testing.T) {
	down := catalogclient.New(mustDial(t, rpctest.ClosedAddr(t)), 5*time.Second)
	logger, logs := testLogger(t)
	srv := startSite(t, marketplace.Options{
		Logger:      logger,
		Recommender: grpcRecommender(t, tutorialRecommender{}),
		Catalog:     down,
	})
	if r := get(t, srv, "/books/1"); r.status != http.StatusServiceUnavailable {
		t.Errorf("GET /books/1 before any recommendation = %d, want 503: we know nothing of the book", r.status)
	}
	wantHTML(t, "GET", "/", get(t, srv, "/"), http.StatusOK) // recommends books 1 to 3

	r := get(t, srv, "/books/1")
	wantHTML(t, "GET", "/books/1", r, http.StatusOK)
	wantNoInternalText(t, "/books/1", r.body)
	doc := parseHTML(t, r.body)
	for id, want := range map[string]string{
		"book-title":    "The Maltese Falcon",
		"book-notice":   noticeDetailsUnavailable + ". Please try again in a moment.",
		"book-author":   "unknown",
		"book-year":     "unknown",
		"book-category": "Mystery",
	} {
		if n := byID(doc, id); n == nil || text(n) != want {
			t.Errorf("GET /books/1 without the Catalog: #%s = %q, want %q", id, textOrNil(n), want)
		}
	}
	if n := byID(doc, "add-to-cart"); n == nil || !hasAttr(n, "hidden") {
		t.Error(`GET /books/1 without the Catalog shows "Add to cart", want it hidden: there is no price`)
	}
	if got := bookMetas(t, r.body); len(got) != 2 {
		t.Errorf("GET /books/1 without the Catalog: the panel shows %v, want books 2 and 3", got)
	}
	if r := get(t, srv, "/books/9"); r.status != http.StatusServiceUnavailable {
		t.Errorf("GET /books/9, never recommended, without the Catalog = %d, want 503", r.status)
	}
	if r := get(t, srv, "/api/books/1"); r.status != http.StatusServiceUnavailable {
		t.Errorf("GET /api/books/1 without the Catalog = %d, want 503", r.status)
	}

	for range 3 {
		get(t, srv, "/books/2")
	}
	warnings, debug := 0, 0
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if !strings.Contains(l, "catalog failed;") || !strings.Contains(l, "the book page") {
			continue
		}
		switch {
		case strings.Contains(l, "level=WARN"):
			warnings++
		case strings.Contains(l, "level=DEBUG"):
			debug++
		}
	}
	if warnings != 1 || debug != 5 {
		t.Errorf("log lines of book pages without the Catalog: %d warnings and %d debug lines, want 1 warning (the outage began) and 5 debug lines (the other pages)", warnings, debug)
	}
}

// textOrNil is the text of n, or "<nil>" for none.
func textOrNil(n *html.Node) string {
	if n == nil {
		return "<nil>"
	}
	return text(n)
}
