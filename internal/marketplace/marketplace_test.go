package marketplace_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/connectivity"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/reqid"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// Texts the pages must show. They are the site's promises to shoppers, so
// the tests spell them out rather than import them.
const (
	siteTitle         = "Online Books For You"
	noticeUnavailable = "Recommendations are unavailable right now"
	noticeNoBooks     = "We have no books in this category right now"
	categoryNames     = "mystery, science_fiction or self_help"
	immutableCache    = "public, max-age=31536000, immutable"
)

// The category navigation every page shows, in order.
var wantNav = []navLink{
	{Label: "Mystery", Href: "/?category=mystery"},
	{Label: "Science fiction", Href: "/?category=science_fiction"},
	{Label: "Self-help", Href: "/?category=self_help"},
}

// Words of Go, gRPC and network errors that must never reach a page.
var internalErrorText = []string{
	"rpc error", "code =", "desc =", "connection refused", "dial", "transport",
	"bookshop error", "context deadline", "goroutine", "panic", ".go:",
	"invalid url escape", "%!",
}

// testContext returns a context that ends with the test or after 10s.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// syncBuffer is a bytes.Buffer that a logger may write to while a test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger returns a logger writing text to a buffer, which is shown if
// the test fails.
func testLogger(tb testing.TB) (*slog.Logger, *syncBuffer) {
	tb.Helper()
	buf := new(syncBuffer)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("server log:\n%s", buf)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// builtinCatalog returns the built-in catalog.
func builtinCatalog(tb testing.TB) *bookshop.Shelf {
	tb.Helper()
	books, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatalf("catalogfile.Builtin: %v", err)
	}
	return books
}

// seededRand returns a deterministic random source.
func seededRand() recommendations.Rand {
	return recommendations.NewLockedRand(rand.NewPCG(1, 2))
}

// startRecommendations serves rec as the tutorial's Recommendations over
// real gRPC on loopback until the test ends, and returns its address.
func startRecommendations(tb testing.TB, rec bookshop.Recommender) string {
	tb.Helper()
	return rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(rec, logger))
	})
}

// grpcRecommender serves rec as the Recommendations service over real gRPC
// on loopback and returns a client of it, as production wires them. Both
// are closed when the test ends.
func grpcRecommender(tb testing.TB, rec bookshop.Recommender) *recommendationsclient.Client {
	tb.Helper()
	return dialRecommendations(tb, startRecommendations(tb, rec))
}

// dialRecommendations returns a client of the Recommendations service at
// addr, closed when the test ends.
func dialRecommendations(tb testing.TB, addr string) *recommendationsclient.Client {
	tb.Helper()
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		tb.Fatalf("rpc.Dial(%q): %v", addr, err)
	}
	tb.Cleanup(func() { conn.Close() })
	return recommendationsclient.New(conn, 10*time.Second)
}

