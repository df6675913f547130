package marketplace_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
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

// noticeSearchUnavailable is what the search page says when the Catalog
// cannot answer.
const noticeSearchUnavailable = "Search is unavailable right now"

// noSearch is a Searcher that is never available, for handlers served in
// process without a Catalog.
type noSearch struct{}

func (noSearch) Search(context.Context, bookshop.SearchQuery) (bookshop.SearchResult, error) {
	return bookshop.SearchResult{}, bookshop.Errorf(bookshop.Unavailable, "no search here")
}

// searchView is what a test reads from a search page, besides page.
type searchView struct {
	box    string // the value of the header's search box
	alert  string // the text of the role=alert message
	start  string // the start attribute of the list of results
	prev   string // the previous page's link
	next   string
	pages  []string // the page links' texts, "…" for a gap, "[n]" for the current page
	linkOf map[string]string
}

func parseSearch(tb testing.TB, body string) searchView {
	tb.Helper()
	doc := parseHTML(tb, body)
	v := searchView{linkOf: make(map[string]string)}
	boxes := 0
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch {
		case n.DataAtom == atom.Form && attr(n, "role") == "search":
			for c := range n.Descendants() {
				if c.DataAtom == atom.Input && attr(c, "name") == "q" {
					boxes++
					v.box = attr(c, "value")
					if id := attr(c, "id"); id == "" || byLabelFor(doc, id) == "" {
						tb.Errorf("the search box has no label")
					}
				}
			}
			if attr(n, "action") != "/search" || !strings.EqualFold(attr(n, "method"), "get") {
				tb.Errorf("the search form goes to %s %s, want GET /search", attr(n, "method"), attr(n, "action"))
			}
		case attr(n, "role") == "alert":
			v.alert = text(n)
		case n.DataAtom == atom.Ol && hasClass(n, "books"):
			v.start = attr(n, "start")
		case n.DataAtom == atom.Nav && hasClass(n, "pages"):
			for li := range n.Descendants() {
				if li.DataAtom != atom.Li {
					continue
				}
				if hasClass(li, "gap") {
					v.pages = append(v.pages, "…")
					continue
				}
				for a := range li.Descendants() {
					if a.DataAtom != atom.A {
						continue
					}
					label := text(a)
					switch {
					case attr(a, "rel") == "prev":
						v.prev = attr(a, "href")
					case attr(a, "rel") == "next":
						v.next = attr(a, "href")
					case attr(a, "aria-current") == "page":
						v.pages = append(v.pages, "["+label+"]")
					default:
						v.pages = append(v.pages, label)
					}
					v.linkOf[label] = attr(a, "href")
				}
			}
		}
	}
	if boxes != 1 {
		tb.Errorf("the page has %d search boxes, want 1", boxes)
	}
	return v
}

// byLabelFor returns the text of the label for the element with id.
func byLabelFor(doc *html.Node, id string) string {
	for n := range doc.Descendants() {
		if n.DataAtom == atom.Label && attr(n, "for") == id {
			return text(n)
		}
	}
	return ""
}

func bookTitles(p page) []string {
	var out []string
	for _, b := range p.Books {
		out = append(out, b.Title)
	}
	return out
}

// TestSearch searches the built-in catalog through the site, the Catalog
// behind real gRPC: the books found, best first, as the site's book
// cards, the count in the heading, the query kept in the box.
func TestSearch(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{})
	christie := []string{"Murder on the Orient Express", "And Then There Were None", "The Murder of Roger Ackroyd"}
	tests := []struct {
		query   string
		heading string
		titles  []string
	}{
		{"christie", "3 results for “christie”", christie},
		{"agatha", "3 results for “agatha”", christie},
		{"AGATHA Christie", "3 results for “AGATHA Christie”", christie},
		{"  agat ", "3 results for “agat”", christie},
		{"orient", "1 result for “orient”", christie[:1]},
		{"christie orient", "1 result for “christie orient”", christie[:1]},
		{"ender’s game", "1 result for “ender’s game”", []string{"Ender's Game"}},
		{"<b>zzz</b>", "No results for “<b>zzz</b>”", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			target := "/search?q=" + url.QueryEscape(tt.query)
			r := get(t, srv, target)
			wantHTML(t, "GET", target, r, http.StatusOK)
			p := parsePage(t, r.body)
			v := parseSearch(t, r.body)
			if !slices.Equal(p.H1, []string{tt.heading}) {
				t.Errorf("GET %s h1 = %q, want %q", target, p.H1, tt.heading)
			}
			if got := bookTitles(p); !slices.Equal(got, tt.titles) {
				t.Errorf("GET %s books = %q, want %q", target, got, tt.titles)
			}
			if v.box != strings.TrimSpace(tt.query) {
				t.Errorf("GET %s search box holds %q, want %q", target, v.box, strings.TrimSpace(tt.query))
			}
			if want := "“" + strings.TrimSpace(tt.query) + "” · Search · " + siteTitle; p.Title != want {
				t.Errorf("GET %s title = %q, want %q", target, p.Title, want)
			}
			if v.pages != nil || v.prev != "" || v.next != "" {
				t.Errorf("GET %s has page links %q, prev %q, next %q; want none for one page", target, v.pages, v.prev, v.next)
			}
			if tt.titles == nil && !strings.Contains(p.Notice, "Check the spelling") {
				t.Errorf("GET %s notice = %q, want advice for no results", target, p.Notice)
			}
			if strings.Contains(r.body, "<b>zzz") {
				t.Errorf("GET %s shows the query unescaped", target)
			}
		})
	}
	// Every page's header has the search box, empty.
	r := get(t, srv, "/categories/mystery")
	if v := parseSearch(t, r.body); v.box != "" {
		t.Errorf("GET /categories/mystery search box holds %q, want it empty", v.box)
	}
}

