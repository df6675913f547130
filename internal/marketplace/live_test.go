package marketplace_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// noLive is a LiveRecommender that is never reachable, for tests that do
// not use the live panel.
type noLive struct{}

func (noLive) Open(context.Context, int32, int) (bookshop.LiveStream, error) {
	return nil, bookshop.Errorf(bookshop.Unavailable, "no live recommendations in this test")
}

// countingLive is the real LiveServer, counting the streams it serves.
type countingLive struct {
	*recommendations.LiveServer
	open atomic.Int32
}

func (c *countingLive) LiveRecommend(stream grpc.BidiStreamingServer[recommendationsv1.LiveRecommendRequest, recommendationsv1.LiveRecommendResponse]) error {
	c.open.Add(1)
	defer c.open.Add(-1)
	return c.LiveServer.LiveRecommend(stream)
}

// waitOpen waits until the server has want streams open.
func (c *countingLive) waitOpen(tb testing.TB, want int32) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.open.Load() != want {
		if time.Now().After(deadline) {
			tb.Fatalf("the Live server has %d streams open, want %d", c.open.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// services are the gRPC services behind the Marketplace, and clients of
// them over one connection, as production wires them.
type services struct {
	catalogAddr string // where the Catalog (and the others) listen
	rec         *recommendationsclient.Client
	catalog     *catalogclient.Client
	live        *recommendationsclient.LiveClient
	streams     *countingLive
}

// startServices serves Recommendations and Live over books, and the
// Catalog over an in-memory database seeded with them, on one gRPC server
// on loopback, and returns clients of them over one connection.
func startServices(tb testing.TB, books *bookshop.Shelf, r recommendations.Rand) *services {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sqlite.Open(ctx, sqlite.Memory, books.Books())
	if err != nil {
		tb.Fatalf("sqlite.Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	streams := new(countingLive)
	addr := rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(recommendations.New(books, r), logger))
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(catalog.NewService(db, "", 0, nil), logger))
		streams.LiveServer = recommendations.NewLiveServer(func() *recommendations.Session { return recommendations.NewSession(books, r) }, logger)
		recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, streams)
	})
	conn := mustDial(tb, addr)
	return &services{
		catalogAddr: addr,
		rec:         recommendationsclient.New(conn, 10*time.Second),
		catalog:     catalogclient.New(conn, 10*time.Second),
		live:        recommendationsclient.NewLiveClient(conn),
		streams:     streams,
	}
}

// startLiveSite serves the Marketplace over the built-in catalog, with
// every service behind real gRPC on loopback. Fields of cfg that are set
// win.
func startLiveSite(tb testing.TB, cfg marketplace.Options) (*httptest.Server, *services) {
	tb.Helper()
	svc := startServices(tb, builtinCatalog(tb), seededRand())
	if cfg.Recommender == nil {
		cfg.Recommender = svc.rec
	}
	if cfg.Catalog == nil {
		cfg.Catalog = svc.catalog
	}
	if cfg.Searcher == nil {
		cfg.Searcher = svc.catalog
	}
	if cfg.Live == nil {
		cfg.Live = svc.live
	}
	return startSite(tb, cfg), svc
}

// parseHTML parses body, failing the test if it cannot.
func parseHTML(tb testing.TB, body string) *html.Node {
	tb.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		tb.Fatalf("parse HTML: %v\n%s", err, body)
	}
	return doc
}

// byID returns the element of doc with the given id, or nil.
func byID(doc *html.Node, id string) *html.Node {
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && attr(n, "id") == id {
			return n
		}
	}
	return nil
}

// bookLinks returns the href of the link of each li.book of doc, in order.
func bookLinks(doc *html.Node) []string {
	var out []string
	for n := range doc.Descendants() {
		if n.DataAtom != atom.Li || !hasClass(n, "book") {
			continue
		}
		for a := range n.Descendants() {
			if a.DataAtom == atom.A {
				out = append(out, attr(a, "href"))
				break
			}
		}
	}
	return out
}