// startSite serves the Marketplace over rec on a loopback HTTP server until
// the test ends. A nil cfg.Logger logs to a buffer shown on failure; a zero
// RecommendTimeout is 5s; a nil Catalog or Live is the built-in catalog's,
// served over real gRPC on loopback, and nil Accounts and Carts are the
// real services, run on loopback with their databases in memory.
func startSite(tb testing.TB, cfg marketplace.Options) *httptest.Server {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger, _ = testLogger(tb)
	}
	if cfg.RecommendTimeout == 0 {
		cfg.RecommendTimeout = 5 * time.Second
	}
	if cfg.Catalog == nil || cfg.Live == nil || cfg.Searcher == nil || cfg.Accounts == nil || cfg.Carts == nil || cfg.Checkout == nil || cfg.Promotions == nil {
		svc := startServices(tb, builtinCatalog(tb), seededRand())
		if cfg.Catalog == nil {
			cfg.Catalog = svc.catalog
		}
		if cfg.Searcher == nil {
			cfg.Searcher = svc.catalog
		}
		if cfg.Live == nil {
			cfg.Live = svc.live
		}
		if cfg.Accounts == nil || cfg.Carts == nil {
			startShopServices(tb, svc.catalogAddr).options(&cfg)
		}
	}
	h, err := marketplace.NewServer(cfg)
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// startBuiltinSite serves the Marketplace over the built-in catalog, with
// Recommendations behind real gRPC on loopback.
func startBuiltinSite(tb testing.TB) *httptest.Server {
	tb.Helper()
	rec := grpcRecommender(tb, recommendations.New(builtinCatalog(tb), seededRand()))
	return startSite(tb, marketplace.Options{Recommender: rec})
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends method target (a path with an optional raw query) to srv.
func do(tb testing.TB, srv *httptest.Server, method, target string) response {
	tb.Helper()
	req, err := http.NewRequestWithContext(testContext(tb), method, srv.URL+target, nil)
	if err != nil {
		tb.Fatalf("NewRequest(%s %s): %v", method, target, err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func get(tb testing.TB, srv *httptest.Server, target string) response {
	tb.Helper()
	return do(tb, srv, http.MethodGet, target)
}

// wantHTML fails the test unless r is an HTML page with the given status.
func wantHTML(tb testing.TB, method, target string, r response, status int) {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("%s %s = %d, want %d; body:\n%s", method, target, r.status, status, r.body)
	}
	if got, want := r.header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
		tb.Errorf("%s %s Content-Type = %q, want %q", method, target, got, want)
	}
}

// wantNoInternalText fails the test if body shows any text of an internal
// error.
func wantNoInternalText(tb testing.TB, target, body string) {
	tb.Helper()
	lower := strings.ToLower(body)
	for _, s := range internalErrorText {
		if strings.Contains(lower, s) {
			tb.Errorf("GET %s body contains %q, which is internal error text; body:\n%s", target, s, body)
		}
	}
}

// page is what a test reads from an HTML page.
type page struct {
	Title      string
	H1         []string
	Nav        []navLink
	Books      []bookItem
	HasList    bool   // an ol.books is present
	Notice     string // p.notice text, if any
	Stylesheet string // href of link rel=stylesheet
	Favicon    string // href of link rel=icon
}

type navLink struct {
	Label   string
	Href    string
	Current string // aria-current
}

type bookItem struct {
	ID     string // data-book-id
	Title  string // cite.book-title
	Author string // span.book-author
	Price  string // p.book-price; "" when there is none
}

// parsePage parses body as HTML and reads the parts tests look at.
func parsePage(tb testing.TB, body string) page {
	tb.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		tb.Fatalf("parse HTML: %v\n%s", err, body)
	}
	var p page
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.DataAtom {
		case atom.Title:
			p.Title = text(n)
		case atom.H1:
			p.H1 = append(p.H1, text(n))
		case atom.Link:
			switch attr(n, "rel") {
			case "stylesheet":
				p.Stylesheet = attr(n, "href")
			case "icon":
				p.Favicon = attr(n, "href")
			}
		case atom.Nav:
			if attr(n, "aria-label") != "Categories" {
				break // the account bar, read by the shop's tests
			}
			for a := range n.Descendants() {
				if a.DataAtom == atom.A {
					p.Nav = append(p.Nav, navLink{Label: text(a), Href: attr(a, "href"), Current: attr(a, "aria-current")})
				}
			}
		case atom.Ol:
			if hasClass(n, "books") {
				p.HasList = true
			}
		case atom.Li:
			if hasClass(n, "book") {
				b := bookItem{ID: attr(n, "data-book-id")}
				for c := range n.Descendants() {
					switch {
					case c.DataAtom == atom.Cite && hasClass(c, "book-title"):
						b.Title = text(c)
					case c.DataAtom == atom.Span && hasClass(c, "book-author"):
						b.Author = text(c)
					case c.DataAtom == atom.P && hasClass(c, "book-price"):
						b.Price = text(c)
					}
				}
				p.Books = append(p.Books, b)
			}
		case atom.P:
			if hasClass(n, "notice") {
				p.Notice = text(n)
			}
		}
	}
	return p
}

// attr returns the value of n's attribute key, or "".
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return slices.Contains(strings.Fields(attr(n, "class")), class)
}

// text returns the text in n, with runs of white space made single spaces.
func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// wantNavCurrent fails the test unless p has the category navigation with
// aria-current="page" on the link labelled current only ("" for none).
func wantNavCurrent(tb testing.TB, target string, p page, current string) {
	tb.Helper()
	want := slices.Clone(wantNav)
	for i := range want {
		if want[i].Label == current {
			want[i].Current = "page"
		}
	}
	if !slices.Equal(p.Nav, want) {
		tb.Errorf("GET %s nav = %+v, want %+v", target, p.Nav, want)
	}
}

