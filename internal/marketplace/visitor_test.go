package marketplace_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// The visitor: who is asking for a page, as the header and the sign-out
// know it, when the services that say so are up, down, or back.

// restartableAccounts is an Accounts service, run as its command runs it,
// with its database in a file, that a test stops and starts again on the
// same address: a service that goes down and comes back.
type restartableAccounts struct {
	tb     testing.TB
	addr   string
	db     string
	client *accountsclient.Client
	stop   func()
}

// startRestartableAccounts starts Accounts until the test ends.
func startRestartableAccounts(tb testing.TB) *restartableAccounts {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	a := &restartableAccounts{tb: tb, addr: lis.Addr().String(), db: filepath.Join(tb.TempDir(), "accounts.db")}
	a.run(lis)
	// A client that tries again soon after a failed connection, so that
	// the service is reached as soon as it is back.
	a.client = accountsclient.New(rpctest.Dial(tb, a.addr, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1, MaxDelay: 10 * time.Millisecond},
		MinConnectTimeout: time.Second,
	})), 10*time.Second)
	tb.Cleanup(func() { a.stop() })
	return a
}

// run serves Accounts on lis until stop.
func (a *restartableAccounts) run(lis net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cfg := accounts.DefaultConfig()
		cfg.DB = a.db
		done <- accounts.Run(ctx, cfg, process.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DrainTimeout: time.Second, Listener: lis})
	}()
	stopped := false
	a.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			a.tb.Errorf("accounts: %v", err)
		}
	}
}

// restart starts Accounts again on its address, after stop.
func (a *restartableAccounts) restart() {
	a.tb.Helper()
	var lis net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if lis, err = net.Listen("tcp", a.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		a.tb.Fatalf("listen on %s again: %v", a.addr, err)
	}
	a.run(lis)
}

// A shopper who signs up and, with no page in between, signs out while
// Accounts is down is told that they are still signed in, and keeps the
// cookie: the Marketplace never checked the session, but it must not drop
// the cookie of a session it could not end. Once Accounts is back, the
// sign-out ends the session.
func TestSignOutRightAfterSignUpWithAccountsDown(t *testing.T) {
	acc := startRestartableAccounts(t)
	shop := startShop(t, func(o *marketplace.Options) { o.Accounts = acc.client })
	b := newShopper(t, shop.site)
	b.signUp("fresh@example.com", "Fresh")
	token := b.cookie("bookshop_session")
	acc.stop()

	r := b.post("/signout", nil)
	wantHTML(t, "POST", "/signout", r, http.StatusServiceUnavailable)
	if !strings.Contains(r.body, "still signed in") {
		t.Errorf("a sign-out that could not reach Accounts does not say so:\n%s", r.body)
	}
	if got := b.cookie("bookshop_session"); got != token {
		t.Fatalf("a sign-out that could not revoke the session changed its cookie to %q", got)
	}

	acc.restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = b.post("/signout", nil)
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("POST /signout with Accounts back: status %d, Location %q, want 303 to /; body:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if b.cookie("bookshop_session") != "" {
		t.Error("POST /signout with Accounts back: the session cookie stays")
	}
	if _, err := acc.client.Session(testContext(t), token); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Session(signed-out token) = %v, want NotFound: the sign-out did not revoke it", err)
	}
}