// TestBookPage checks a book's page: the book, a link to its category, the
// panel of other books of its category, and the live script.
func TestBookPage(t *testing.T) {
	books := builtinCatalog(t)
	srv, _ := startLiveSite(t, marketplace.Options{})
	for _, id := range []int32{1, 4, 35, books.Books()[books.Len()-1].ID} {
		book, err := books.Book(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		target := fmt.Sprintf("/books/%d", id)
		t.Run(target, func(t *testing.T) {
			r := get(t, srv, target)
			wantHTML(t, "GET", target, r, http.StatusOK)
			wantSecurityHeaders(t, "GET", target, r)
			p := parsePage(t, r.body)
			doc := parseHTML(t, r.body)
			if want := book.Title + " · " + siteTitle; p.Title != want {
				t.Errorf("GET %s title = %q, want %q", target, p.Title, want)
			}
			if !slices.Equal(p.H1, []string{book.Title}) {
				t.Errorf("GET %s h1 = %q, want [%q]", target, p.H1, book.Title)
			}
			wantNavCurrent(t, target, p, "")
			for id, want := range map[string]string{
				"book-author":   book.Author,
				"book-year":     strconv.Itoa(book.Year),
				"book-category": categoryLabels[book.Category],
				"book-price":    book.Price.Format(),
			} {
				if n := byID(doc, id); n == nil || text(n) != want {
					t.Errorf("GET %s #%s = %v, want %q", target, id, n, want)
				}
			}
			if n := byID(doc, "book-category"); n == nil || attr(n, "href") != "/categories/"+book.Category.String() {
				t.Errorf("GET %s category link = %v, want href /categories/%s", target, n, book.Category)
			}

			panel := byID(doc, "live-panel")
			if panel == nil || attr(panel, "aria-live") != "polite" {
				t.Fatalf("GET %s has no #live-panel with aria-live=polite", target)
			}
			if len(p.Books) != 4 {
				t.Fatalf("GET %s panel shows %d books, want 4: %+v", target, len(p.Books), p.Books)
			}
			for i, got := range p.Books {
				if got.ID == strconv.Itoa(int(id)) {
					t.Errorf("GET %s panel shows the book itself", target)
				}
				n, _ := strconv.Atoi(got.ID)
				b, err := books.Book(context.Background(), int32(n))
				if err != nil || b.Category != book.Category || got.Title != b.Title || got.Price != b.Price.Format() {
					t.Errorf("GET %s panel book %+v, want a %v book of the catalog, with its price (%v)", target, got, book.Category, err)
				}
				if want := "/books/" + got.ID; bookLinks(doc)[i] != want {
					t.Errorf("GET %s panel book %s links to %q, want %q", target, got.ID, bookLinks(doc)[i], want)
				}
			}
			for n := range doc.Descendants() {
				if n.DataAtom == atom.Button && hasClass(n, "dismiss") && !strings.HasPrefix(attr(n, "aria-label"), "Dismiss ") {
					t.Errorf("GET %s dismiss button aria-label = %q, want it to name the book", target, attr(n, "aria-label"))
				}
			}

			var scripts []string
			for n := range doc.Descendants() {
				if n.DataAtom == atom.Script {
					scripts = append(scripts, attr(n, "src"))
					if n.FirstChild != nil {
						t.Errorf("GET %s has an inline script", target)
					}
				}
			}
			if len(scripts) != 2 || !strings.HasPrefix(scripts[0], "/static/cart.js?v=") || !strings.HasPrefix(scripts[1], "/static/live.js?v=") {
				t.Errorf("GET %s scripts = %q, want [/static/cart.js?v=... /static/live.js?v=...]", target, scripts)
			}
		})
	}
}

// categoryLabels are the categories' names on the pages.
var categoryLabels = map[bookshop.Category]string{
	bookshop.Mystery:        "Mystery",
	bookshop.ScienceFiction: "Science fiction",
	bookshop.SelfHelp:       "Self-help",
}

// TestBookPageErrors checks the pages of ids that are not books.
func TestBookPageErrors(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{})
	tests := []struct {
		target    string
		status    int
		wantInMsg string
	}{
		{"/books/9999", http.StatusNotFound, "no book with this id"},
		{"/books/2147483647", http.StatusNotFound, "no book with this id"},
		{"/books/abc", http.StatusBadRequest, `"abc" is not a book id`},
		{"/books/0", http.StatusBadRequest, `"0" is not a book id`},
		{"/books/-1", http.StatusBadRequest, "is not a book id"},
		{"/books/1.5", http.StatusBadRequest, "is not a book id"},
		{"/books/2147483648", http.StatusBadRequest, "is not a book id"},
		{"/books/01", http.StatusBadRequest, `"01" is not a book id`}, // one address a book
		{"/books/+1", http.StatusBadRequest, `"+1" is not a book id`},
		{"/books/%3Cscript%3E", http.StatusBadRequest, `"<script>" is not a book id`},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := get(t, srv, tt.target)
			wantHTML(t, "GET", tt.target, r, tt.status)
			p := parsePage(t, r.body)
			if want := http.StatusText(tt.status); !slices.Equal(p.H1, []string{want}) {
				t.Errorf("GET %s h1 = %q, want [%q]", tt.target, p.H1, want)
			}
			if !strings.Contains(p.Notice, tt.wantInMsg) {
				t.Errorf("GET %s message = %q, want it to contain %q", tt.target, p.Notice, tt.wantInMsg)
			}
			if strings.Contains(r.body, "<script>") {
				t.Errorf("GET %s body holds <script>, unescaped", tt.target)
			}
			wantNoInternalText(t, tt.target, r.body)
		})
	}
	// Only GET and HEAD.
	if r := do(t, srv, http.MethodPost, "/books/1"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /books/1 = %d, want %d", r.status, http.StatusMethodNotAllowed)
	}
}

// TestBookPageServicesDown checks the book and category pages when the
// catalog is down (503, with a safe message, as a search then gets) and
// the book page when only recommendations are (the page, with a notice in
// the panel).
func TestBookPageServicesDown(t *testing.T) {
	down := catalogclient.New(mustDial(t, rpctest.ClosedAddr(t)), 5*time.Second)
	srv, _ := startLiveSite(t, marketplace.Options{Catalog: down})
	for _, target := range []string{"/books/1", "/categories/mystery"} {
		r := get(t, srv, target)
		wantHTML(t, "GET", target, r, http.StatusServiceUnavailable)
		if p := parsePage(t, r.body); !strings.Contains(p.Notice, "catalog is unavailable") || len(p.Books) != 0 {
			t.Errorf("GET %s notice = %q with %d books, want the catalog notice and none", target, p.Notice, len(p.Books))
		}
		wantNoInternalText(t, target, r.body)
	}

	srv, _ = startLiveSite(t, marketplace.Options{Recommender: dialRecommendations(t, rpctest.ClosedAddr(t))})
	r := get(t, srv, "/books/1")
	wantHTML(t, "GET", "/books/1", r, http.StatusOK)
	p := parsePage(t, r.body)
	if !slices.Equal(p.H1, []string{"The Maltese Falcon"}) || !strings.Contains(p.Notice, noticeUnavailable) || len(p.Books) != 0 {
		t.Errorf("GET /books/1 without recommendations: h1 %q, notice %q, %d books; want the book, the notice, none", p.H1, p.Notice, len(p.Books))
	}
	wantNoInternalText(t, "/books/1", r.body)
}