// TestHome checks the homepage of each category: recommended books of that
// category from the real Recommendations service, and the navigation.
func TestHome(t *testing.T) {
	books := builtinCatalog(t)
	byID := make(map[string]bookshop.Book)
	for _, b := range books.Books() {
		byID[strconv.Itoa(int(b.ID))] = b
	}
	srv := startBuiltinSite(t)

	tests := []struct {
		target   string
		category bookshop.Category
		h1       string
		current  string
	}{
		{"/", bookshop.Mystery, "Mystery books you may like", "Mystery"},
		{"/?category=mystery", bookshop.Mystery, "Mystery books you may like", "Mystery"},
		{"/?category=science_fiction", bookshop.ScienceFiction, "Science fiction books you may like", "Science fiction"},
		{"/?category=self_help", bookshop.SelfHelp, "Self-help books you may like", "Self-help"},
		{"/?category=MYSTERY", bookshop.Mystery, "Mystery books you may like", "Mystery"},
		{"/?category=Science_Fiction", bookshop.ScienceFiction, "Science fiction books you may like", "Science fiction"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := get(t, srv, tt.target)
			wantHTML(t, "GET", tt.target, r, http.StatusOK)
			if got, want := r.header.Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("GET %s Cache-Control = %q, want %q", tt.target, got, want)
			}
			p := parsePage(t, r.body)
			if p.Title != siteTitle {
				t.Errorf("GET %s title = %q, want %q", tt.target, p.Title, siteTitle)
			}
			if !slices.Equal(p.H1, []string{tt.h1}) {
				t.Errorf("GET %s h1 = %q, want [%q]", tt.target, p.H1, tt.h1)
			}
			if p.Notice != "" {
				t.Errorf("GET %s notice = %q, want none", tt.target, p.Notice)
			}
			wantNavCurrent(t, tt.target, p, tt.current)

			if len(p.Books) != 3 {
				t.Fatalf("GET %s shows %d books, want 3: %+v", tt.target, len(p.Books), p.Books)
			}
			seen := make(map[string]bool)
			for _, got := range p.Books {
				if seen[got.ID] {
					t.Errorf("GET %s shows book %s twice", tt.target, got.ID)
				}
				seen[got.ID] = true
				b, ok := byID[got.ID]
				if !ok {
					t.Errorf("GET %s shows book id %q, which is not in the catalog", tt.target, got.ID)
					continue
				}
				if b.Category != tt.category {
					t.Errorf("GET %s shows book %s of category %v, want %v", tt.target, got.ID, b.Category, tt.category)
				}
				if got.Title != b.Title {
					t.Errorf("GET %s book %s title = %q, want %q", tt.target, got.ID, got.Title, b.Title)
				}
				if want := "by " + b.Author; got.Author != want {
					t.Errorf("GET %s book %s author = %q, want %q", tt.target, got.ID, got.Author, want)
				}
				if want := b.Price.Format(); got.Price != want || !strings.HasPrefix(got.Price, "€") {
					t.Errorf("GET %s book %s price = %q, want %q", tt.target, got.ID, got.Price, want)
				}
			}
		})
	}
}

// TestHomeBadQuery checks that a query the homepage does not accept gets a
// 400 page that says what was wrong, safely, and nothing internal.
func TestHomeBadQuery(t *testing.T) {
	srv := startBuiltinSite(t)
	long := strings.Repeat("x", 500)
	injection := "<script>alert(1)</script>"

	tests := []struct {
		name       string
		rawQuery   string
		wantInMsg  []string // the message must hold each
		notInBody  []string // the raw body must hold none
		notInMsg   []string // the message must hold none
		wantInBody []string // the raw body must hold each
	}{
		{
			name:      "unknown category",
			rawQuery:  "category=romance",
			wantInMsg: []string{`"romance"`, "is not a category", categoryNames},
		},
		{
			name:      "empty category",
			rawQuery:  "category=",
			wantInMsg: []string{`""`, "is not a category", categoryNames},
		},
		{
			name:      "two categories",
			rawQuery:  "category=mystery&category=self_help",
			wantInMsg: []string{"one category", "not 2"},
		},
		{
			name:      "malformed query",
			rawQuery:  "category=%zz",
			wantInMsg: []string{"malformed query"},
			notInBody: []string{"%zz"},
		},
		{
			name:      "over-long value",
			rawQuery:  "category=" + long,
			wantInMsg: []string{`"` + long[:40] + `…"`, categoryNames},
			notInMsg:  []string{long[:41]},
		},
		{
			name:       "HTML injection",
			rawQuery:   "category=" + url.QueryEscape(injection),
			wantInMsg:  []string{`"` + injection + `"`, categoryNames},
			notInBody:  []string{"<script>", "alert(1)</script"},
			wantInBody: []string{"&lt;script&gt;"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/?" + tt.rawQuery
			r := get(t, srv, target)
			wantHTML(t, "GET", target, r, http.StatusBadRequest)
			p := parsePage(t, r.body)
			if want := "Bad Request"; !slices.Equal(p.H1, []string{want}) {
				t.Errorf("GET %s h1 = %q, want [%q]", target, p.H1, want)
			}
			if want := "Bad Request · " + siteTitle; p.Title != want {
				t.Errorf("GET %s title = %q, want %q", target, p.Title, want)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(p.Notice, s) {
					t.Errorf("GET %s message = %q, want it to contain %q", target, p.Notice, s)
				}
			}
			for _, s := range tt.notInMsg {
				if strings.Contains(p.Notice, s) {
					t.Errorf("GET %s message = %q, want it not to contain %q", target, p.Notice, s)
				}
			}
			for _, s := range tt.notInBody {
				if strings.Contains(r.body, s) {
					t.Errorf("GET %s body contains %q; body:\n%s", target, s, r.body)
				}
			}
			for _, s := range tt.wantInBody {
				if !strings.Contains(r.body, s) {
					t.Errorf("GET %s body does not contain %q; body:\n%s", target, s, r.body)
				}
			}
			if len(p.Books) != 0 {
				t.Errorf("GET %s shows %d books, want none", target, len(p.Books))
			}
			wantNavCurrent(t, target, p, "")
			wantNoInternalText(t, target, r.body)
		})
	}
}