// The error pages show a signed-in customer's own header: their name and
// their cart's count, where the visitor is known (a path with no page, a
// method a page does not take); and where it cannot be known (a request
// refused before the Marketplace looks at its cookies: from another site,
// or past the rate limit), a header that names no one and counts nothing,
// never a guest's "Sign in" and an empty cart.
func TestErrorPagesShowTheVisitor(t *testing.T) {
	const name = "Errol Page"
	signedInWithCart := func(t *testing.T, shop *shop) *shopper {
		b := newShopper(t, shop.site)
		b.signUp("errol@example.com", name)
		b.add(1, 2)
		b.add(2, 1)
		return b
	}
	wantCustomer := func(t *testing.T, what string, r response) {
		t.Helper()
		if !strings.Contains(r.body, `href="/account">`+name+`</a>`) {
			t.Errorf("%s: the header does not name the customer:\n%s", what, r.body)
		}
		if got := headerCount(t, r.body); got != "3" {
			t.Errorf("%s: the header counts %q, want 3", what, got)
		}
	}
	wantUnknown := func(t *testing.T, what string, r response) {
		t.Helper()
		if !strings.Contains(r.body, `<a class="cart-link" href="/cart">Cart</a>`) {
			t.Errorf("%s: no link to the cart in the header:\n%s", what, r.body)
		}
		for _, bad := range []string{"Sign in", `id="cart-count"`, name} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s: the header of an unknown visitor shows %q:\n%s", what, bad, r.body)
			}
		}
	}

	t.Run("known", func(t *testing.T) {
		shop := startShop(t)
		b := signedInWithCart(t, shop)

		r := b.get("/no/such/page")
		wantHTML(t, "GET", "/no/such/page", r, http.StatusNotFound)
		wantCustomer(t, "GET /no/such/page", r)

		r = b.get("/cart/items")
		wantHTML(t, "GET", "/cart/items", r, http.StatusMethodNotAllowed)
		if got := r.header.Get("Allow"); got != "POST" {
			t.Errorf("GET /cart/items: Allow %q, want POST", got)
		}
		wantCustomer(t, "GET /cart/items", r)

		r = b.post("/books/1", nil)
		wantHTML(t, "POST", "/books/1", r, http.StatusMethodNotAllowed)
		wantCustomer(t, "POST /books/1", r)
	})

	t.Run("cross-site", func(t *testing.T) {
		shop := startShop(t)
		b := signedInWithCart(t, shop)
		r := b.post("/cart/items", url.Values{"book": {"3"}}, "Sec-Fetch-Site", "cross-site")
		wantHTML(t, "POST", "/cart/items from another site", r, http.StatusForbidden)
		wantUnknown(t, "POST /cart/items from another site", r)
	})

	t.Run("rate limited", func(t *testing.T) {
		// A burst for the sign-up, the two additions and one page.
		shop := startShop(t, func(o *marketplace.Options) { o.RateLimit, o.RateBurst = 0.001, 4 })
		b := signedInWithCart(t, shop)
		wantCustomer(t, "GET /", b.get("/"))
		r := b.get("/")
		wantHTML(t, "GET", "/ past the rate limit", r, http.StatusTooManyRequests)
		wantUnknown(t, "GET / past the rate limit", r)
	})
}

// startShopOf is startShop over the built-in catalog and books.
func startShopOf(tb testing.TB, books []bookshop.Book) *shop {
	tb.Helper()
	shelf := builtinCatalog(tb).With(books)
	svc := startServices(tb, shelf, seededRand())
	s := &shop{catalog: svc.catalog, shopServices: startShopServices(tb, svc.catalogAddr)}
	o := marketplace.Options{
		Recommender: grpcRecommender(tb, recommendations.New(shelf, seededRand())),
		Catalog:     svc.catalog,
		Searcher:    svc.catalog,
		Live:        svc.live,
		RateLimit:   1000,
		RateBurst:   1000,
	}
	s.options(&o)
	s.site = startSite(tb, o)
	return s
}

// moreBooks returns n books more than the built-in catalog's, ids from
// first on.
func moreBooks(first int32, n int) []bookshop.Book {
	books := make([]bookshop.Book, n)
	for i := range books {
		id := first + int32(i)
		books[i] = bookshop.Book{
			ID: id, Title: "Volume " + strconv.Itoa(int(id)), Author: "A. Writer", Year: 2001,
			Category: bookshop.Mystery, Price: bookshop.Money{Units: 999, Currency: "EUR"},
		}
	}
	return books
}