// mustDial returns a connection to addr, closed when the test ends.
func mustDial(tb testing.TB, addr string) *grpc.ClientConn {
	tb.Helper()
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		tb.Fatalf("rpc.Dial(%q): %v", addr, err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// TestBookJSON checks the JSON of a book, which live.js loads.
func TestBookJSON(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{})
	r := get(t, srv, "/api/books/6")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/books/6 = %d %q, want 200 application/json; body %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("GET /api/books/6 body %q: %v", r.body, err)
	}
	want := map[string]any{
		"id": 6.0, "title": "The Dune Chronicles", "author": "Frank Herbert", "year": 1965.0,
		"category": "science_fiction", "category_label": "Science fiction", "category_url": "/categories/science_fiction",
		"price": map[string]any{"units": 1999.0, "currency": "EUR", "formatted": "€19.99"},
		// The Inventory's seed has more than three copies of it.
		"stock": "In stock", "sold_out": false,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GET /api/books/6 = %v, want %v", got, want)
	}
	for target, status := range map[string]int{"/api/books/9999": 404, "/api/books/x": 400} {
		r := get(t, srv, target)
		var e struct{ Error string }
		if r.status != status || json.Unmarshal([]byte(r.body), &e) != nil || e.Error == "" {
			t.Errorf("GET %s = %d %q, want %d with a JSON error", target, r.status, r.body, status)
		}
	}
}

// TestCategoryPage checks that a category page lists exactly the books of
// its category, in id order, each linking to its page.
func TestCategoryPage(t *testing.T) {
	books := builtinCatalog(t)
	srv, _ := startLiveSite(t, marketplace.Options{})
	for _, cat := range bookshop.Categories() {
		target := "/categories/" + cat.String()
		t.Run(target, func(t *testing.T) {
			r := get(t, srv, target)
			wantHTML(t, "GET", target, r, http.StatusOK)
			p := parsePage(t, r.body)
			heading := categoryLabels[cat] + " books"
			if !slices.Equal(p.H1, []string{heading}) || p.Title != heading+" · "+siteTitle {
				t.Errorf("GET %s h1 %q, title %q; want %q", target, p.H1, p.Title, heading)
			}
			if p.Notice != "" {
				t.Errorf("GET %s notice = %q, want none", target, p.Notice)
			}
			want := inCategory(t, books, cat)
			if len(p.Books) != len(want) {
				t.Fatalf("GET %s shows %d books, want %d", target, len(p.Books), len(want))
			}
			links := bookLinks(parseHTML(t, r.body))
			for i, b := range want {
				got := p.Books[i]
				if got.ID != strconv.Itoa(int(b.ID)) || got.Title != b.Title || got.Author != "by "+b.Author {
					t.Errorf("GET %s book %d = %+v, want %+v", target, i, got, b)
				}
				if want := fmt.Sprintf("/books/%d", b.ID); links[i] != want {
					t.Errorf("GET %s book %d links to %q, want %q", target, i, links[i], want)
				}
			}
		})
	}

	// A category has one address: in other capitals, it is sent there,
	// its query kept (the browser does not follow here, to see it).
	noFollow := *srv.Client()
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tt := range []struct{ target, location string }{
		{"/categories/MYSTERY", "/categories/mystery"},
		{"/categories/Mystery?utm=x&a=%2F", "/categories/mystery?utm=x&a=%2F"},
		{"/categories/Science_Fiction", "/categories/science_fiction"},
	} {
		resp, err := noFollow.Get(srv.URL + tt.target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != tt.location {
			t.Errorf("GET %s = %d, Location %q; want 301 to %s", tt.target, resp.StatusCode, resp.Header.Get("Location"), tt.location)
		}
	}

	// A category we do not have has no page: the 404 of any address
	// without one, naming the categories we have.
	for _, name := range []string{"nope", "romance", "category(3)", "%3Cb%3E"} {
		target := "/categories/" + name
		r := get(t, srv, target)
		wantHTML(t, "GET", target, r, http.StatusNotFound)
		p := parsePage(t, r.body)
		if !strings.HasPrefix(p.Notice, "There is no page at this address.") || !strings.Contains(p.Notice, "is not a category we have") || !strings.Contains(p.Notice, categoryNames) {
			t.Errorf("GET %s message = %q, want the 404's, naming the categories", target, p.Notice)
		}
		if want := "Not Found"; !slices.Equal(p.H1, []string{want}) {
			t.Errorf("GET %s h1 = %q, want [%q]", target, p.H1, want)
		}
		wantNoInternalText(t, target, r.body)
	}
}

// inCategory returns the books of cat in books, by id.
func inCategory(tb testing.TB, books *bookshop.Shelf, cat bookshop.Category) []bookshop.Book {
	tb.Helper()
	var out []bookshop.Book
	err := books.ExportBooks(context.Background(), cat, 100, func(batch []bookshop.Book) error {
		out = append(out, batch...)
		return nil
	})
	if err != nil {
		tb.Fatalf("ExportBooks(%v): %v", cat, err)
	}
	return out
}

// TestHomeLinks checks the homepage's links to the book and category pages.
func TestHomeLinks(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{})
	for target, want := range map[string]string{
		"/":                          "See all mystery books",
		"/?category=science_fiction": "See all science fiction books",
		"/?category=self_help":       "See all self-help books",
	} {
		r := get(t, srv, target)
		doc := parseHTML(t, r.body)
		var seeAll []string
		for n := range doc.Descendants() {
			if n.DataAtom == atom.A && strings.HasPrefix(attr(n, "href"), "/categories/") {
				seeAll = append(seeAll, text(n)+" -> "+attr(n, "href"))
			}
		}
		cat := strings.TrimPrefix(target, "/?category=")
		if cat == "/" {
			cat = "mystery"
		}
		if w := want + " -> /categories/" + cat; !slices.Equal(seeAll, []string{w}) {
			t.Errorf("GET %s category links = %q, want [%q]", target, seeAll, w)
		}
		p := parsePage(t, r.body)
		links := bookLinks(doc)
		if len(links) != len(p.Books) || len(links) == 0 {
			t.Fatalf("GET %s: %d book links for %d books", target, len(links), len(p.Books))
		}
		for i, b := range p.Books {
			if links[i] != "/books/"+b.ID {
				t.Errorf("GET %s book %s links to %q, want /books/%s", target, b.ID, links[i], b.ID)
			}
		}
	}
}