// TestHomeRecommendationsDown checks that the homepage is still served,
// with a notice and no internal details, when Recommendations is down.
func TestHomeRecommendationsDown(t *testing.T) {
	logger, logs := testLogger(t)
	rec := dialRecommendations(t, rpctest.ClosedAddr(t))
	srv := startSite(t, marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: 5 * time.Second})

	for _, target := range []string{"/", "/?category=self_help"} {
		t.Run(target, func(t *testing.T) {
			r := get(t, srv, target)
			wantHTML(t, "GET", target, r, http.StatusOK)
			p := parsePage(t, r.body)
			if len(p.H1) != 1 || !strings.HasSuffix(p.H1[0], "books you may like") {
				t.Errorf("GET %s h1 = %q, want one ending %q", target, p.H1, "books you may like")
			}
			if !strings.Contains(p.Notice, noticeUnavailable) {
				t.Errorf("GET %s notice = %q, want it to contain %q", target, p.Notice, noticeUnavailable)
			}
			if p.HasList || len(p.Books) != 0 {
				t.Errorf("GET %s shows a book list (%d books), want none", target, len(p.Books))
			}
			if len(p.Nav) != len(wantNav) {
				t.Errorf("GET %s nav has %d links, want %d", target, len(p.Nav), len(wantNav))
			}
			wantNoInternalText(t, target, r.body)
		})
	}
	// The details are for the log.
	if got := logs.String(); !strings.Contains(got, "recommendations failed") {
		t.Errorf("log does not say the recommendations failed:\n%s", got)
	}
}

// blockingRecommender answers only when its context is done, and reports
// whether that context had a deadline.
type blockingRecommender struct {
	sawDeadline chan bool // receives one value per call, if there is room
}