// TestSearchBadQuery checks that a search the Catalog would refuse, or an
// address the page cannot read, gets a 400 page that says what is wrong,
// with the search box, never a 500.
func TestSearchBadQuery(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{})
	long := strings.Repeat("agatha ", 40)
	tests := []struct {
		target string
		want   string // words of the message
		box    string // what the search box holds
	}{
		{"/search", "Type words of a title or an author", ""},
		{"/search?q=", "Type words of a title or an author", ""},
		{"/search?q=+%09+", "Type words of a title or an author", ""},
		{"/search?q=" + url.QueryEscape(long), "279 characters long: use at most 200", strings.TrimSpace(long)[:200]},
		{"/search?q=%3F%21", "Search with letters or digits", "?!"},
		{"/search?q=%FF", "not valid text", "\uFFFD"},
		{"/search?q=a&q=b", "Search for one thing at a time", "a"},
		{"/search?q=dune&page=0", `"0" is not a page of results: pages are numbered from 1 to 501`, "dune"},
		{"/search?q=dune&page=502", `"502" is not a page`, "dune"},
		{"/search?q=dune&page=01", `"01" is not a page`, "dune"},
		{"/search?q=dune&page=two", `"two" is not a page`, "dune"},
		{"/search?q=dune&page=1&page=2", "Choose one page, not 2", "dune"},
		{"/search?q=%zz", "malformed query string", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := get(t, srv, tt.target)
			wantHTML(t, "GET", tt.target, r, http.StatusBadRequest)
			v := parseSearch(t, r.body)
			if !strings.Contains(v.alert, tt.want) {
				t.Errorf("GET %s message = %q, want %q", tt.target, v.alert, tt.want)
			}
			if v.box != tt.box {
				t.Errorf("GET %s search box holds %q, want %q", tt.target, v.box, tt.box)
			}
			if p := parsePage(t, r.body); len(p.Books) != 0 {
				t.Errorf("GET %s shows %d books, want none", tt.target, len(p.Books))
			}
			wantNoInternalText(t, tt.target, r.body)
		})
	}
	r := do(t, srv, http.MethodPost, "/search?q=dune")
	if r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /search = %d, want 405", r.status)
	}
	if r := do(t, srv, http.MethodHead, "/search?q=dune"); r.status != http.StatusOK || r.body != "" {
		t.Errorf("HEAD /search = %d with %d bytes, want 200 and no body", r.status, len(r.body))
	}
}