// TestLiveScript checks that the script is served as JavaScript, cached
// for good at its versioned URL.
func TestLiveScript(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{})
	doc := parseHTML(t, get(t, srv, "/books/1").body)
	var src string
	for n := range doc.Descendants() {
		if n.DataAtom == atom.Script {
			src = attr(n, "src")
		}
	}
	r := get(t, srv, src)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/javascript; charset=utf-8" || r.header.Get("Cache-Control") != immutableCache {
		t.Errorf("GET %s = %d, %q, %q; want 200, JavaScript, cached for good", src, r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"))
	}
	if strings.Contains(r.body, ".innerHTML") || strings.Contains(r.body, "insertAdjacentHTML") {
		t.Errorf("GET %s: the script uses innerHTML", src)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "connect-src 'self'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy = %q, want it to contain %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy = %q, want nothing unsafe", csp)
	}
}

// sseEvent is one event of an event stream, or a comment.
type sseEvent struct {
	comment bool
	name    string
	id      string
	data    string
}

// sseStream reads an open GET /live.
type sseStream struct {
	events chan sseEvent // closed when the stream ends
	cancel context.CancelFunc
	cookie *http.Cookie // the session's, set with the stream
}

// openLive opens GET /live on srv, checks its headers, and reads its events
// in the background until the test ends or close is called.
func openLive(tb testing.TB, srv *httptest.Server) *sseStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(testContext(tb))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/live", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("GET /live: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /live = %d, want 200", resp.StatusCode)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(k); got != want {
			tb.Errorf("GET /live %s = %q, want %q", k, got, want)
		}
	}
	s := &sseStream{events: make(chan sseEvent), cancel: cancel}
	for _, c := range resp.Cookies() {
		if c.Name == "bookshop_live" || c.Name == "__Secure-bookshop_live" { // over HTTPS
			s.cookie = c
		}
	}
	go func() {
		defer close(s.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		send := func(e sseEvent) bool {
			select {
			case s.events <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) && !send(ev) {
					return
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				if !send(sseEvent{comment: true, data: line}) {
					return
				}
			default:
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "event":
					ev.name = value
				case "id":
					ev.id = value
				case "data":
					ev.data = value
				}
			}
		}
	}()
	tb.Cleanup(cancel)
	return s
}

// next returns the next event that is not a comment.
func (s *sseStream) next(tb testing.TB) sseEvent {
	tb.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				tb.Fatal("the event stream ended, want another event")
			}
			if !ev.comment {
				return ev
			}
		case <-timeout:
			tb.Fatal("no event within 5s")
		}
	}
}

// session reads the session event, and keeps the session's cookie for
// postEvent, as the browser that opened it does.
func (s *sseStream) session(tb testing.TB) string {
	tb.Helper()
	ev := s.next(tb)
	if ev.name != "session" || len(ev.data) < 20 {
		tb.Fatalf("first event = %+v, want a session event with an id", ev)
	}
	if s.cookie == nil || s.cookie.Path != "/live/"+ev.data+"/" || !s.cookie.HttpOnly || s.cookie.SameSite != http.SameSiteStrictMode || s.cookie.MaxAge <= 0 {
		tb.Fatalf("GET /live set the cookie %v, want bookshop_live for /live/%s/, HttpOnly, SameSite=Strict, with a Max-Age", s.cookie, ev.data)
	}
	liveCookies.Store(ev.data, s.cookie)
	return ev.data
}

// liveCookies are the cookies of the sessions the tests opened, by id.
var liveCookies sync.Map

// liveBook is a book of a live list, as the stream sends it.
type liveBook struct {
	ID     int32  `json:"id"`
	Title  string `json:"title"`
	Author string `json:"author"`
	Year   int    `json:"year"`
}

// books reads the next list.
func (s *sseStream) books(tb testing.TB) ([]liveBook, string) {
	tb.Helper()
	ev := s.next(tb)
	if ev.name != "books" {
		tb.Fatalf("event = %+v, want a books event", ev)
	}
	var books []liveBook
	if err := json.Unmarshal([]byte(ev.data), &books); err != nil {
		tb.Fatalf("books event data %q: %v", ev.data, err)
	}
	return books, ev.id
}

// postEvent posts body to the events of session, as JSON.
func postEvent(tb testing.TB, srv *httptest.Server, session, body string) response {
	tb.Helper()
	return postEventAs(tb, srv, session, body, "application/json")
}