func (f blockingRecommender) Recommend(ctx context.Context, _ bookshop.RecommendRequest) ([]bookshop.Book, error) {
	_, ok := ctx.Deadline()
	select {
	case f.sawDeadline <- ok:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestHomeRecommendationsSlow checks that a Recommendations service that
// does not answer gets the Marketplace's deadline, and that the page is
// served without recommendations when it passes.
func TestHomeRecommendationsSlow(t *testing.T) {
	fake := blockingRecommender{sawDeadline: make(chan bool, 1)}
	addr := startRecommendations(t, fake)
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Connected first, so that the 200 ms times the call, not the
	// connecting, which takes longer under -race on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn.Connect()
	for s := conn.GetState(); s != connectivity.Ready; s = conn.GetState() {
		if !conn.WaitForStateChange(ctx, s) {
			t.Fatalf("the connection to Recommendations is %v, not ready within 10s", s)
		}
	}
	rec := recommendationsclient.New(conn, 10*time.Second) // falls back to a 10s timeout; the site must set its own
	srv := startSite(t, marketplace.Options{Recommender: rec, RecommendTimeout: 200 * time.Millisecond})

	start := time.Now()
	r := get(t, srv, "/")
	elapsed := time.Since(start)
	wantHTML(t, "GET", "/", r, http.StatusOK)
	p := parsePage(t, r.body)
	if want := "Mystery books you may like"; !slices.Equal(p.H1, []string{want}) {
		t.Errorf("GET / h1 = %q, want [%q]", p.H1, want)
	}
	if !strings.Contains(p.Notice, noticeUnavailable) {
		t.Errorf("GET / notice = %q, want it to contain %q", p.Notice, noticeUnavailable)
	}
	if len(p.Books) != 0 {
		t.Errorf("GET / shows %d books, want none", len(p.Books))
	}
	wantNoInternalText(t, "/", r.body)
	// A sanity bound only: well under the client's own 10s fallback.
	if elapsed > 5*time.Second {
		t.Errorf("GET / took %v with RecommendTimeout 200ms, want well under 5s", elapsed)
	}

	select {
	case ok := <-fake.sawDeadline:
		if !ok {
			t.Errorf("Recommend context had no deadline, want one")
		}
	case <-testContext(t).Done():
		t.Fatal("Recommend was never called")
	}
}

// TestHomeEmptyCategory checks the notice for a category the catalog has no
// books in.
func TestHomeEmptyCategory(t *testing.T) {
	var books []bookshop.Book
	for _, b := range builtinCatalog(t).Books() {
		if b.Category != bookshop.SelfHelp {
			books = append(books, b)
		}
	}
	rec := grpcRecommender(t, recommendations.New(bookshop.NewShelf(books), seededRand()))
	srv := startSite(t, marketplace.Options{Recommender: rec})

	const target = "/?category=self_help"
	r := get(t, srv, target)
	wantHTML(t, "GET", target, r, http.StatusOK)
	p := parsePage(t, r.body)
	if want := "Self-help books you may like"; !slices.Equal(p.H1, []string{want}) {
		t.Errorf("GET %s h1 = %q, want [%q]", target, p.H1, want)
	}
	if !strings.Contains(p.Notice, noticeNoBooks) {
		t.Errorf("GET %s notice = %q, want it to contain %q", target, p.Notice, noticeNoBooks)
	}
	if p.HasList || len(p.Books) != 0 {
		t.Errorf("GET %s shows a book list (%d books), want none", target, len(p.Books))
	}
	wantNavCurrent(t, target, p, "Self-help")
	wantNoInternalText(t, target, r.body)

	// The other categories still have books.
	if got := len(parsePage(t, get(t, srv, "/").body).Books); got != 3 {
		t.Errorf("GET / shows %d books, want 3", got)
	}
}

// TestNotFound checks the 404 page.
func TestNotFound(t *testing.T) {
	srv := startBuiltinSite(t)
	for _, target := range []string{"/nope", "/nope/deeper", "/index.html", "/static/missing.css"} {
		t.Run(target, func(t *testing.T) {
			r := get(t, srv, target)
			wantHTML(t, "GET", target, r, http.StatusNotFound)
			p := parsePage(t, r.body)
			if want := "Not Found"; !slices.Equal(p.H1, []string{want}) {
				t.Errorf("GET %s h1 = %q, want [%q]", target, p.H1, want)
			}
			if want := "Not Found · " + siteTitle; p.Title != want {
				t.Errorf("GET %s title = %q, want %q", target, p.Title, want)
			}
			if want := "There is no page at this address."; p.Notice != want {
				t.Errorf("GET %s message = %q, want %q", target, p.Notice, want)
			}
			wantNavCurrent(t, target, p, "")
		})
	}
}

// TestMethods checks the methods the pages take and refuses: a method a
// page does not take gets 405 with the ones it does, never the 404 of a
// path with no page.
func TestMethods(t *testing.T) {
	srv := startBuiltinSite(t)
	for _, page := range []struct{ path, allow string }{
		{"/", "GET, HEAD"},
		{"/checkout", "GET, HEAD, POST"},
		{"/cart", "GET, HEAD"},
		{"/cart/items", "POST"},
		{"/signin", "GET, HEAD, POST"},
	} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			if strings.Contains(page.allow, method) {
				continue
			}
			t.Run(method+page.path, func(t *testing.T) {
				r := do(t, srv, method, page.path)
				if r.status != http.StatusMethodNotAllowed {
					t.Fatalf("%s %s = %d, want %d", method, page.path, r.status, http.StatusMethodNotAllowed)
				}
				if got := r.header.Get("Allow"); got != page.allow {
					t.Errorf("%s %s Allow = %q, want %q", method, page.path, got, page.allow)
				}
			})
		}
	}
	t.Run("HEAD", func(t *testing.T) {
		r := do(t, srv, http.MethodHead, "/")
		wantHTML(t, "HEAD", "/", r, http.StatusOK)
		if r.body != "" {
			t.Errorf("HEAD / body = %q, want empty", r.body)
		}
	})
}

// TestHealthz checks the liveness endpoint.
func TestHealthz(t *testing.T) {
	// Even with Recommendations down, the web server is alive.
	srv := startSite(t, marketplace.Options{Recommender: dialRecommendations(t, rpctest.ClosedAddr(t))})
	r := get(t, srv, "/healthz")
	if r.status != http.StatusOK {
		t.Fatalf("GET /healthz = %d, want %d", r.status, http.StatusOK)
	}
	if r.body != "ok\n" {
		t.Errorf("GET /healthz body = %q, want %q", r.body, "ok\n")
	}
	if got, want := r.header.Get("Content-Type"), "text/plain; charset=utf-8"; got != want {
		t.Errorf("GET /healthz Content-Type = %q, want %q", got, want)
	}
}