// A guest whose cart does not all fit in the customer's cart at sign-in
// is told, once, how many books were dropped and how many capped: on the
// page that merged it, or, when a POST merged it, on the page after.
func TestMergeLossIsTold(t *testing.T) {
	shop := startShopOf(t, moreBooks(1001, 60))
	ctx := testContext(t)
	// fill gives the customer email a cart of 48 books, 1001 to 1048,
	// with 9 copies of 1001, and returns a guest's browser that signs in
	// as them.
	fill := func(email string) *shopper {
		t.Helper()
		c := newShopper(t, shop.site)
		c.signUp(email, "Full Cart")
		id := "c-" + strconv.Itoa(int(shop.customer(t, c).ID))
		for book := int32(1001); book <= 1048; book++ {
			n := 1
			if book == 1001 {
				n = 9
			}
			if _, err := shop.carts.Add(ctx, id, book, n, ""); err != nil {
				t.Fatalf("Add(%s, %d): %v", id, book, err)
			}
		}
		return newShopper(t, shop.site)
	}
	signIn := func(b *shopper, email string) {
		t.Helper()
		r := b.post("/signin", url.Values{"email": {email}, "password": {testPassword}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("POST /signin: status %d, want 303; body:\n%s", r.status, r.body)
		}
	}
	const (
		dropped = "3 books from your guest cart did not fit: a cart holds 50 different books at most."
		capped  = "1 book from your guest cart was capped at 10 copies"
	)

	t.Run("on the page", func(t *testing.T) {
		b := fill("full@example.com")
		b.add(1001, 3) // 9 + 3: capped at 10
		for book := int32(1049); book <= 1053; book++ {
			b.add(book, 1) // 1049 and 1050 fit; the others do not
		}
		signIn(b, "full@example.com")
		r := b.get("/")
		wantHTML(t, "GET", "/", r, http.StatusOK)
		for _, want := range []string{dropped, capped} {
			if !strings.Contains(r.body, want) {
				t.Errorf("GET / after the merge: no %q in the page:\n%s", want, r.body)
			}
		}
		if got := headerCount(t, r.body); got != "59" {
			t.Errorf("GET / after the merge: the header counts %q, want 59 (10 + 47 + 2)", got)
		}
		if r := b.get("/"); strings.Contains(r.body, "guest cart") {
			t.Errorf("GET / again: the notice is shown twice:\n%s", r.body)
		}
	})

	t.Run("after a POST", func(t *testing.T) {
		b := fill("fuller@example.com")
		b.add(1001, 2)
		signIn(b, "fuller@example.com")
		b.add(1002, 1) // the POST merges; its redirect's page tells
		r := b.get("/cart")
		wantHTML(t, "GET", "/cart", r, http.StatusOK)
		if !strings.Contains(r.body, capped) || strings.Contains(r.body, "did not fit") {
			t.Errorf("GET /cart after a merge by a POST: want %q alone:\n%s", capped, r.body)
		}
		if r := b.get("/cart"); strings.Contains(r.body, "guest cart") {
			t.Errorf("GET /cart again: the notice is shown twice:\n%s", r.body)
		}
	})
}

// The page that merges a guest cart at sign-in counts the cart once: the
// merge's answer has the count, so the page neither asks the Cart again
// nor sets the count cookie twice.
func TestMergeCountsOnce(t *testing.T) {
	shop := startShop(t)
	newShopper(t, shop.site).signUp("once@example.com", "Once")
	b := newShopper(t, shop.site)
	b.add(1, 2)
	r := b.post("/signin", url.Values{"email": {"once@example.com"}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /signin: status %d, want 303", r.status)
	}
	r = b.get("/")
	var counts []string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "bookshop_count" {
			counts = append(counts, c.Value)
		}
	}
	if len(counts) != 1 {
		t.Errorf("GET / that merged the guest cart sets bookshop_count %d times (%v), want once", len(counts), counts)
	}
	if got := headerCount(t, r.body); got != "2" {
		t.Errorf("GET / that merged the guest cart: the header counts %q, want 2", got)
	}
}

// A shopper who opens /signout as a page (a link, a typed address) is
// not signed out by it: they get the error page, with their own header
// and a sign-out button that works.
func TestSignOutOpenedAsAPage(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("link@example.com", "Link Clicker")
	token := b.cookie("bookshop_session")

	r := b.get("/signout")
	wantHTML(t, "GET", "/signout", r, http.StatusMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "POST" {
		t.Errorf("GET /signout: Allow %q, want POST", got)
	}
	for _, want := range []string{`href="/account">Link Clicker</a>`, `<form method="post" action="/signout">`, ">Sign out</button>"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("GET /signout: no %s in the page:\n%s", want, r.body)
		}
	}
	if b.cookie("bookshop_session") != token {
		t.Fatal("GET /signout changed the session cookie")
	}
	if _, err := shop.accounts.Session(testContext(t), token); err != nil {
		t.Fatalf("GET /signout ended the session: %v", err)
	}
	if r := b.post("/signout", nil); r.status != http.StatusSeeOther {
		t.Errorf("the page's button (POST /signout): status %d, want 303", r.status)
	}

	guest := b.get("/signout")
	wantHTML(t, "GET", "/signout as a guest", guest, http.StatusMethodNotAllowed)
	if strings.Contains(guest.body, `action="/signout"`) || !strings.Contains(guest.body, "You are not signed in.") {
		t.Errorf("GET /signout as a guest: want no button, and that they are not signed in:\n%s", guest.body)
	}
}