// TestSearchPages pages through 205 results: twenty books a page, the
// links to the pages around the current one, the first and the last, and
// a page past the last that says where they end.
func TestSearchPages(t *testing.T) {
	books := builtinCatalog(t).Books()
	for i := range 205 {
		books = append(books, bookshop.Book{
			ID: int32(1000 + i), Title: fmt.Sprintf("Paged book %d", i+1), Author: "Page Writer",
			Year: 2001, Category: bookshop.SelfHelp, Price: bookshop.Money{Units: 999, Currency: bookshop.DefaultCurrency},
		})
	}
	svc := startServices(t, bookshop.NewShelf(books), seededRand())
	srv := startSite(t, marketplace.Options{Recommender: svc.rec, Catalog: svc.catalog, Live: svc.live, Searcher: svc.catalog})
	page1 := "/search?q=paged+writer"
	tests := []struct {
		target     string
		status     int
		first      int // the first book's number, 0 for none
		books      int
		start      string
		prev, next string
		pages      []string
	}{
		{page1, http.StatusOK, 1, 20, "", "", page1 + "&page=2", []string{"[1]", "2", "3", "…", "11"}},
		{page1 + "&page=2", http.StatusOK, 21, 20, "21", page1, page1 + "&page=3", []string{"1", "[2]", "3", "4", "…", "11"}},
		{page1 + "&page=6", http.StatusOK, 101, 20, "101", page1 + "&page=5", page1 + "&page=7", []string{"1", "…", "4", "5", "[6]", "7", "8", "…", "11"}},
		{page1 + "&page=11", http.StatusOK, 201, 5, "201", page1 + "&page=10", "", []string{"1", "…", "9", "10", "[11]"}},
		{page1 + "&page=12", http.StatusNotFound, 0, 0, "", page1 + "&page=11", "", []string{"1", "…", "9", "10", "11"}},
		{page1 + "&page=501", http.StatusNotFound, 0, 0, "", page1 + "&page=11", "", []string{"1", "…", "9", "10", "11"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := get(t, srv, tt.target)
			wantHTML(t, "GET", tt.target, r, tt.status)
			p := parsePage(t, r.body)
			v := parseSearch(t, r.body)
			if want := "205 results for “paged writer”"; !slices.Equal(p.H1, []string{want}) {
				t.Errorf("GET %s h1 = %q, want %q", tt.target, p.H1, want)
			}
			if len(p.Books) != tt.books || tt.first > 0 && p.Books[0].Title != fmt.Sprintf("Paged book %d", tt.first) {
				t.Errorf("GET %s books = %q, want %d from Paged book %d", tt.target, bookTitles(p), tt.books, tt.first)
			}
			if v.start != tt.start || v.prev != tt.prev || v.next != tt.next || !slices.Equal(v.pages, tt.pages) {
				t.Errorf("GET %s list start %q, prev %q, next %q, pages %q; want %q, %q, %q, %q", tt.target, v.start, v.prev, v.next, v.pages, tt.start, tt.prev, tt.next, tt.pages)
			}
			if tt.status == http.StatusNotFound && !strings.Contains(p.Notice, "the results end on page 11") {
				t.Errorf("GET %s notice = %q, want where the results end", tt.target, p.Notice)
			}
			// Every link leads to a page of the same search.
			for label, href := range v.linkOf {
				if u, err := url.Parse(href); err != nil || u.Path != "/search" || u.Query().Get("q") != "paged writer" {
					t.Errorf("GET %s link %q goes to %q, want a page of the same search", tt.target, label, href)
				}
			}
		})
	}
}

// TestSearchPageLinksBounded checks that however many pages a search has,
// and whichever is shown, the links stay few.
func TestSearchPageLinksBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		total := r.IntN(20_000)
		current := 1 + r.IntN(501)
		prev, next, pages := marketplace.PageLinks("x", current, min((total+19)/20, 501))
		if len(pages) > 9 {
			t.Fatalf("PageLinks(page %d of %d results) = %d links, want at most 9", current, total, len(pages))
		}
		if current == 1 && prev != "" {
			t.Errorf("PageLinks(page 1) has a previous page %q", prev)
		}
		if current*20 >= total && next != "" {
			t.Errorf("PageLinks(page %d of %d results) has a next page %q", current, total, next)
		}
	}
}

// TestSearchUnavailable checks that when the Catalog cannot be reached,
// the search page still renders, header and box included, with a notice
// and 503, never a 500 or the error's text.
func TestSearchUnavailable(t *testing.T) {
	logger, logs := testLogger(t)
	down := catalogclient.New(mustDial(t, rpctest.ClosedAddr(t)), 5*time.Second)
	srv, _ := startLiveSite(t, marketplace.Options{Logger: logger, Searcher: down})
	target := "/search?q=christie"
	r := get(t, srv, target)
	wantHTML(t, "GET", target, r, http.StatusServiceUnavailable)
	p := parsePage(t, r.body)
	v := parseSearch(t, r.body)
	if !strings.Contains(p.Notice, noticeSearchUnavailable) || len(p.Books) != 0 || v.box != "christie" {
		t.Errorf("GET %s notice %q, %d books, box %q; want the notice, no books, the query in the box", target, p.Notice, len(p.Books), v.box)
	}
	if len(p.Nav) == 0 || !slices.Equal(p.H1, []string{"Search for “christie”"}) {
		t.Errorf("GET %s nav %v, h1 %q; want the site's header and the query", target, p.Nav, p.H1)
	}
	wantNoInternalText(t, target, r.body)
	if !strings.Contains(logs.String(), "search failed") {
		t.Errorf("the log does not tell why the search failed:\n%s", logs)
	}
	// A bad query is still a 400, Catalog or not.
	wantHTML(t, "GET", "/search?q=", get(t, srv, "/search?q="), http.StatusBadRequest)
}