// TestStatic checks the static files the pages link to: served with their
// type, cached for good at the linked (versioned) URL, revalidated
// otherwise.
func TestStatic(t *testing.T) {
	srv := startBuiltinSite(t)
	p := parsePage(t, get(t, srv, "/").body)
	unversioned := func(link string) string {
		t.Helper()
		u, err := url.Parse(link)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", link, err)
		}
		if u.Query().Get("v") == "" {
			t.Errorf("linked URL %q has no version (?v=)", link)
		}
		if !strings.HasPrefix(u.Path, "/static/") {
			t.Errorf("linked URL %q is not under /static/", link)
		}
		return u.Path
	}
	css, icon := unversioned(p.Stylesheet), unversioned(p.Favicon)

	tests := []struct {
		name       string
		target     string
		wantType   string
		wantCache  string
		wantPrefix string // of the body
	}{
		{"stylesheet", p.Stylesheet, "text/css; charset=utf-8", immutableCache, ""},
		{"favicon", p.Favicon, "image/svg+xml", immutableCache, "<svg"},
		{"stylesheet without version", css, "text/css; charset=utf-8", "no-cache", ""},
		{"favicon without version", icon, "image/svg+xml", "no-cache", "<svg"},
		{"stylesheet with stale version", css + "?v=0123456789ab", "text/css; charset=utf-8", "no-cache", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv, tt.target)
			if r.status != http.StatusOK {
				t.Fatalf("GET %s = %d, want %d", tt.target, r.status, http.StatusOK)
			}
			if got := r.header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("GET %s Content-Type = %q, want %q", tt.target, got, tt.wantType)
			}
			if got := r.header.Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("GET %s Cache-Control = %q, want %q", tt.target, got, tt.wantCache)
			}
			if r.body == "" || !strings.HasPrefix(r.body, tt.wantPrefix) {
				t.Errorf("GET %s body = %.40q..., want a non-empty file starting %q", tt.target, r.body, tt.wantPrefix)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		const target = "/static/missing.css"
		r := get(t, srv, target)
		wantHTML(t, "GET", target, r, http.StatusNotFound)
		if got := r.header.Get("Cache-Control"); got == immutableCache {
			t.Errorf("GET %s Cache-Control = %q, want a 404 not cached for good", target, got)
		}
	})
}

// TestEndpointMethods checks that the health endpoints and the static
// files answer another method than GET or HEAD with 405 and the methods
// they take, as the pages do, rather than as a page that is not there.
func TestEndpointMethods(t *testing.T) {
	srv := startBuiltinSite(t)
	for _, target := range []string{"/healthz", "/readyz", "/static/style.css"} {
		r := do(t, srv, http.MethodPost, target)
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s = %d, Allow %q; want 405, Allow GET, HEAD", target, r.status, r.header.Get("Allow"))
		}
		if r := do(t, srv, http.MethodHead, target); r.status != http.StatusOK {
			t.Errorf("HEAD %s = %d, want 200", target, r.status)
		}
	}
}

// TestSecurityHeaders checks the headers every response carries, whatever
// route answers it.
func TestSecurityHeaders(t *testing.T) {
	srv := startBuiltinSite(t)
	tests := []struct {
		method string
		target string
	}{
		{http.MethodGet, "/"},
		{http.MethodHead, "/"},
		{http.MethodGet, "/?category=romance"},
		{http.MethodPost, "/"},
		{http.MethodGet, "/nope"},
		{http.MethodGet, "/healthz"},
		{http.MethodGet, "/static/style.css"},
		{http.MethodGet, "/static/missing.css"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			wantSecurityHeaders(t, tt.method, tt.target, do(t, srv, tt.method, tt.target))
		})
	}
}

func wantSecurityHeaders(tb testing.TB, method, target string, r response) {
	tb.Helper()
	if got := r.header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") {
		tb.Errorf("%s %s Content-Security-Policy = %q, want it to contain %q", method, target, got, "default-src 'none'")
	}
	if got, want := r.header.Get("X-Content-Type-Options"), "nosniff"; got != want {
		tb.Errorf("%s %s X-Content-Type-Options = %q, want %q", method, target, got, want)
	}
	if got := r.header.Get("Referrer-Policy"); got == "" || got == "unsafe-url" {
		tb.Errorf("%s %s Referrer-Policy = %q, want a policy that does not leak URLs", method, target, got)
	}
}

// panicOnce panics on its first call and recommends one book after.
type panicOnce struct {
	calls atomic.Int32
}

const panicValue = "recommender exploded: secret-internal-detail"