func postEventAs(tb testing.TB, srv *httptest.Server, session, body, contentType string) response {
	tb.Helper()
	req, err := http.NewRequestWithContext(testContext(tb), http.MethodPost, srv.URL+"/live/"+session+"/events", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if c, ok := liveCookies.Load(session); ok {
		req.AddCookie(c.(*http.Cookie))
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("POST events: %v", err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return response{status: resp.StatusCode, header: resp.Header, body: b.String()}
}

// TestLive drives one live session as a browser does: open the stream,
// read the session, post events, and read a list after each, which never
// holds a book viewed or dismissed.
func TestLive(t *testing.T) {
	books := builtinCatalog(t)
	srv, svc := startLiveSite(t, marketplace.Options{})
	stream := openLive(t, srv)
	session := stream.session(t)
	svc.streams.waitOpen(t, 1)

	seen := make(map[int32]bool)
	ev := func(typ string, id int32) {
		t.Helper()
		seen[id] = true
		body := fmt.Sprintf(`{"type": %q, "book_id": %d}`, typ, id)
		if r := postEvent(t, srv, session, body); r.status != http.StatusNoContent {
			t.Fatalf("POST %s = %d %s, want 204", body, r.status, r.body)
		}
	}
	ev("viewed", 6) // The Dune Chronicles: science fiction
	list, id := stream.books(t)
	if len(list) != 4 || id != "1" {
		t.Fatalf("first list = %+v (id %q), want 4 books, id 1", list, id)
	}
	for n := 2; n <= 12; n++ {
		for _, b := range list {
			if seen[b.ID] {
				t.Fatalf("list %d holds book %d, which was viewed or dismissed", n-1, b.ID)
			}
			want, err := books.Book(context.Background(), b.ID)
			if err != nil || b != (liveBook{want.ID, want.Title, want.Author, want.Year}) {
				t.Errorf("list %d: book %+v, want %+v", n-1, b, want)
			}
		}
		// Follow the first recommendation; dismiss the second, now and then.
		if n%3 == 0 {
			ev("dismissed", list[1].ID)
		} else {
			ev("viewed", list[0].ID)
		}
		list, id = stream.books(t)
		if id != strconv.Itoa(n) {
			t.Errorf("list id = %q, want %d", id, n)
		}
	}

	if r := postEvent(t, srv, "nosuchsession", `{"type": "viewed", "book_id": 1}`); r.status != http.StatusNotFound {
		t.Errorf("POST to an unknown session = %d, want 404", r.status)
	}
}

// TestLiveEventErrors checks what POST /live/{session}/events refuses.
func TestLiveEventErrors(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{})
	stream := openLive(t, srv)
	session := stream.session(t)
	tests := []struct {
		name        string
		session     string
		body        string
		contentType string
		status      int
		wantInMsg   string
	}{
		{"unknown session", "AAAAAAAAAAAAAAAAAAAAAAAAAA", `{"type": "viewed", "book_id": 1}`, "", http.StatusNotFound, "no live session"},
		{"not JSON", session, `type=viewed&book_id=1`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "JSON"},
		{"malformed JSON", session, `{"type": "viewed", `, "", http.StatusBadRequest, "JSON"},
		{"two objects", session, `{"type": "viewed", "book_id": 1} {}`, "", http.StatusBadRequest, "JSON"},
		{"unknown field", session, `{"type": "viewed", "book_id": 1, "admin": true}`, "", http.StatusBadRequest, "JSON"},
		{"unknown type", session, `{"type": "bought", "book_id": 1}`, "", http.StatusBadRequest, `"bought" is not an event type`},
		{"no type", session, `{"book_id": 1}`, "", http.StatusBadRequest, `"" is not an event type`},
		{"no book", session, `{"type": "viewed"}`, "", http.StatusBadRequest, "0 is not a book id"},
		{"book too large", session, `{"type": "viewed", "book_id": 2147483648}`, "", http.StatusBadRequest, "is not a book id"},
		{"book not a number", session, `{"type": "viewed", "book_id": "1"}`, "", http.StatusBadRequest, "JSON"},
		{"unknown book", session, `{"type": "dismissed", "book_id": 9999}`, "", http.StatusBadRequest, "no book with id 9999"},
		{"too large", session, `{"type": "viewed", "book_id": 1, "x": "` + strings.Repeat("x", 2000) + `"}`, "", http.StatusRequestEntityTooLarge, "1 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			r := postEventAs(t, srv, tt.session, tt.body, ct)
			var e struct{ Error string }
			if r.status != tt.status {
				t.Fatalf("POST %s = %d %s, want %d", tt.body, r.status, r.body, tt.status)
			}
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || !strings.Contains(e.Error, tt.wantInMsg) {
				t.Errorf("POST %s body = %s, want a JSON error containing %q", tt.body, r.body, tt.wantInMsg)
			}
			wantNoInternalText(t, "/live/.../events", r.body)
		})
	}
	// None of that reached the stream: the session still works.
	if r := postEvent(t, srv, session, `{"type": "viewed", "book_id": 1}`); r.status != http.StatusNoContent {
		t.Fatalf("POST a good event after bad ones = %d %s, want 204", r.status, r.body)
	}
	if list, id := stream.books(t); len(list) != 4 || id != "1" {
		t.Errorf("list after a good event = %+v (id %q), want 4 books, id 1", list, id)
	}
	if r := get(t, srv, "/live/"+session+"/events"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET events = %d, want 405", r.status)
	}
}

// TestLiveSessionBelongsToItsBrowser posts events to a live session from
// a browser that did not open it: without the session's cookie, or with
// another session's, the answer is 404, as for an unknown session, and
// the stream gets nothing; and no log line holds a session's id, not even
// the rate limiter's, at Debug, for posts past the client's rate.
func TestLiveSessionBelongsToItsBrowser(t *testing.T) {
	logger, logs := testLogger(t) // at Debug
	srv, _ := startLiveSite(t, marketplace.Options{Logger: logger, RateLimit: 1})
	mine, other := openLive(t, srv), openLive(t, srv)
	session, otherSession := mine.session(t), other.session(t)
	otherCookie, _ := liveCookies.Load(otherSession)
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
	}{
		{"no cookie", nil},
		{"a wrong secret", &http.Cookie{Name: "bookshop_live", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAA"}},
		{"another session's cookie", &http.Cookie{Name: "bookshop_live", Value: otherCookie.(*http.Cookie).Value}},
	} {
		req, _ := http.NewRequestWithContext(testContext(t), http.MethodPost, srv.URL+"/live/"+session+"/events",
			strings.NewReader(`{"type": "viewed", "book_id": 1}`))
		req.Header.Set("Content-Type", "application/json")
		if tc.cookie != nil {
			req.AddCookie(tc.cookie)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST to a session, %s = %d, want 404", tc.name, resp.StatusCode)
		}
	}
	if r := postEvent(t, srv, session, `{"type": "viewed", "book_id": 1}`); r.status != http.StatusNoContent {
		t.Fatalf("POST from the session's browser = %d %s, want 204", r.status, r.body)
	}
	if _, id := mine.books(t); id != "1" {
		t.Errorf("the first list after the events has id %q, want 1: the refused posts reached the stream", id)
	}
	// Past its rate (a burst of 50, then one a second), a client's posts
	// are refused, and the limiter logs them.
	for i := 0; ; i++ {
		r := postEventAs(t, srv, otherSession, `{"type": "viewed", "book_id": 1}`, "application/json")
		if r.status == http.StatusTooManyRequests {
			break
		}
		if i == 100 {
			t.Fatalf("POST %d times to a session's events: the last = %d, want 429 past the rate", i+1, r.status)
		}
	}
	if !strings.Contains(logs.String(), `msg="rate limit: too many requests"`) {
		t.Errorf("the log has no line of the rate limit's refusal:\n%s", logs.String())
	}
	for _, id := range []string{session, otherSession} {
		if strings.Contains(logs.String(), id) {
			t.Errorf("the log holds session id %s:\n%s", id, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "path=/live/{session}/events") {
		t.Errorf("the log has no line for the event posts, as their route:\n%s", logs.String())
	}
}

// TestLiveClosesStream checks that the gRPC stream of a session is closed,
// and the session forgotten, when the browser goes away, and that no
// goroutine is left once the site and the services stop.
func TestLiveClosesStream(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) }) // the first cleanup runs last
	srv, svc := startLiveSite(t, marketplace.Options{})
	a, b := openLive(t, srv), openLive(t, srv)
	sessionA, sessionB := a.session(t), b.session(t)
	if sessionA == sessionB {
		t.Fatalf("two sessions have the same id %q", sessionA)
	}
	svc.streams.waitOpen(t, 2)

	a.cancel() // the browser goes away
	svc.streams.waitOpen(t, 1)
	deadline := time.Now().Add(5 * time.Second)
	for postEvent(t, srv, sessionA, `{"type": "viewed", "book_id": 1}`).status != http.StatusNotFound {
		if time.Now().After(deadline) {
			t.Fatal("the session of a closed stream still takes events")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The other session goes on.
	if r := postEvent(t, srv, sessionB, `{"type": "viewed", "book_id": 1}`); r.status != http.StatusNoContent {
		t.Fatalf("POST to the other session = %d, want 204", r.status)
	}
	b.books(t)
	b.cancel()
	svc.streams.waitOpen(t, 0)
}

// TestLiveShutdown checks that closing Options.Shutdown ends the event
// streams and closes their gRPC streams.
func TestLiveShutdown(t *testing.T) {
	shutdown := make(chan struct{})
	srv, svc := startLiveSite(t, marketplace.Options{Shutdown: shutdown})
	stream := openLive(t, srv)
	stream.session(t)
	svc.streams.waitOpen(t, 1)
	close(shutdown)
	timeout := time.After(5 * time.Second)
	for ended := false; !ended; {
		select {
		case _, ok := <-stream.events:
			ended = !ok
		case <-timeout:
			t.Fatal("the event stream did not end at shutdown")
		}
	}
	svc.streams.waitOpen(t, 0)
}

// TestLiveHeartbeat checks that an idle stream sends comments.
func TestLiveHeartbeat(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{LiveHeartbeat: 20 * time.Millisecond})
	stream := openLive(t, srv)
	stream.session(t)
	for range 3 {
		select {
		case ev := <-stream.events:
			if !ev.comment {
				t.Fatalf("event %+v on an idle stream, want a heartbeat comment", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat within 5s")
		}
	}
}

// TestLiveOutlivesServerTimeouts checks that an event stream lives past
// the HTTP server's read and write timeouts, as cli sets them.
func TestLiveOutlivesServerTimeouts(t *testing.T) {
	svc := startServices(t, builtinCatalog(t), seededRand())
	logger, _ := testLogger(t)
	o := marketplace.Options{
		Logger: logger, Recommender: svc.rec, RecommendTimeout: 5 * time.Second,
		Catalog: svc.catalog, Searcher: svc.catalog, Live: svc.live, LiveHeartbeat: 50 * time.Millisecond,
	}
	downShop(t, &o)
	h, err := marketplace.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Config.WriteTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	stream := openLive(t, srv)
	session := stream.session(t)
	time.Sleep(600 * time.Millisecond)
	if r := postEvent(t, srv, session, `{"type": "viewed", "book_id": 1}`); r.status != http.StatusNoContent {
		t.Fatalf("POST after the timeouts = %d %s, want 204", r.status, r.body)
	}
	if list, _ := stream.books(t); len(list) != 4 {
		t.Errorf("list after the timeouts = %+v, want 4 books", list)
	}
	svc.streams.waitOpen(t, 1)
}

// TestLiveSessionCap checks that sessions past MaxLiveSessions are refused
// with 503, and that a closed session frees its place.
func TestLiveSessionCap(t *testing.T) {
	srv, svc := startLiveSite(t, marketplace.Options{MaxLiveSessions: 1})
	first := openLive(t, srv)
	first.session(t)
	r := get(t, srv, "/live")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "Too many shoppers") {
		t.Errorf("GET /live past the cap = %d %q, want 503", r.status, r.body)
	}
	wantLiveRetryAfter(t, "GET /live past the cap", r)
	first.cancel()
	svc.streams.waitOpen(t, 0)
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(testContext(t), http.MethodGet, srv.URL+"/live", nil)
		ctx, cancel := context.WithCancel(req.Context())
		resp, err := srv.Client().Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		status := resp.StatusCode
		cancel()
		resp.Body.Close()
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /live after the first session closed = %d, want 200", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveSessionCapPerClient checks that one client cannot take more than
// MaxLiveSessionsPerClient places, while another still gets one.
func TestLiveSessionCapPerClient(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{MaxLiveSessionsPerClient: 2, TrustedProxies: 1})
	from := func(client string) (int, func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(testContext(t))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/live", nil)
		req.Header.Set("X-Forwarded-For", client)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, func() { cancel(); resp.Body.Close() }
	}
	for i := range 2 {
		status, done := from("203.0.113.7")
		defer done()
		if status != http.StatusOK {
			t.Fatalf("session %d of one client = %d, want 200", i+1, status)
		}
	}
	status, done := from("203.0.113.7")
	done()
	if status != http.StatusServiceUnavailable {
		t.Errorf("third session of one client = %d, want 503", status)
	}
	status, done = from("198.51.100.9")
	defer done()
	if status != http.StatusOK {
		t.Errorf("first session of another client = %d, want 200", status)
	}
}

// TestLiveUnavailable checks that /live answers 503, safely, when the Live
// service cannot be reached.
func TestLiveUnavailable(t *testing.T) {
	down := recommendationsclient.NewLiveClient(mustDial(t, rpctest.ClosedAddr(t)))
	srv, _ := startLiveSite(t, marketplace.Options{Live: down})
	r := get(t, srv, "/live")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "unavailable") {
		t.Errorf("GET /live with Live down = %d %q, want 503", r.status, r.body)
	}
	wantLiveRetryAfter(t, "GET /live with Live down", r)
	wantNoInternalText(t, "/live", r.body)
}

// wantLiveRetryAfter fails the test unless r, a 503 of the live routes,
// says to try again after 2 seconds, as long as the browser waits before
// it opens an event stream again.
func wantLiveRetryAfter(tb testing.TB, what string, r response) {
	tb.Helper()
	if got := r.header.Get("Retry-After"); got != "2" {
		tb.Errorf("%s: Retry-After = %q, want 2", what, got)
	}
}

// startCappedLive runs Recommendations, as its Run does, over the
// built-in catalog, taking at most streams live streams, and returns a
// client of its live streams.
func startCappedLive(tb testing.TB, streams int) *recommendationsclient.LiveClient {
	tb.Helper()
	live, _ := startRunningLive(tb, streams)
	return live
}

// startRunningLive is startCappedLive, and returns as well a function
// that shuts Recommendations down and waits until it has.
func startRunningLive(tb testing.TB, streams int) (*recommendationsclient.LiveClient, func()) {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := recommendations.DefaultConfig()
	cfg.MaxLiveStreams, cfg.MaxLiveStreamsPerCaller = streams, streams
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- recommendations.Run(ctx, cfg, recommendations.Deps{
			Deps:  process.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis},
			Books: recommendations.StaticBooks(builtinCatalog(tb).Books()),
		})
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("Recommendations: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return recommendationsclient.NewLiveClient(mustDial(tb, lis.Addr().String())), stop
}

// TestLiveRecommendationsShutdown checks that a session whose stream
// Recommendations ends at its shutdown (rpc.ErrDraining) ends, so that
// the browser opens a new one, and that this is logged at Debug, not as
// a warning: it is no fault.
func TestLiveRecommendationsShutdown(t *testing.T) {
	logger, logs := testLogger(t)
	live, stop := startRunningLive(t, 10)
	srv, _ := startLiveSite(t, marketplace.Options{Logger: logger, Live: live})
	stream := openLive(t, srv)
	stream.session(t)
	stop()
	timeout := time.After(5 * time.Second)
	for ended := false; !ended; {
		select {
		case _, ok := <-stream.events:
			ended = !ok
		case <-timeout:
			t.Fatal("the event stream did not end when Recommendations shut down")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `level=DEBUG msg="live: the stream ended"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no Debug line for the stream's end:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(logs.String(), `level=WARN msg="live:`) {
		t.Errorf("a stream ended by Recommendations' shutdown was logged as a warning:\n%s", logs.String())
	}
}

// TestLiveRecommendationsBusy checks that a session Recommendations
// refuses, past its own caps on live streams, gets 503 at once, with a
// Retry-After, and not an event stream that ends as soon as it began
// (which the browser would open again, and again, every 2 s); that the
// refusal is logged at Debug, not as a warning each; and that the place
// is free again once a stream ends.
func TestLiveRecommendationsBusy(t *testing.T) {
	logger, logs := testLogger(t)
	srv, _ := startLiveSite(t, marketplace.Options{Logger: logger, Live: startCappedLive(t, 1)})
	first := openLive(t, srv)
	first.session(t)
	r := get(t, srv, "/live")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "Too many shoppers") {
		t.Fatalf("GET /live with Recommendations at its cap = %d %q, want 503 before any event", r.status, r.body)
	}
	wantLiveRetryAfter(t, "GET /live with Recommendations at its cap", r)
	wantNoInternalText(t, "/live", r.body)
	if l := logs.String(); strings.Contains(l, `level=WARN msg="live:`) || !strings.Contains(l, `level=DEBUG msg="live: recommendations refused a stream`) {
		t.Errorf("the log of a refused stream: want a Debug line and no warning:\n%s", l)
	}
	first.cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithCancel(testContext(t))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/live", nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		status := resp.StatusCode
		cancel()
		resp.Body.Close()
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /live after the first session closed = %d, want 200", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveEventCatalogDown checks that an event that cannot be checked,
// the Catalog down, is refused with 503 and a Retry-After.
func TestLiveEventCatalogDown(t *testing.T) {
	down := catalogclient.New(mustDial(t, rpctest.ClosedAddr(t)), time.Second)
	srv, _ := startLiveSite(t, marketplace.Options{Catalog: down})
	stream := openLive(t, srv)
	session := stream.session(t)
	r := postEvent(t, srv, session, `{"type": "viewed", "book_id": 1}`)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("POST an event with the Catalog down = %d %s, want 503", r.status, r.body)
	}
	wantLiveRetryAfter(t, "POST an event with the Catalog down", r)
	wantNoInternalText(t, "/live/.../events", r.body)
}

// TestLiveCookie checks the session's cookie over HTTPS (here behind a
// proxy that says so): Secure, and named with the __Secure- prefix, which
// a browser takes only from HTTPS; an event post must bring it by that
// name.
func TestLiveCookie(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{TrustedProxies: 1})
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/live", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		cookie = c
	}
	if cookie == nil || cookie.Name != "__Secure-bookshop_live" || !cookie.Secure || !cookie.HttpOnly || cookie.MaxAge != 12*60*60+15 {
		t.Fatalf("GET /live over HTTPS set the cookie %v, want __Secure-bookshop_live, Secure, HttpOnly, Max-Age 12 h and a heartbeat", cookie)
	}
	sc := bufio.NewScanner(resp.Body)
	var session string
	for session == "" && sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			session = v
		}
	}
	post := func(name string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(testContext(t), http.MethodPost, srv.URL+"/live/"+session+"/events", strings.NewReader(`{"type": "viewed", "book_id": 1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.AddCookie(&http.Cookie{Name: name, Value: cookie.Value})
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("bookshop_live"); got != http.StatusNotFound {
		t.Errorf("POST an event over HTTPS with the cookie without its prefix = %d, want 404", got)
	}
	if got := post("__Secure-bookshop_live"); got != http.StatusNoContent {
		t.Errorf("POST an event over HTTPS with the session's cookie = %d, want 204", got)
	}
}

// TestLiveSessionMaxAge checks that a session ends once it has lasted
// Options.LiveSessionMaxAge, at a heartbeat, so that it never outlives
// its cookie, whose Max-Age says as long.
func TestLiveSessionMaxAge(t *testing.T) {
	srv, svc := startLiveSite(t, marketplace.Options{LiveSessionMaxAge: 300 * time.Millisecond, LiveHeartbeat: 50 * time.Millisecond})
	// Before the session opens, so that a slow opening cannot make its
	// life look shorter than it was.
	start := time.Now()
	stream := openLive(t, srv)
	stream.session(t)
	if stream.cookie.MaxAge != 1 {
		t.Errorf("the cookie's Max-Age = %d, want 1 (0.35 s, rounded up)", stream.cookie.MaxAge)
	}
	timeout := time.After(5 * time.Second)
	for ended := false; !ended; {
		select {
		case _, ok := <-stream.events:
			ended = !ok
		case <-timeout:
			t.Fatal("the session did not end past its max age")
		}
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("the session ended %v after it began to open, want 300 ms or more", d)
	}
	svc.streams.waitOpen(t, 0)
}

// TestLiveTracesHoldNoSessionID checks that, traced, the spans of a live
// session's requests do not hold its id: the event posts' record their
// route, /live/{session}/events, as their path.
func TestLiveTracesHoldNoSessionID(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	srv, _ := startLiveSite(t, marketplace.Options{Tracing: telemetry.NewTracing(tp)})
	stream := openLive(t, srv)
	session := stream.session(t)
	if r := postEvent(t, srv, session, `{"type": "viewed", "book_id": 1}`); r.status != http.StatusNoContent {
		t.Fatalf("POST an event = %d %s, want 204", r.status, r.body)
	}
	stream.books(t)
	posts := 0
	for _, span := range rec.Ended() {
		for _, a := range span.Attributes() {
			if strings.Contains(a.Value.String(), session) {
				t.Errorf("span %q records %s = %q, which holds the session's id", span.Name(), a.Key, a.Value.String())
			}
			if a.Key == "url.path" && a.Value.String() == "/live/{session}/events" {
				posts++
			}
		}
		if strings.Contains(span.Name(), session) {
			t.Errorf("span %q is named with the session's id", span.Name())
		}
	}
	if posts != 1 {
		t.Errorf("%d spans record the event post's route as their path, want 1", posts)
	}
}