func (f *panicOnce) Recommend(context.Context, bookshop.RecommendRequest) ([]bookshop.Book, error) {
	if f.calls.Add(1) == 1 {
		panic(panicValue)
	}
	return []bookshop.Book{{ID: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930}}, nil
}

// TestPanicRecovery checks that a panic in a handler gets a 500 page with no
// details, that the details are logged, and that the server goes on serving.
func TestPanicRecovery(t *testing.T) {
	logger, logs := testLogger(t)
	srv := startSite(t, marketplace.Options{Logger: logger, Recommender: new(panicOnce), RecommendTimeout: time.Second})

	r := get(t, srv, "/")
	wantHTML(t, "GET", "/", r, http.StatusInternalServerError)
	wantSecurityHeaders(t, "GET", "/", r)
	p := parsePage(t, r.body)
	if want := "Internal Server Error"; !slices.Equal(p.H1, []string{want}) {
		t.Errorf("GET / h1 = %q, want [%q]", p.H1, want)
	}
	if p.Notice == "" {
		t.Errorf("GET / after a panic shows no message")
	}
	for _, s := range []string{"secret-internal-detail", "exploded", "panicOnce", "marketplace_test"} {
		if strings.Contains(r.body, s) {
			t.Errorf("GET / after a panic: body contains %q; body:\n%s", s, r.body)
		}
	}
	wantNoInternalText(t, "/", r.body)

	log := logs.String()
	for _, s := range []string{"panic serving request", panicValue, "goroutine", "runtime/debug.Stack", "(*panicOnce).Recommend"} {
		if !strings.Contains(log, s) {
			t.Errorf("log after a panic does not contain %q:\n%s", s, log)
		}
	}

	// The server goes on serving, the same route included.
	if r := get(t, srv, "/healthz"); r.status != http.StatusOK {
		t.Errorf("GET /healthz after a panic = %d, want %d", r.status, http.StatusOK)
	}
	r = get(t, srv, "/")
	wantHTML(t, "GET", "/", r, http.StatusOK)
	if got := parsePage(t, r.body).Books; len(got) != 1 || got[0].Title != "The Maltese Falcon" {
		t.Errorf("GET / after a panic shows %+v, want The Maltese Falcon", got)
	}
}

// TestNewServerOptions checks that NewServer refuses an incomplete Options
// with an error naming what is missing.
func TestNewServerOptions(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	books := builtinCatalog(t)
	rec := recommendations.New(books, nil)
	live := noLive{}
	var down marketplace.Options
	downShop(t, &down)
	accounts, carts := down.Accounts, down.Carts
	tests := []struct {
		name    string
		cfg     marketplace.Options
		wantErr string // "" for none
	}{
		{"complete", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}}, ""},
		{"complete with live settings", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{},
			MaxLiveSessions: 1, LiveHeartbeat: time.Millisecond, Shutdown: make(chan struct{})}, ""},
		{"nil Logger", marketplace.Options{Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live}, "Logger"},
		{"nil Recommender", marketplace.Options{Logger: logger, RecommendTimeout: time.Second, Catalog: books, Live: live}, "Recommender"},
		{"zero RecommendTimeout", marketplace.Options{Logger: logger, Recommender: rec, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}}, "RecommendTimeout"},
		{"negative RecommendTimeout", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: -time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}}, "RecommendTimeout"},
		{"nil Catalog", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}}, "Catalog"},
		{"nil Live", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Searcher: noSearch{}}, "Live"},
		{"nil Accounts", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Searcher: noSearch{}, Live: live}, "Accounts"},
		{"nil Carts", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Searcher: noSearch{}, Live: live, Accounts: accounts}, "Carts"},
		{"nil Inventory", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Searcher: noSearch{}, Live: live, Accounts: accounts, Carts: carts}, "Inventory"},
		{"nil Checkout", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Searcher: noSearch{}, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory}, "Checkout"},
		{"nil Orders", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Searcher: noSearch{}, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout}, "Orders"},
		{"nil Promotions", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Searcher: noSearch{}, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders}, "Promotions"},
		{"negative MaxLiveSessions", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}, MaxLiveSessions: -1}, "MaxLiveSessions"},
		{"negative LiveHeartbeat", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}, LiveHeartbeat: -time.Second}, "LiveHeartbeat"},
		{"complete with readiness and rate settings", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{},
			Ready: func(context.Context) error { return nil }, RateLimit: 1, RateBurst: 1, MaxRateClients: 1, TrustedProxies: 1}, ""},
		{"no rate limit", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}, RateLimit: rate.Inf}, ""},
		{"negative RateLimit", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}, RateLimit: -1}, "RateLimit"},
		{"NaN RateLimit", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}, RateLimit: rate.Limit(math.NaN())}, "RateLimit"},
		{"negative RateBurst", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}, RateBurst: -1}, "RateBurst"},
		{"negative MaxRateClients", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}, MaxRateClients: -1}, "MaxRateClients"},
		{"negative TrustedProxies", marketplace.Options{Logger: logger, Recommender: rec, RecommendTimeout: time.Second, Catalog: books, Live: live, Accounts: accounts, Carts: carts, Inventory: down.Inventory, Checkout: down.Checkout, Orders: down.Orders, Promotions: down.Promotions, Searcher: noSearch{}, TrustedProxies: -1}, "TrustedProxies"},
		{"empty", marketplace.Options{}, "Options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := marketplace.NewServer(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || h == nil {
					t.Fatalf("NewServer(%+v) = %v, %v; want a handler, nil", tt.cfg, h, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewServer(%+v) error = nil, want an error about %s", tt.cfg, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewServer(%+v) error = %q, want it to name %q", tt.cfg, err, tt.wantErr)
			}
			if h != nil {
				t.Errorf("NewServer(%+v) returned a handler with its error", tt.cfg)
			}
		})
	}
}

// BenchmarkHome measures the whole homepage as shoppers get it: HTTP over
// loopback to the Marketplace, which calls the real Recommendations service
// over loopback gRPC.
func BenchmarkHome(b *testing.B) {
	rec := grpcRecommender(b, recommendations.New(builtinCatalog(b), nil))
	// One client, as fast as it can: not limited, or it would measure 429s.
	srv := startSite(b, marketplace.Options{Logger: slog.New(slog.DiscardHandler), Recommender: rec, RateLimit: rate.Inf})
	transport := srv.Client().Transport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 4 * runtime.GOMAXPROCS(0)
	b.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/", nil)
			if err != nil {
				cancel()
				b.Errorf("NewRequest: %v", err)
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				cancel()
				b.Errorf("GET /: %v", err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			cancel()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Errorf("GET / = %d (read: %v), want %d", resp.StatusCode, err, http.StatusOK)
				return
			}
		}
	})
}

// discardResponseWriter is a ResponseWriter that keeps only the status.
type discardResponseWriter struct {
	header http.Header
	status int
}

func (w *discardResponseWriter) Header() http.Header { return w.header }

func (w *discardResponseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardResponseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// BenchmarkHomeInProcess measures the Marketplace's own cost for the
// homepage (routing, middleware, the handler and rendering), with the
// recommender called in process and no network, for a guest: the shop's
// services are down, so that the page is shown without the promotion's
// banner, as it is when Promotions is.
func BenchmarkHomeInProcess(b *testing.B) {
	books := builtinCatalog(b)
	opts := marketplace.Options{
		Logger:           slog.New(slog.DiscardHandler),
		Recommender:      recommendations.New(books, nil),
		RecommendTimeout: time.Second,
		Catalog:          books,
		Searcher:         noSearch{},
		Live:             noLive{},
		RateLimit:        rate.Inf,
	}
	downShop(b, &opts)
	h, err := marketplace.NewServer(opts)
	if err != nil {
		b.Fatalf("NewServer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	w := &discardResponseWriter{header: make(http.Header)}

	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("GET / = %d, want %d", w.status, http.StatusOK)
		}
	}
}

// TestRequestID checks that a page load's request id reaches the
// Recommendations call it makes, comes back in X-Request-Id, and is made
// when the browser sends none or a bad one.
func TestRequestID(t *testing.T) {
	rec := &idRecorder{}
	site := startSite(t, marketplace.Options{Recommender: grpcRecommender(t, rec)})
	get := func(header string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, site.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if header != "" {
			req.Header.Set("X-Request-Id", header)
		}
		resp, err := site.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Request-Id")
	}
	if got := get("page-load-7"); got != "page-load-7" {
		t.Errorf("X-Request-Id answered %q, want page-load-7", got)
	}
	if got := rec.last(); got != "page-load-7" {
		t.Errorf("Recommendations saw request id %q, want page-load-7", got)
	}
	for _, bad := range []string{"", "has spaces", strings.Repeat("x", 65)} {
		got := get(bad)
		if got == "" || got == bad {
			t.Errorf("X-Request-Id %q answered %q, want a new id", bad, got)
		}
		if seen := rec.last(); seen != got {
			t.Errorf("Recommendations saw request id %q, want the new %q", seen, got)
		}
	}
}

// idRecorder is a Recommender that records the request id of each call.
type idRecorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *idRecorder) Recommend(ctx context.Context, _ bookshop.RecommendRequest) ([]bookshop.Book, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, reqid.From(ctx))
	return []bookshop.Book{{ID: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930}}, nil
}

func (r *idRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ids) == 0 {
		return ""
	}
	return r.ids[len(r.ids)-1]
}
