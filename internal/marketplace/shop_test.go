package marketplace_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionstest"
)

// The shop's pages: accounts and the cart, over real Accounts, Cart and
// Catalog services on loopback (see startShop).

// shopper is a browser: it keeps cookies, and does not follow redirects,
// so that tests see them.
type shopper struct {
	tb     testing.TB
	site   *httptest.Server
	client *http.Client
}

func newShopper(tb testing.TB, site *httptest.Server) *shopper {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &shopper{tb: tb, site: site, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// send sends req and reads the response.
func (s *shopper) send(req *http.Request) response {
	s.tb.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		s.tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.tb.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (s *shopper) get(target string) response {
	s.tb.Helper()
	req, err := http.NewRequestWithContext(testContext(s.tb), http.MethodGet, s.site.URL+target, nil)
	if err != nil {
		s.tb.Fatal(err)
	}
	return s.send(req)
}

// post sends a form as the site's own pages do (same origin).
func (s *shopper) post(target string, form url.Values, header ...string) response {
	s.tb.Helper()
	req, err := http.NewRequestWithContext(testContext(s.tb), http.MethodPost, s.site.URL+target, strings.NewReader(form.Encode()))
	if err != nil {
		s.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return s.send(req)
}

// cookie returns the value of the site's cookie name, or "".
func (s *shopper) cookie(name string) string {
	u, _ := url.Parse(s.site.URL)
	for _, c := range s.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie sets a cookie as another site or an attacker could have.
func (s *shopper) setCookie(name, value string) {
	u, _ := url.Parse(s.site.URL)
	s.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// signUp opens an account and signs in, and fails the test unless it
// worked.
func (s *shopper) signUp(email, name string) {
	s.tb.Helper()
	r := s.post("/signup", url.Values{"email": {email}, "name": {name}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		s.tb.Fatalf("POST /signup: status %d, want 303; body:\n%s", r.status, r.body)
	}
}

// add adds a book to the cart with the plain form, and fails the test
// unless it worked.
func (s *shopper) add(book int32, quantity int) {
	s.tb.Helper()
	r := s.post("/cart/items", url.Values{"book": {strconv.Itoa(int(book))}, "quantity": {strconv.Itoa(quantity)}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/cart" {
		s.tb.Fatalf("POST /cart/items: status %d, Location %q, want 303 to /cart; body:\n%s", r.status, r.header.Get("Location"), r.body)
	}
}

const testPassword = "correct horse battery staple"

var cartCountRE = regexp.MustCompile(`id="cart-count">([^<]*)`)

// headerCount returns what the header says the cart holds.
func headerCount(tb testing.TB, body string) string {
	tb.Helper()
	m := cartCountRE.FindStringSubmatch(body)
	if m == nil {
		tb.Fatalf("no cart count in the page:\n%s", body)
	}
	return m[1]
}

func TestSignUpSignOut(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)

	form := b.get("/signup")
	wantHTML(t, "GET", "/signup", form, http.StatusOK)
	for _, want := range []string{`name="email"`, `name="name"`, `name="password"`, `autocomplete="new-password"`} {
		if !strings.Contains(form.body, want) {
			t.Errorf("GET /signup: no %s in the form", want)
		}
	}

	r := b.post("/signup", url.Values{"email": {"  Ada@Example.COM "}, "name": {"Ada Lovelace"}, "password": {testPassword}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("POST /signup: status %d, Location %q, want 303 to /; body:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	cookie := setCookieNamed(t, r, "bookshop_session")
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Secure {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP", cookie)
	}
	if strings.Contains(r.body, testPassword) {
		t.Error("the answer to the sign-up holds the password")
	}
	token := cookie.Value

	account := b.get("/account")
	wantHTML(t, "GET", "/account", account, http.StatusOK)
	for _, want := range []string{"Ada Lovelace", "ada@example.com", `action="/signout"`} {
		if !strings.Contains(account.body, want) {
			t.Errorf("GET /account: no %q in the page", want)
		}
	}
	if home := b.get("/"); !strings.Contains(home.body, `href="/account">Ada Lovelace</a>`) {
		t.Errorf("GET /: the header does not name the customer:\n%s", home.body)
	}

	out := b.post("/signout", nil)
	if out.status != http.StatusSeeOther || out.header.Get("Location") != "/" {
		t.Fatalf("POST /signout: status %d, Location %q, want 303 to /", out.status, out.header.Get("Location"))
	}
	if c := setCookieNamed(t, out, "bookshop_session"); c.MaxAge >= 0 {
		t.Errorf("POST /signout: session cookie %+v not dropped", c)
	}
	if r := b.get("/account"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/signin") {
		t.Errorf("GET /account signed out: status %d, Location %q, want 303 to /signin", r.status, r.header.Get("Location"))
	}

	// The session is revoked, not only forgotten by the browser.
	b.setCookie("bookshop_session", token)
	if r := b.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("GET /account with the signed-out session's token: status %d, want 303 to /signin", r.status)
	}
	if _, err := shop.accounts.Session(testContext(t), token); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Session(signed-out token) = %v, want NotFound", err)
	}
}

// TestSignUpFieldErrors checks that what Accounts finds wrong with a
// field of the sign-up form is shown beside that field, marked for
// assistive technology, and the form comes back with what was typed but
// the password.
func TestSignUpFieldErrors(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	for _, tt := range []struct {
		form        url.Values
		field, want string
	}{
		{url.Values{"email": {"ada@example.com"}, "name": {"Ada"}, "password": {"short"}}, "password", "Password: at least 10 characters, got 5."},
		{url.Values{"email": {"ada@example.com"}, "name": {strings.Repeat("n", 61)}, "password": {testPassword}}, "name", "Name: at most 60 characters, got 61."},
		{url.Values{"email": {"not an address"}, "name": {"Ada"}, "password": {testPassword}}, "email", "Email: "},
		// A field missing, refused by the Accounts service's checks of a
		// request before its rules: beside its field all the same.
		{url.Values{"email": {"ada@example.com"}, "name": {""}, "password": {testPassword}}, "name", "Name: required."},
	} {
		r := b.post("/signup", tt.form)
		wantHTML(t, "POST", "/signup", r, http.StatusBadRequest)
		for _, want := range []string{
			`aria-invalid="true" aria-describedby="e-` + tt.field + `"`,
			`<span class="field-error" id="e-` + tt.field + `">` + html.EscapeString(tt.want),
			"Please correct the fields marked below.",
			`value="` + html.EscapeString(tt.form.Get("email")) + `"`,
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("POST /signup with a bad %s: no %s in the page:\n%s", tt.field, want, r.body)
			}
		}
		if strings.Contains(r.body, `"`+tt.form.Get("password")+`"`) {
			t.Errorf("POST /signup with a bad %s: the page holds the password", tt.field)
		}
	}
}

func TestSignInErrorsTellNothing(t *testing.T) {
	shop := startShop(t)
	newShopper(t, shop.site).signUp("grace@example.com", "Grace")

	b := newShopper(t, shop.site)
	wrong := b.post("/signin", url.Values{"email": {"grace@example.com"}, "password": {"not the password!"}})
	unknown := b.post("/signin", url.Values{"email": {"nobody@example.com"}, "password": {"not the password!"}})
	for name, r := range map[string]response{"wrong password": wrong, "unknown email": unknown} {
		wantHTML(t, "POST", "/signin", r, http.StatusUnauthorized)
		if !strings.Contains(r.body, "The email or the password is wrong.") {
			t.Errorf("%s: the page does not say the email or the password is wrong:\n%s", name, r.body)
		}
		if strings.Contains(r.body, "not the password!") {
			t.Errorf("%s: the page shows the password", name)
		}
	}
	strip := func(s string) string { return strings.ReplaceAll(s, "nobody@example.com", "grace@example.com") }
	if strip(unknown.body) != wrong.body {
		t.Error("the page for an unknown email differs from the page for a wrong password")
	}

	ok := b.post("/signin", url.Values{"email": {"GRACE@example.com"}, "password": {testPassword}, "next": {"/cart"}})
	if ok.status != http.StatusSeeOther || ok.header.Get("Location") != "/cart" {
		t.Errorf("POST /signin: status %d, Location %q, want 303 to /cart", ok.status, ok.header.Get("Location"))
	}
}

func TestSignInNextStaysOnTheSite(t *testing.T) {
	shop := startShop(t)
	newShopper(t, shop.site).signUp("next@example.com", "Next")
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "cart"} {
		b := newShopper(t, shop.site)
		r := b.post("/signin", url.Values{"email": {"next@example.com"}, "password": {testPassword}, "next": {next}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
			t.Errorf("sign in with next=%q: status %d, Location %q, want 303 to /", next, r.status, r.header.Get("Location"))
		}
	}
}

func TestSignInThrottled(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	var last response
	for range 30 {
		last = b.post("/signin", url.Values{"email": {"victim@example.com"}, "password": {"guessing-again"}})
		if last.status == http.StatusTooManyRequests {
			break
		}
		if last.status != http.StatusUnauthorized {
			t.Fatalf("POST /signin: status %d, want 401 until throttled", last.status)
		}
	}
	wantHTML(t, "POST", "/signin", last, http.StatusTooManyRequests)
	if s, err := strconv.Atoi(last.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want a number of seconds", last.header.Get("Retry-After"))
	}
	if !strings.Contains(last.body, "Too many failed attempts") {
		t.Errorf("the 429 page does not say why:\n%s", last.body)
	}
}

func TestSignInMakesANewSession(t *testing.T) {
	shop := startShop(t)
	newShopper(t, shop.site).signUp("fix@example.com", "Fix")

	// An attacker plants a session cookie of their own choosing, then the
	// victim signs in: the site must not adopt the planted token.
	b := newShopper(t, shop.site)
	planted := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	b.setCookie("bookshop_session", planted)
	r := b.post("/signin", url.Values{"email": {"fix@example.com"}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /signin: status %d", r.status)
	}
	got := b.cookie("bookshop_session")
	if got == "" || got == planted {
		t.Fatalf("session cookie after sign-in = %q, want a new token", got)
	}
	if _, err := shop.accounts.Session(testContext(t), planted); err == nil {
		t.Error("the planted token is a session")
	}

	// Two sign-ins, two sessions.
	again := newShopper(t, shop.site)
	again.post("/signin", url.Values{"email": {"fix@example.com"}, "password": {testPassword}})
	if again.cookie("bookshop_session") == got {
		t.Error("two sign-ins got the same token")
	}
}

func TestSecureCookiesBehindHTTPS(t *testing.T) {
	shop := startShop(t, func(o *marketplace.Options) { o.TrustedProxies = 1 })
	b := newShopper(t, shop.site)
	r := b.post("/signup", url.Values{"email": {"sec@example.com"}, "name": {"Sec"}, "password": {testPassword}},
		"X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.9")
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /signup: status %d; body:\n%s", r.status, r.body)
	}
	c := setCookieNamed(t, r, "__Host-bookshop_session")
	if !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie %+v: want Secure, HttpOnly, Path=/ and no Domain", c)
	}
	// Served over HTTPS, the site tells the browser to keep to it; over
	// plain HTTP it says nothing.
	if got := r.header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("behind HTTPS, Strict-Transport-Security = %q, want max-age=31536000", got)
	}
	if got := b.get("/").header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("over plain HTTP, Strict-Transport-Security = %q, want none", got)
	}
}

func TestCrossOriginPostsRefused(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	form := url.Values{"book": {"1"}}
	for _, header := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
	} {
		for _, target := range []string{"/cart/items", "/signin", "/signup", "/signout", "/cart/items/1"} {
			r := b.post(target, form, header...)
			wantHTML(t, "POST", target, r, http.StatusForbidden)
		}
	}
	if b.cookie("bookshop_cart") != "" {
		t.Error("a refused cross-origin POST made a cart")
	}
	// Sent by the site's own page, the same form works.
	b.add(1, 1)
}

func TestGuestCartMergedAtSignIn(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	if got := headerCount(t, b.get("/").body); got != "0" {
		t.Errorf("a new guest's header count = %q, want 0", got)
	}
	b.add(1, 2)
	b.add(2, 1)
	if b.cookie("bookshop_cart") == "" {
		t.Fatal("adding as a guest set no cart cookie")
	}
	if got := headerCount(t, b.get("/").body); !strings.HasPrefix(got, "3") {
		t.Errorf("guest header count = %q, want 3", got)
	}

	b.signUp("merge@example.com", "Merge")
	home := b.get("/")
	if got := headerCount(t, home.body); !strings.HasPrefix(got, "3") {
		t.Errorf("header count after sign-up = %q, want 3 (the guest cart merged)", got)
	}
	if b.cookie("bookshop_cart") != "" {
		t.Error("the guest cart cookie is still there after the merge")
	}
	customer := shop.customer(t, b)
	cart, err := shop.carts.Cart(testContext(t), "c-"+strconv.Itoa(int(customer.ID)))
	if err != nil {
		t.Fatal(err)
	}
	if cart.Count != 3 || len(cart.Lines) != 2 {
		t.Errorf("the customer's cart = %+v, want the guest's 2 lines, 3 books", cart)
	}

	// Signed out and in again elsewhere, the cart is the customer's.
	other := newShopper(t, shop.site)
	other.add(3, 1)
	other.post("/signin", url.Values{"email": {"merge@example.com"}, "password": {testPassword}})
	if got := headerCount(t, other.get("/").body); !strings.HasPrefix(got, "4") {
		t.Errorf("header count after the second sign-in = %q, want 4", got)
	}
}

func TestCartPage(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	empty := b.get("/cart")
	wantHTML(t, "GET", "/cart", empty, http.StatusOK)
	if !strings.Contains(empty.body, "Your cart is empty") {
		t.Errorf("an empty cart page does not say so:\n%s", empty.body)
	}

	// The form may say anything about the price: the server takes the
	// Catalog's.
	b.post("/cart/items", url.Values{"book": {"1"}, "quantity": {"2"}, "price": {"0.01"}})
	b.add(4, 1)
	book1, err := shop.catalog.Book(testContext(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	book4, err := shop.catalog.Book(testContext(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	page := b.get("/cart")
	wantHTML(t, "GET", "/cart", page, http.StatusOK)
	line1, _ := book1.Price.Mul(2)
	subtotal, _ := line1.Add(book4.Price)
	for _, want := range []string{book1.Title, book4.Title, book1.Price.Format(), line1.Format(), subtotal.Format()} {
		if !strings.Contains(page.body, template(want)) {
			t.Errorf("GET /cart: no %q in the page", want)
		}
	}

	// Change a quantity, then remove a line.
	if r := b.post("/cart/items/1", url.Values{"quantity": {"3"}}); r.status != http.StatusSeeOther {
		t.Fatalf("set quantity: status %d:\n%s", r.status, r.body)
	}
	if got := headerCount(t, b.get("/cart").body); !strings.HasPrefix(got, "4") {
		t.Errorf("count after setting 3 copies = %q, want 4", got)
	}
	if r := b.post("/cart/items/4", url.Values{"quantity": {"0"}}); r.status != http.StatusSeeOther {
		t.Fatalf("remove: status %d:\n%s", r.status, r.body)
	}
	page = b.get("/cart")
	if strings.Contains(page.body, template(book4.Title)) || !strings.HasPrefix(headerCount(t, page.body), "3") {
		t.Errorf("after removing book 4 the cart still shows it, or the count is wrong:\n%s", page.body)
	}
}

// template escapes s as html/template prints text.
func template(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}

func TestCartLimits(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	tests := []struct {
		form   url.Values
		status int
		want   string
	}{
		{url.Values{"book": {"1"}, "quantity": {"11"}}, http.StatusBadRequest, "Choose a quantity from 1 to 10."},
		{url.Values{"book": {"1"}, "quantity": {"0"}}, http.StatusBadRequest, "Choose a quantity from 1 to 10."},
		{url.Values{"book": {"x"}}, http.StatusBadRequest, "Choose a book to add."},
		{url.Values{"book": {"99999"}}, http.StatusNotFound, "We have no such book for sale."},
	}
	for _, tt := range tests {
		r := b.post("/cart/items", tt.form)
		wantHTML(t, "POST", "/cart/items", r, tt.status)
		if !strings.Contains(r.body, tt.want) {
			t.Errorf("POST %v: no %q in the page:\n%s", tt.form, tt.want, r.body)
		}
	}
	b.add(1, 10)
	over := b.post("/cart/items", url.Values{"book": {"1"}})
	wantHTML(t, "POST", "/cart/items", over, http.StatusConflict)
	if !strings.Contains(over.body, "10") {
		t.Errorf("past 10 copies: the page does not say the limit:\n%s", over.body)
	}
	// The script's JSON says the same.
	js := b.post("/cart/items", url.Values{"book": {"1"}}, "Accept", "application/json")
	if js.status != http.StatusConflict || js.header.Get("Content-Type") != "application/json" || !strings.Contains(js.body, `"count":-1`) {
		t.Errorf("past 10 copies, JSON: status %d, %s", js.status, js.body)
	}
	ok := b.post("/cart/items", url.Values{"book": {"2"}}, "Accept", "application/json")
	if ok.status != http.StatusOK || !strings.Contains(ok.body, `"count":11`) {
		t.Errorf("add with JSON: status %d, %s; want 200 and count 11", ok.status, ok.body)
	}
	bad := b.post("/cart/items/1", url.Values{"quantity": {"-1"}})
	wantHTML(t, "POST", "/cart/items/1", bad, http.StatusBadRequest)
}

// TestFormsRefused posts forms that cannot be used to every page that
// takes one: a body past the 8 KiB limit gets 413 and says so (sending it
// again cannot mend it), and text that is not UTF-8 gets 400, and an
// order's id or a page of orders that is not, 404 or 400: none reaches a
// service, whose gRPC strings must be UTF-8, to come back as an outage.
func TestFormsRefused(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("forms@example.com", "Forms")
	b.add(2, 1)
	long := strings.Repeat("x", 9000)
	for _, tt := range []struct {
		path   string
		form   url.Values
		status int
		want   string
	}{
		{"/signup", url.Values{"email": {"a@example.com"}, "name": {"A"}, "password": {long}}, http.StatusRequestEntityTooLarge, "too large"},
		{"/signin", url.Values{"email": {long}, "password": {"x"}}, http.StatusRequestEntityTooLarge, "too large"},
		{"/cart/items", url.Values{"book": {"1"}, "key": {long}}, http.StatusRequestEntityTooLarge, "too large"},
		{"/cart/items/2", url.Values{"quantity": {"1"}, "pad": {long}}, http.StatusRequestEntityTooLarge, "too large"},
		{"/checkout", url.Values{"name": {long}}, http.StatusRequestEntityTooLarge, "too large"},
		{"/cart/items", url.Values{"book": {"1"}, "key": {"\xff"}}, http.StatusBadRequest, "could not be read"},
		// A key the page's script would never send: refused as the form,
		// the Cart's rules for keys not shown.
		{"/cart/items", url.Values{"book": {"1"}, "key": {strings.Repeat("k", 65)}}, http.StatusBadRequest, "could not be read"},
		{"/cart/items", url.Values{"book": {"1"}, "key": {"<b>x</b>"}}, http.StatusBadRequest, "could not be read"},
		{"/signin", url.Values{"email": {"\xff@example.com"}, "password": {"x"}}, http.StatusBadRequest, "could not be read"},
	} {
		r := b.post(tt.path, tt.form)
		wantHTML(t, "POST", tt.path, r, tt.status)
		if !strings.Contains(r.body, tt.want) {
			t.Errorf("POST %s (%d bytes): no %q in the page:\n%s", tt.path, len(tt.form.Encode()), tt.want, r.body)
		}
	}
	if got := headerCount(t, b.get("/cart").body); got != "1" {
		t.Errorf("after the refused forms the cart holds %q, want its 1 book", got)
	}
	for path, status := range map[string]int{"/orders/%FF": http.StatusNotFound, "/orders?page=%FF": http.StatusBadRequest} {
		r := b.get(path)
		wantHTML(t, "GET", path, r, status)
		if strings.Contains(r.body, "unavailable") {
			t.Errorf("GET %s: the page says the orders are unavailable:\n%s", path, r.body)
		}
	}
}

func TestRecommendationsAreTheCustomers(t *testing.T) {
	rec := &recordingRecommender{}
	shop := startShop(t, func(o *marketplace.Options) { o.Recommender = rec })
	b := newShopper(t, shop.site)
	b.get("/")
	b.signUp("rec@example.com", "Rec")
	b.get("/")
	customer := shop.customer(t, b)
	if got := rec.userIDs(); !slices.Equal(got, []int32{0, customer.ID}) {
		t.Errorf("Recommend's user ids = %v, want [0 %d]: a guest, then the customer", got, customer.ID)
	}
}

// recordingRecommender recommends the first books of the built-in
// catalog and records who asked.
type recordingRecommender struct {
	mu  sync.Mutex
	ids []int32
}

func (r *recordingRecommender) Recommend(_ context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	r.mu.Lock()
	r.ids = append(r.ids, req.UserID)
	r.mu.Unlock()
	return []bookshop.Book{{ID: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930, Category: req.Category}}, nil
}

func (r *recordingRecommender) userIDs() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

func TestPagesWithTheShopDown(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("down@example.com", "Down")
	b.add(1, 1)
	// A customer whose session this Marketplace has not checked yet: it
	// keeps those it checked for a few seconds (see signedIn).
	unchecked := newShopper(t, shop.site)
	unchecked.signUp("unchecked@example.com", "Unchecked")

	shop.stopCart()
	// The header's count comes from a cookie while it is fresh; a browser
	// without one asks the Cart.
	if got := headerCount(t, b.get("/").body); !strings.HasPrefix(got, "1") {
		t.Errorf("header count from the count cookie with Cart down = %q, want 1", got)
	}
	other := newShopper(t, shop.site)
	other.setCookie("bookshop_session", b.cookie("bookshop_session"))
	home := other.get("/")
	wantHTML(t, "GET", "/", home, http.StatusOK)
	if got := headerCount(t, home.body); got != "unavailable" {
		t.Errorf("header count with Cart down and no count cookie = %q, want unavailable", got)
	}
	cart := b.get("/cart")
	wantHTML(t, "GET", "/cart", cart, http.StatusServiceUnavailable)
	if !strings.Contains(cart.body, "Your cart is unavailable right now.") {
		t.Errorf("the cart page with Cart down does not say so:\n%s", cart.body)
	}
	add := b.post("/cart/items", url.Values{"book": {"2"}})
	wantHTML(t, "POST", "/cart/items", add, http.StatusServiceUnavailable)

	shop.stopAccounts()
	home = unchecked.get("/")
	wantHTML(t, "GET", "/", home, http.StatusOK)
	if !strings.Contains(home.body, "Accounts are unavailable") {
		t.Errorf("the header with Accounts down does not say so:\n%s", home.body)
	}
	// Whose cart it is cannot be known either: the header does not count
	// a guest's empty one.
	if got := headerCount(t, home.body); got != "unavailable" {
		t.Errorf("header count of a customer Accounts cannot vouch for = %q, want unavailable", got)
	}
	// A customer whose session cannot be checked is not shown, nor given,
	// a guest's cart.
	theirs := unchecked.get("/cart")
	wantHTML(t, "GET", "/cart", theirs, http.StatusServiceUnavailable)
	if strings.Contains(theirs.body, "Your cart is empty") {
		t.Errorf("the cart page of a customer Accounts cannot vouch for says it is empty:\n%s", theirs.body)
	}
	unchecked.post("/cart/items", url.Values{"book": {"1"}})
	if unchecked.cookie("bookshop_cart") != "" {
		t.Error("adding to the cart while Accounts is down made a guest cart for a signed-in customer")
	}
	in := newShopper(t, shop.site).post("/signin", url.Values{"email": {"down@example.com"}, "password": {testPassword}})
	wantHTML(t, "POST", "/signin", in, http.StatusServiceUnavailable)
	for _, r := range []response{home, cart, add, in, theirs} {
		wantNoInternalText(t, "shop down", r.body)
	}
}

func TestHeaderCountCookie(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.add(1, 2)
	count := b.cookie("bookshop_count")
	if !strings.HasPrefix(count, "2.") {
		t.Fatalf("count cookie after adding 2 = %q, want 2.<tag>", count)
	}
	// Edited, it fools only this header; the cart page says the truth and
	// puts it back.
	b.setCookie("bookshop_count", "7."+strings.TrimPrefix(count, "2."))
	if got := headerCount(t, b.get("/").body); !strings.HasPrefix(got, "7") {
		t.Errorf("header count with an edited cookie = %q, want 7 (it is only what the header shows)", got)
	}
	if got := headerCount(t, b.get("/cart").body); !strings.HasPrefix(got, "2") {
		t.Errorf("header count on the cart page = %q, want 2", got)
	}
	if got := b.cookie("bookshop_count"); got != count {
		t.Errorf("count cookie after the cart page = %q, want %q", got, count)
	}
	// A cookie of another cart is not this one's count.
	b.setCookie("bookshop_count", "9.AAAAAAAA")
	if got := headerCount(t, b.get("/").body); !strings.HasPrefix(got, "2") {
		t.Errorf("header count with another cart's cookie = %q, want 2 from the Cart", got)
	}
	// Signing in changes the cart: the guest's count is not the customer's.
	b.signUp("count@example.com", "Count")
	if got := headerCount(t, b.get("/").body); !strings.HasPrefix(got, "2") {
		t.Errorf("header count after sign-up = %q, want 2 (the guest's cart merged)", got)
	}
}

// setCookieNamed returns the cookie name that r sets, failing the test if
// it sets none.
func setCookieNamed(tb testing.TB, r response, name string) *http.Cookie {
	tb.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no Set-Cookie %s in %v", name, r.header.Values("Set-Cookie"))
	return nil
}

func TestSignOutWithAccountsDown(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("stay@example.com", "Stay")
	token := b.cookie("bookshop_session")
	b.get("/") // the Marketplace now holds the session for a few seconds
	shop.stopAccounts()
	r := b.post("/signout", nil)
	wantHTML(t, "POST", "/signout", r, http.StatusServiceUnavailable)
	if !strings.Contains(r.body, "still signed in") {
		t.Errorf("a sign-out that could not reach Accounts does not say so:\n%s", r.body)
	}
	if b.cookie("bookshop_session") != token {
		t.Error("a sign-out that could not revoke the session dropped its cookie")
	}
}

func TestSignInEndsTheSessionBefore(t *testing.T) {
	shop := startShop(t)
	newShopper(t, shop.site).signUp("twice@example.com", "Twice")
	b := newShopper(t, shop.site)
	b.post("/signin", url.Values{"email": {"twice@example.com"}, "password": {testPassword}})
	first := b.cookie("bookshop_session")
	b.post("/signin", url.Values{"email": {"twice@example.com"}, "password": {testPassword}})
	if second := b.cookie("bookshop_session"); second == first || second == "" {
		t.Fatalf("the second sign-in kept the token %q", second)
	}
	if _, err := shop.accounts.Session(testContext(t), first); err == nil {
		t.Error("the session before the second sign-in is still live")
	}
}

func TestShopCookies(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("https=%v", secure), func(t *testing.T) {
			shop := startShop(t, func(o *marketplace.Options) { o.TrustedProxies = 1 })
			b := newShopper(t, shop.site)
			var header []string
			prefix := ""
			if secure {
				header, prefix = []string{"X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.7"}, "__Host-"
			}
			r := b.post("/cart/items", url.Values{"book": {"1"}}, header...)
			if r.status != http.StatusSeeOther {
				t.Fatalf("POST /cart/items: status %d", r.status)
			}
			for _, name := range []string{"bookshop_cart", "bookshop_count"} {
				c := setCookieNamed(t, r, prefix+name)
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.Secure != secure {
					t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, Path=/, no Domain, Secure %v", c, secure)
				}
			}
		})
	}
}

func TestGuestCartTokenStaysInTheBrowser(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.add(1, 2)
	token := b.cookie("bookshop_cart")
	if token == "" {
		t.Fatal("no cart cookie")
	}
	// The Cart knows the cart by another id than the cookie's secret.
	if n, err := shop.carts.Count(testContext(t), "g-"+token); err != nil || n != 0 {
		t.Errorf("Count(g-<the cookie's token>) = %d, %v; want an empty cart: the Cart must not know the token", n, err)
	}
	if got := headerCount(t, b.get("/").body); !strings.HasPrefix(got, "2") {
		t.Errorf("header count = %q, want 2", got)
	}

	// A cookie that is not a token of ours is ignored without a call.
	odd := newShopper(t, shop.site)
	odd.setCookie("bookshop_cart", strings.Repeat("A", 64))
	if got := headerCount(t, odd.get("/").body); !strings.HasPrefix(got, "0") {
		t.Errorf("header count with a malformed cart cookie = %q, want 0", got)
	}
}

func TestAddToCartTwiceWithOneKey(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	form := url.Values{"book": {"1"}, "key": {"0123456789abcdef0123456789abcdef"}}
	for range 3 {
		if r := b.post("/cart/items", form, "Accept", "application/json"); r.status != http.StatusOK || !strings.Contains(r.body, `"count":1`) {
			t.Fatalf("POST /cart/items with one key: status %d, %s; want 200 and count 1 each time", r.status, r.body)
		}
	}
	form.Set("key", "another-key")
	if r := b.post("/cart/items", form, "Accept", "application/json"); !strings.Contains(r.body, `"count":2`) {
		t.Errorf("POST /cart/items with another key: %s, want count 2", r.body)
	}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(key|total_units|currency|lines)" value="([^"]*)">`)

// checkoutForm GETs the checkout page and returns its form, filled in
// with an address and card.
func (s *shopper) checkoutForm(card string) url.Values {
	s.tb.Helper()
	r := s.get("/checkout")
	if r.status != http.StatusOK {
		s.tb.Fatalf("GET /checkout: status %d:\n%s", r.status, r.body)
	}
	return checkoutFormOf(s.tb, r, card)
}

// checkoutFormOf returns the form of r, a checkout page, filled in with
// an address and card.
func checkoutFormOf(tb testing.TB, r response, card string) url.Values {
	tb.Helper()
	form := url.Values{
		"name": {"Ada Lovelace"}, "line1": {"12 Analytical Row"}, "city": {"London"}, "postal_code": {"N1 7AA"},
		"country": {"GB"}, "card_number": {card}, "exp_month": {"12"}, "exp_year": {"2040"}, "cvc": {"123"},
		"card_name": {"Ada Lovelace"},
	}
	for _, m := range hiddenRE.FindAllStringSubmatch(r.body, -1) {
		form.Set(m[1], m[2])
	}
	if form.Get("key") == "" || form.Get("total_units") == "" || form.Get("lines") == "" {
		tb.Fatalf("GET /checkout: no key, total or lines in the form:\n%s", r.body)
	}
	return form
}

// messageBadFormText is what the pages say of a form that cannot be read.
const messageBadFormText = "The form could not be read."

func TestCheckout(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("buyer@example.com", "Buyer")
	b.add(1, 2)
	b.add(4, 1)

	form := b.checkoutForm(paymentsclient.TestCardApproved)
	form.Set("line1", "12\tAnalytical Row") // a tab, as a paste keeps it: a space
	r := b.post("/checkout", form)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/orders/") {
		t.Fatalf("POST /checkout: status %d, Location %q, want 303 to the order:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	confirmation := b.get(r.header.Get("Location"))
	wantHTML(t, "GET", "confirmation", confirmation, http.StatusOK)
	if !strings.Contains(confirmation.body, "Thank you for your order") {
		t.Errorf("the confirmation does not thank the shopper:\n%s", confirmation.body)
	}
	customer := shop.customer(t, b)
	list, err := shop.orders.List(testContext(t), customer.ID, "", 10)
	if err != nil || len(list.Orders) != 1 {
		t.Fatalf("the customer's orders = %+v, %v; want one", list, err)
	}
	order := list.Orders[0]
	if got := order.Shipping.Line1; got != "12 Analytical Row" {
		t.Errorf("the order's address line = %q, want the tab pasted in it as a space", got)
	}
	if got := order.Total.Units; strconv.FormatInt(got, 10) != form.Get("total_units") {
		t.Errorf("the order's total = %d, want the %s the shopper confirmed", got, form.Get("total_units"))
	}
	if got := headerCount(t, b.get("/").body); !strings.HasPrefix(got, "0") {
		t.Errorf("header count after the order = %q, want 0: the cart is emptied", got)
	}
	history := b.get("/orders")
	if !strings.Contains(history.body, order.ID) {
		t.Errorf("the history does not list the order %s:\n%s", order.ID, history.body)
	}

	// The same form again (a reload of the POST): the same order.
	again := b.post("/checkout", form)
	if again.status != http.StatusSeeOther || again.header.Get("Location") != r.header.Get("Location") {
		t.Errorf("the same checkout again: status %d, Location %q; want 303 to the same order", again.status, again.header.Get("Location"))
	}
	if list, _ := shop.orders.List(testContext(t), customer.ID, "", 10); len(list.Orders) != 1 {
		t.Errorf("after the same checkout again the customer has %d orders, want 1", len(list.Orders))
	}

	// Another customer's order is a 404, the very page an unknown one
	// gets: a well-formed id that no order has (a character in the middle
	// of the order's changed), and a malformed one.
	other := newShopper(t, shop.site)
	other.signUp("other@example.com", "Other")
	mid := len(order.ID) / 2
	swap := byte('a')
	if order.ID[mid] == 'a' {
		swap = 'b'
	}
	unknown := order.ID[:mid] + string(swap) + order.ID[mid+1:]
	var pages []string
	for _, target := range []string{"/orders/" + order.ID, "/orders/" + unknown, "/orders/o_nosuchorder"} {
		r := other.get(target)
		wantHTML(t, "GET", target, r, http.StatusNotFound)
		if !strings.Contains(r.body, messageNoSuchOrderText) {
			t.Errorf("GET %s: %q not in the page", target, messageNoSuchOrderText)
		}
		pages = append(pages, r.body)
	}
	if pages[0] != pages[1] {
		t.Errorf("another customer's order and an unknown one get different pages:\n%s\n---\n%s", pages[0], pages[1])
	}
	// A guest is sent to sign in.
	guest := newShopper(t, shop.site)
	if r := guest.get("/checkout"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/signin") {
		t.Errorf("a guest's GET /checkout: status %d, Location %q; want 303 to /signin", r.status, r.header.Get("Location"))
	}
}

const messageNoSuchOrderText = "We have no order of yours with this number."

// TestCheckoutPastWhatOnePaymentTakes fills a cart past the most one
// payment may take: the checkout page says so, with its total and the
// most, and has no form to pay with (the Checkout would refuse it), only
// the way back to the cart.
func TestCheckoutPastWhatOnePaymentTakes(t *testing.T) {
	var books []bookshop.Book
	var dear []int32
	for id := int32(9001); id <= 9011; id++ {
		books = append(books, bookshop.Book{ID: id, Title: fmt.Sprintf("Folio %d", id), Author: "A. Nonymous", Year: 1600,
			Category: bookshop.Mystery, Price: bookshop.Money{Units: bookshop.MaxPriceUnits(bookshop.DefaultCurrency), Currency: bookshop.DefaultCurrency}})
		dear = append(dear, id)
	}
	shop := startShopOf(t, books)
	b := newShopper(t, shop.site)
	b.signUp("collector@example.com", "Collector")
	for _, id := range dear {
		if err := shop.inventory.SetStock(testContext(t), id, bookshop.MaxQuantity); err != nil {
			t.Fatal(err)
		}
		b.add(id, bookshop.MaxQuantity)
	}
	r := b.get("/checkout")
	wantHTML(t, "GET", "/checkout", r, http.StatusOK)
	for _, want := range []string{"Your order comes to €1,090,000.00, more than one payment can take (€999,999.99)", `<a class="button" href="/cart">Back to your cart</a>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the checkout of a cart past what one payment takes has no %q:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, `action="/checkout"`) || strings.Contains(r.body, "Pay ") {
		t.Errorf("the checkout of a cart past what one payment takes has a form to pay with:\n%s", r.body)
	}
}

func TestCheckoutRefusals(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("refused@example.com", "Refused")
	b.add(2, 1)

	// Declined: a message, nothing charged, the cart kept.
	declined := b.post("/checkout", b.checkoutForm(paymentsclient.TestCardDeclined))
	wantHTML(t, "POST", "/checkout", declined, http.StatusConflict)
	if !strings.Contains(declined.body, "insufficient funds") {
		t.Errorf("a declined card: the page does not say why:\n%s", declined.body)
	}
	if got := headerCount(t, b.get("/cart").body); !strings.HasPrefix(got, "1") {
		t.Errorf("after a declined card the cart holds %q, want 1", got)
	}

	// A card number that is not one: beside its field.
	bad := b.checkoutForm("4242 4242 4242 4241")
	r := b.post("/checkout", bad)
	wantHTML(t, "POST", "/checkout", r, http.StatusBadRequest)
	if !strings.Contains(r.body, `id="e-card_number"`) || !strings.Contains(r.body, `aria-invalid="true"`) {
		t.Errorf("a bad card number is not marked beside its field:\n%s", r.body)
	}
	if strings.Contains(r.body, "4242 4242 4242 4241") {
		t.Error("the page shows the card number back")
	}
	// The card's number and code come back empty, the digits' fields ask
	// phones for a keyboard of digits, and the others do not.
	for _, want := range []string{
		`name="card_number" value="" autocomplete="cc-number" inputmode="numeric" aria-invalid="true"`,
		`name="cvc" value="" autocomplete="cc-csc" inputmode="numeric">`,
		`name="exp_month" value="` + bad.Get("exp_month") + `" autocomplete="cc-exp-month" inputmode="numeric">`,
		`name="city" value="` + bad.Get("city") + `" autocomplete="address-level2">`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the form sent back has no %s:\n%s", want, r.body)
		}
	}

	// A card that has expired: its month and year are both marked, the
	// message said once, after the year.
	expired := b.checkoutForm(paymentsclient.TestCardApproved)
	expired.Set("exp_month", "1")
	expired.Set("exp_year", "2020")
	r = b.post("/checkout", expired)
	wantHTML(t, "POST", "/checkout", r, http.StatusBadRequest)
	for _, want := range []string{
		`name="exp_month" value="1" autocomplete="cc-exp-month" inputmode="numeric" aria-invalid="true" aria-describedby="e-exp_year">`,
		`name="exp_year" value="2020" autocomplete="cc-exp-year" inputmode="numeric" aria-invalid="true" aria-describedby="e-exp_year">`,
		`<span class="field-error" id="e-exp_year">Expiry: the card has expired`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("a card that has expired: the form sent back has no %s:\n%s", want, r.body)
		}
	}
	if n := strings.Count(r.body, "the card has expired"); n != 1 {
		t.Errorf("a card that has expired: the page says so %d times, want once", n)
	}

	// Missing fields: each named, and no call.
	empty := b.checkoutForm(paymentsclient.TestCardApproved)
	empty.Del("city")
	empty.Del("cvc")
	r = b.post("/checkout", empty)
	wantHTML(t, "POST", "/checkout", r, http.StatusBadRequest)
	for _, id := range []string{`id="e-city"`, `id="e-cvc"`} {
		if !strings.Contains(r.body, id) {
			t.Errorf("a missing field has no message %s:\n%s", id, r.body)
		}
	}

	// An address with a field missing, a card number that is not one and
	// a security code left empty: all told in one answer, beside their
	// fields, the number by the rules the charge would meet.
	all := b.checkoutForm("4242 4242 4242 4241")
	all.Del("city")
	all.Del("cvc")
	r = b.post("/checkout", all)
	wantHTML(t, "POST", "/checkout", r, http.StatusBadRequest)
	for _, want := range []string{`id="e-city"`, `id="e-cvc"`, `Card number: the number is not valid: check the digits`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("an address and a card wrong: no %s in the one answer:\n%s", want, r.body)
		}
	}

	// A name of a zero-width space, and a second line of one: each beside
	// its field, as the Checkout would refuse them, and no checkout made.
	invisible := b.checkoutForm(paymentsclient.TestCardApproved)
	invisible.Set("name", "\u200b")
	invisible.Set("line2", "\u200b")
	r = b.post("/checkout", invisible)
	wantHTML(t, "POST", "/checkout", r, http.StatusBadRequest)
	if !strings.Contains(r.body, `id="e-name"`) || !strings.Contains(r.body, `id="e-line2"`) || strings.Contains(r.body, "shipping address:") {
		t.Errorf("a name and a second line that show nothing are not marked beside their fields:\n%s", r.body)
	}

	// A control character in the address: beside its field, and not the
	// Checkout's rule; and a total of nothing, which no page confirms: a
	// form that cannot be read.
	ctrl := b.checkoutForm(paymentsclient.TestCardApproved)
	ctrl.Set("line1", "12 Analytical\x01Row")
	r = b.post("/checkout", ctrl)
	wantHTML(t, "POST", "/checkout", r, http.StatusBadRequest)
	if !strings.Contains(r.body, `id="e-line1"`) || strings.Contains(r.body, "shipping address:") {
		t.Errorf("a control character in the address is not marked beside its field:\n%s", r.body)
	}
	zero := b.checkoutForm(paymentsclient.TestCardApproved)
	zero.Set("total_units", "0")
	r = b.post("/checkout", zero)
	wantHTML(t, "POST", "/checkout", r, http.StatusBadRequest)
	if !strings.Contains(r.body, messageBadFormText) {
		t.Errorf("a total of nothing: the page does not say the form could not be read:\n%s", r.body)
	}

	// A total the shopper was not shown: nothing charged, the new total.
	stale := b.checkoutForm(paymentsclient.TestCardApproved)
	stale.Set("total_units", "1")
	r = b.post("/checkout", stale)
	wantHTML(t, "POST", "/checkout", r, http.StatusConflict)
	if !strings.Contains(r.body, "total") {
		t.Errorf("a changed total: the page does not say so:\n%s", r.body)
	}
	customer := shop.customer(t, b)
	if list, _ := shop.orders.List(testContext(t), customer.ID, "", 10); len(list.Orders) != 0 {
		t.Errorf("after refusals the customer has %d orders, want none", len(list.Orders))
	}
	for _, r := range []response{declined, r} {
		wantNoInternalText(t, "checkout refused", r.body)
	}
}

func TestStockLabels(t *testing.T) {
	shop := startShop(t)
	ctx := testContext(t)
	for id, n := range map[int32]int{1: 0, 2: 2, 3: 50} {
		if err := shop.inventory.SetStock(ctx, id, n); err != nil {
			t.Fatal(err)
		}
	}
	b := newShopper(t, shop.site)
	for id, want := range map[int32]string{1: "Out of stock", 2: "Only 2 left", 3: "In stock"} {
		page := b.get("/books/" + strconv.Itoa(int(id)))
		if !strings.Contains(page.body, `id="book-stock" class="stock`) || !strings.Contains(page.body, ">"+want+"</dd>") {
			t.Errorf("GET /books/%d: no %q:\n%s", id, want, page.body)
		}
		form := `<form class="add-to-cart" id="add-to-cart" method="post" action="/cart/items" hidden>`
		if soldOut := strings.Contains(page.body, form); soldOut != (id == 1) {
			t.Errorf("GET /books/%d: the Add to cart form hidden = %v, want %v", id, soldOut, id == 1)
		}
	}
	// The lists say the same of each book, and offer no Add to cart for
	// the one sold out: the category page of the three (mysteries all),
	// and a search that finds the first.
	items := regexp.MustCompile(`(?s)<li class="book" data-book-id="(\d+)">.*?</li>`)
	for _, list := range []struct {
		target string
		labels map[int32]string // by book
	}{
		{"/categories/mystery", map[int32]string{1: "Out of stock", 2: "Only 2 left", 3: "In stock"}},
		{"/search?q=Maltese+Falcon", map[int32]string{1: "Out of stock"}},
	} {
		target := list.target
		page := b.get(target)
		byBook := make(map[int32]string)
		for _, m := range items.FindAllStringSubmatch(page.body, -1) {
			id, _ := strconv.Atoi(m[1])
			byBook[int32(id)] = m[0]
		}
		for id, want := range list.labels {
			item := byBook[id]
			if !strings.Contains(item, ">"+want+"</p>") {
				t.Errorf("GET %s: book %d's item has no %q:\n%s", target, id, want, item)
			}
			if button := strings.Contains(item, `<form class="add-to-cart"`); button != (id != 1) {
				t.Errorf("GET %s: book %d's item has an Add to cart form = %v, want %v:\n%s", target, id, button, id != 1, item)
			}
		}
	}
	// The cart warns of a line past what is left, and of one sold out
	// since it was added, once the Marketplace's memory of the stock
	// (inventoryclient.DefaultStockTTL) has let go of its 50 copies.
	b.add(2, 3)
	b.add(3, 1)
	if err := shop.inventory.SetStock(ctx, 3, 0); err != nil {
		t.Fatal(err)
	}
	warnings := []string{"Only 2 left: lower the quantity to check out.", "Out of stock: remove it to check out."}
	deadline := time.Now().Add(inventoryclient.DefaultStockTTL + 3*time.Second)
	for {
		page := b.get("/cart")
		if strings.Contains(page.body, warnings[0]) && strings.Contains(page.body, warnings[1]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cart does not warn %q:\n%s", warnings, page.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCheckoutPageLearnsTheCampaign serves the checkout page of a cart
// too small to earn the promotion again and again, to a customer who was
// shown no page with its banner: the Marketplace learns the campaign from
// the customer's offer, asked for once, and prices none of these carts
// with Promotions, where it asked on every page while it knew the campaign
// only from a guest's offer.
func TestCheckoutPageLearnsTheCampaign(t *testing.T) {
	promos := promotionstest.StartHangable(t, promotions.BuyTwoGetOneFree())
	shop := startShopCalling(t, promos.Addr)
	b := newShopper(t, shop.site)
	b.signUp("small@example.com", "Small")
	b.add(2, 1)
	for range 5 {
		if r := b.get("/checkout"); r.status != http.StatusOK {
			t.Fatalf("GET /checkout: %d\n%s", r.status, r.body)
		}
	}
	if n := promos.Calls("PriceCart"); n != 0 {
		t.Errorf("five checkout pages of one copy asked Promotions to price a cart %d times, want none", n)
	}
	if n := promos.Calls("GetOffer"); n < 1 || n > 2 {
		t.Errorf("Promotions was asked for an offer %d times, want once by the Marketplace (and once by the Checkout, at most)", n)
	}
}

func TestCheckoutSubmittedTenTimesAtOnce(t *testing.T) {
	logger, logs := testLogger(t)
	shop := startShop(t, func(o *marketplace.Options) { o.Logger = logger })
	b := newShopper(t, shop.site)
	b.signUp("tenfold@example.com", "Tenfold")
	b.add(7, 2)
	before, err := shop.inventory.Stock(testContext(t), []int32{7})
	if err != nil {
		t.Fatal(err)
	}
	form := b.checkoutForm(paymentsclient.TestCardApproved)

	var wg sync.WaitGroup
	answers := make([]response, 10)
	for i := range answers {
		wg.Go(func() { answers[i] = b.post("/checkout", form) })
	}
	wg.Wait()
	where := answers[0].header.Get("Location")
	for i, r := range answers {
		if r.status != http.StatusSeeOther || r.header.Get("Location") != where || !strings.HasPrefix(where, "/orders/") {
			t.Errorf("submit %d: status %d, Location %q; want 303 to the one order %q", i, r.status, r.header.Get("Location"), where)
		}
	}
	customer := shop.customer(t, b)
	if list, _ := shop.orders.List(testContext(t), customer.ID, "", 10); len(list.Orders) != 1 {
		t.Errorf("ten submits of one form placed %d orders, want 1", len(list.Orders))
	}
	after, err := shop.inventory.Stock(testContext(t), []int32{7})
	if err != nil {
		t.Fatal(err)
	}
	if after[7] != before[7]-2 {
		t.Errorf("stock of book 7 went from %d to %d, want 2 taken, once", before[7], after[7])
	}
	// The card's number never reaches the Marketplace's log.
	for _, n := range []string{"4242424242424242", "4242 4242 4242 4242", "4242+4242"} {
		if strings.Contains(logs.String(), n) {
			t.Errorf("the Marketplace's log holds the card number (%q)", n)
		}
	}
}

// TestCheckoutUnsureKeepsItsForm posts a checkout to a Checkout that does
// not answer, whose cart cannot be quoted either: the outcome is not
// known, so the form must come back with its key and the total confirmed,
// for the shopper to send again as the same checkout.
func TestCheckoutUnsureKeepsItsForm(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("unsure@example.com", "Unsure")
	b.add(1, 1)
	form := b.checkoutForm(paymentsclient.TestCardApproved)
	shop.stopCheckout()
	r := b.post("/checkout", form)
	wantHTML(t, "POST", "/checkout", r, http.StatusServiceUnavailable)
	for _, want := range []string{
		`name="key" value="` + form.Get("key") + `"`,
		`name="total_units" value="` + form.Get("total_units") + `"`,
		`action="/checkout"`,
		"cannot show your cart right now",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page after a checkout of unknown outcome lacks %s:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, "4242") {
		t.Error("the page after a checkout of unknown outcome shows the card's number")
	}
	wantNoInternalText(t, "checkout unsure", r.body)
}

func TestShopPagesWithPartTwoDown(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("parttwo@example.com", "Part Two")
	b.add(1, 1)

	shop.stopInventory()
	page := b.get("/books/2")
	wantHTML(t, "GET", "/books/2", page, http.StatusOK)
	if strings.Contains(page.body, `id="book-stock" class="stock"`) && !strings.Contains(page.body, `id="book-stock" class="stock" hidden`) {
		t.Errorf("with Inventory down the book page still shows a stock label:\n%s", page.body)
	}
	if strings.Contains(page.body, `id="add-to-cart" method="post" action="/cart/items" hidden`) {
		t.Error("with Inventory down the book page hides Add to cart")
	}

	shop.stopOrders()
	orders := b.get("/orders")
	wantHTML(t, "GET", "/orders", orders, http.StatusServiceUnavailable)
	if !strings.Contains(orders.body, "Your orders are unavailable right now") {
		t.Errorf("/orders with Orders down does not say so:\n%s", orders.body)
	}

	shop.stopCheckout()
	checkout := b.get("/checkout")
	wantHTML(t, "GET", "/checkout", checkout, http.StatusServiceUnavailable)
	if !strings.Contains(checkout.body, "We cannot take orders right now") {
		t.Errorf("/checkout with Checkout down does not say so:\n%s", checkout.body)
	}
	for _, r := range []response{page, orders, checkout} {
		wantNoInternalText(t, "part two down", r.body)
	}
}

func TestPromotionBannerAndCart(t *testing.T) {
	shop := startShop(t)
	guest := newShopper(t, shop.site)
	home := guest.get("/")
	if !strings.Contains(home.body, `class="promo-banner"`) || !strings.Contains(home.body, "It applies when you sign in.") {
		t.Errorf("a guest's homepage has no banner:\n%s", home.body)
	}
	// Three books: the cheapest is free, "when you sign in".
	guest.add(1, 2)
	guest.add(3, 1)
	book1, _ := shop.catalog.Book(testContext(t), 1)
	book3, _ := shop.catalog.Book(testContext(t), 3)
	cheapest := book1
	if book3.Price.Units < book1.Price.Units || book3.Price.Units == book1.Price.Units && book3.ID < book1.ID {
		cheapest = book3
	}
	cart := guest.get("/cart")
	if !strings.Contains(cart.body, `id="cart-discount">−`+cheapest.Price.Format()) || !strings.Contains(cart.body, "(applies when you sign in)") {
		t.Errorf("a guest's cart of three books does not show the cheapest (%s) free, when signed in:\n%s", cheapest.Price.Format(), cart.body)
	}
	const offersUnknown = "Offers cannot be checked right now"
	if strings.Contains(cart.body, offersUnknown) {
		t.Errorf("while Promotions answers, a cart with its discount says its offers cannot be checked:\n%s", cart.body)
	}

	// A customer who has used the promotion sees no banner, and no
	// discount.
	used := newShopper(t, shop.site)
	used.signUp("used@example.com", "Used")
	customer := shop.customer(t, used)
	lines := []bookshop.PromoLine{{BookID: 1, UnitPrice: book1.Price, Quantity: 3}}
	if _, outcome, err := shop.promos.Claim(testContext(t), customer.ID, "test-claim", lines); err != nil || outcome != bookshop.ClaimGranted {
		t.Fatalf("Claim = %v, %v", outcome, err)
	}
	if err := shop.promos.Confirm(testContext(t), customer.ID, "test-claim"); err != nil {
		t.Fatal(err)
	}
	if home := used.get("/"); strings.Contains(home.body, `class="promo-banner"`) {
		t.Errorf("a customer who used the promotion still sees its banner:\n%s", home.body)
	}
	used.add(1, 3)
	if cart := used.get("/cart"); strings.Contains(cart.body, `id="cart-discount"`) || strings.Contains(cart.body, offersUnknown) {
		t.Errorf("a customer who used the promotion still gets its discount, or is told offers cannot be checked:\n%s", cart.body)
	}

	// With Promotions down: no banner, no discount, the pages still there.
	// (What it said lately is kept 5 s: a new customer's offer is not.)
	// The checkout's discount, shown while Promotions answered, is gone
	// with it: the page shows the full price, which the order is placed
	// at.
	fresh := newShopper(t, shop.site)
	fresh.signUp("fresh@example.com", "Fresh")
	fresh.add(1, 3)
	buyer := newShopper(t, shop.site)
	buyer.signUp("downbuyer@example.com", "Down Buyer")
	buyer.add(1, 3)
	full := bookshop.Money{Units: 3 * book1.Price.Units, Currency: book1.Price.Currency}
	if checkout := buyer.get("/checkout"); !strings.Contains(checkout.body, `id="checkout-discount">−`+book1.Price.Format()) {
		t.Errorf("a new customer's checkout of three copies of a book does not show one free (%s):\n%s", book1.Price.Format(), checkout.body)
	}
	shop.stopPromotions()
	home = fresh.get("/")
	wantHTML(t, "GET", "/", home, http.StatusOK)
	if strings.Contains(home.body, `class="promo-banner"`) {
		t.Error("with Promotions down the homepage shows the banner")
	}
	cart = fresh.get("/cart")
	wantHTML(t, "GET", "/cart", cart, http.StatusOK)
	if strings.Contains(cart.body, `id="cart-discount"`) {
		t.Error("with Promotions down the cart shows a discount")
	}
	if !strings.Contains(cart.body, offersUnknown) {
		t.Errorf("with Promotions down the cart does not say that its offers cannot be checked:\n%s", cart.body)
	}
	// A cart too small to earn anything, by the campaign as Promotions
	// last described it, gets no such notice.
	single := newShopper(t, shop.site)
	single.add(2, 1)
	if cart := single.get("/cart"); strings.Contains(cart.body, offersUnknown) {
		t.Errorf("with Promotions down a cart of one book says its offers cannot be checked:\n%s", cart.body)
	}
	fullPriceOrder(t, buyer, full, "with Promotions down", 0, 0)
}

// fullPriceOrder has b, whose cart comes to full, check out (why says
// when, for the messages): the checkout page shows no discount, and full
// to pay, and the order placed at it is paid full, with no promotion. The
// page and the placing of the order, timed, take pageLimit and
// placeLimit at most, when these are not zero.
func fullPriceOrder(tb testing.TB, b *shopper, full bookshop.Money, why string, pageLimit, placeLimit time.Duration) {
	tb.Helper()
	checkout := timed(tb, why, "GET /checkout", pageLimit, func() response { return b.get("/checkout") })
	wantHTML(tb, "GET", "/checkout", checkout, http.StatusOK)
	if strings.Contains(checkout.body, `id="checkout-discount"`) || !strings.Contains(checkout.body, `id="checkout-total">`+full.Format()+"<") {
		tb.Errorf("%s the checkout page does not show the full price, %s, without a discount:\n%s", why, full.Format(), checkout.body)
	}
	form := checkoutFormOf(tb, checkout, paymentsclient.TestCardApproved)
	r := timed(tb, why, "POST /checkout", placeLimit, func() response { return b.post("/checkout", form) })
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/orders/") {
		tb.Fatalf("%s POST /checkout: status %d, Location %q, want 303 to the order:\n%s", why, r.status, r.header.Get("Location"), r.body)
	}
	order := b.get(r.header.Get("Location"))
	wantHTML(tb, "GET", "the order", order, http.StatusOK)
	if !strings.Contains(order.body, `id="order-total">`+full.Format()+"<") || !strings.Contains(order.body, `id="order-promo">none<`) {
		tb.Errorf("%s the order is not at the full price, %s, without a promotion:\n%s", why, full.Format(), order.body)
	}
}

// timed returns what do gets, and logs how long it took, for what (the
// page, when why: "with Promotions hung"); it fails tb when that is over
// limit, if limit is not zero.
func timed(tb testing.TB, why, what string, limit time.Duration, do func() response) response {
	tb.Helper()
	began := time.Now()
	r := do()
	elapsed := time.Since(began)
	tb.Logf("%s: %s in %v", why, what, elapsed.Round(time.Millisecond))
	if limit > 0 && elapsed > limit {
		tb.Errorf("%s %s took %v, want within %v", why, what, elapsed, limit)
	}
	return r
}

// TestPromotionsHung has Promotions take calls and answer none (see
// promotionstest.Hangable: its database blackholed, say), with the
// Marketplace's and the Checkout's default call timeouts, 1 s and 3 s.
// The homepage and the cart are served within a call timeout (and a
// second's room) without the banner or the discount; the checkout page,
// which gives its quote three call timeouts, shows the full price rather
// than failing, and the order confirmed at it is placed within the nine
// that the form gives the checkout.
func TestPromotionsHung(t *testing.T) {
	promos := promotionstest.StartHangable(t, promotions.BuyTwoGetOneFree())
	shop := startShopCalling(t, promos.Addr, func(o *marketplace.Options) { o.RecommendTimeout = time.Second })
	book1, _ := shop.catalog.Book(testContext(t), 1)
	full := bookshop.Money{Units: 3 * book1.Price.Units, Currency: book1.Price.Currency}
	b := newShopper(t, shop.site)
	b.signUp("hung@example.com", "Hung")
	b.add(1, 3)
	// Promotions answering: the Checkout has the offer, and the page the
	// discount.
	if checkout := b.get("/checkout"); !strings.Contains(checkout.body, `id="checkout-discount">−`+book1.Price.Format()) {
		t.Fatalf("the checkout of three copies of a book does not show one free (%s):\n%s", book1.Price.Format(), checkout.body)
	}
	promos.Hang()

	guest := newShopper(t, shop.site)
	home := timed(t, "with Promotions hung", "a guest's homepage", 2*time.Second, func() response { return guest.get("/") })
	wantHTML(t, "GET", "/", home, http.StatusOK)
	if strings.Contains(home.body, `class="promo-banner"`) {
		t.Error("with Promotions hung the homepage shows the banner")
	}
	cart := timed(t, "with Promotions hung", "the cart", 2*time.Second, func() response { return b.get("/cart") })
	wantHTML(t, "GET", "/cart", cart, http.StatusOK)
	if strings.Contains(cart.body, `id="cart-discount"`) {
		t.Error("with Promotions hung the cart shows a discount")
	}
	fullPriceOrder(t, b, full, "with Promotions hung", 3*time.Second, 9*time.Second)
	if promos.Held() == 0 {
		t.Error("Promotions held no call: the test did not have the pages wait for it")
	}
}

// renamedPromotions is a Promotions whose words name the promotion name
// (its offer, and its discounts' labels), and which cannot be reached
// while down is set.
type renamedPromotions struct {
	bookshop.Promotions
	name string
	down atomic.Bool
}

// renamed returns label, a discount's line in the words of the real
// Promotions, with the promotion named name.
func renamed(label, name string) string {
	return strings.Replace(label, promotionsclient.Name(promotionsclient.BuyTwoGetOneFreeCode), name, 1)
}

var errPromotionsDown = bookshop.Errorf(bookshop.Unavailable, "connection refused")

func (p *renamedPromotions) Offer(ctx context.Context, customerID int32) (bookshop.Offer, error) {
	if p.down.Load() {
		return bookshop.Offer{}, errPromotionsDown
	}
	o, err := p.Promotions.Offer(ctx, customerID)
	o.Name = p.name
	return o, err
}

func (p *renamedPromotions) Price(ctx context.Context, customerID int32, lines []bookshop.PromoLine) (bookshop.Discount, bool, error) {
	if p.down.Load() {
		return bookshop.Discount{}, false, errPromotionsDown
	}
	d, ok, err := p.Promotions.Price(ctx, customerID, lines)
	d.Label = renamed(d.Label, p.name)
	return d, ok, err
}

// renamedCheckout is a Checkout whose quotes' discounts are in the words
// of a renamed Promotions (see renamedPromotions): the real Checkout's,
// which has them from the real Promotions, with the promotion named name.
type renamedCheckout struct {
	bookshop.Checkout
	name string
}

func (c renamedCheckout) Quote(ctx context.Context, customerID int32, cartID string) (bookshop.Quote, error) {
	q, err := c.Checkout.Quote(ctx, customerID, cartID)
	q.DiscountLabel = renamed(q.DiscountLabel, c.name)
	return q, err
}

// TestPromotionNamedOnEveryPage checks that the pages name the promotion
// as Promotions does, and the book it makes free: a customer's cart and
// the checkout show the discount's line as Promotions words it (its
// label: "Summer special" here, which the Marketplace has nowhere else,
// and the free book's title, marked up as one), the cart's from
// Promotions and the checkout's from the Checkout's quote; the order's
// page and the list of orders head it with the offer's name. While
// Promotions cannot answer, an order's page still names its promotion,
// from the order's code alone.
func TestPromotionNamedOnEveryPage(t *testing.T) {
	promos := &renamedPromotions{name: "Summer special"}
	shop := startShop(t, func(o *marketplace.Options) {
		promos.Promotions = o.Promotions
		o.Promotions = promos
		o.Checkout = renamedCheckout{Checkout: o.Checkout, name: promos.name}
	})
	book1, _ := shop.catalog.Book(testContext(t), 1)
	book3, _ := shop.catalog.Book(testContext(t), 3)
	free := book1
	if book3.Price.Units < book1.Price.Units || book3.Price.Units == book1.Price.Units && book3.ID < book1.ID {
		free = book3
	}
	discount := "−" + free.Price.Format()
	line := "Summer special: one <cite>" + template(free.Title) + "</cite> free"

	b := newShopper(t, shop.site)
	b.signUp("named@example.com", "Named")
	b.add(1, 2)
	b.add(3, 1)
	if cart := b.get("/cart"); !strings.Contains(cart.body, line) || !strings.Contains(cart.body, `id="cart-discount">`+discount) {
		t.Errorf("the cart does not head its discount (%s) %q:\n%s", discount, line, cart.body)
	}
	checkout := b.get("/checkout")
	wantHTML(t, "GET", "/checkout", checkout, http.StatusOK)
	if !strings.Contains(checkout.body, line) || !strings.Contains(checkout.body, `id="checkout-discount">`+discount) {
		t.Errorf("the checkout does not head its discount (%s) %q:\n%s", discount, line, checkout.body)
	}
	if strings.Contains(checkout.body, "Buy two") {
		t.Errorf("the checkout has words of its own for the promotion:\n%s", checkout.body)
	}
	r := b.post("/checkout", b.checkoutForm(paymentsclient.TestCardApproved))
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/orders/") {
		t.Fatalf("POST /checkout: status %d, Location %q, want 303 to the order:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	order := b.get(r.header.Get("Location"))
	wantHTML(t, "GET", "the order", order, http.StatusOK)
	for _, want := range []string{`id="order-promo">Summer special, ` + discount + "<", "Discount: Summer special<", `id="order-discount">` + discount} {
		if !strings.Contains(order.body, want) {
			t.Errorf("the order's page lacks %q:\n%s", want, order.body)
		}
	}
	if list := b.get("/orders"); !strings.Contains(list.body, "(Summer special: "+discount+")") {
		t.Errorf("the list of orders does not name the order's promotion:\n%s", list.body)
	}

	// An order without the promotion says so.
	b.add(1, 1)
	r = b.post("/checkout", b.checkoutForm(paymentsclient.TestCardApproved))
	if none := b.get(r.header.Get("Location")); !strings.Contains(none.body, `id="order-promo">none<`) || strings.Contains(none.body, "Summer special") {
		t.Errorf("an order without the promotion does not say so:\n%s", none.body)
	}

	// Promotions down: another customer's order is named from its code.
	other := newShopper(t, shop.site)
	other.signUp("named-other@example.com", "Named Other")
	other.add(1, 3)
	r = other.post("/checkout", other.checkoutForm(paymentsclient.TestCardApproved))
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /checkout: status %d, want 303:\n%s", r.status, r.body)
	}
	promos.down.Store(true)
	order = other.get(r.header.Get("Location"))
	wantHTML(t, "GET", "the order, Promotions down", order, http.StatusOK)
	name := promotionsclient.Name(promotionsclient.BuyTwoGetOneFreeCode)
	if !strings.Contains(order.body, `id="order-promo">`+name+", −"+book1.Price.Format()+"<") {
		t.Errorf("with Promotions down the order's page does not name its promotion %q:\n%s", name, order.body)
	}
}

// TestPromotionRefusedSaysWhy has shoppers confirm the discount their
// checkout page showed, and then find it gone when they pay: the customer
// used the promotion meanwhile (an order from another tab), or another
// checkout of theirs holds it. Each is charged nothing and shown the new
// total on the checkout page, with a short sentence that says why the
// offer was not applied (the reason Promotions gave the Checkout), and
// no internal text; confirming the new total places the order.
func TestPromotionRefusedSaysWhy(t *testing.T) {
	shop := startShop(t)
	book1, _ := shop.catalog.Book(testContext(t), 1)
	full := bookshop.Money{Units: 3 * book1.Price.Units, Currency: book1.Price.Currency}
	for _, tc := range []struct {
		name     string
		confirm  bool // the other checkout's claim is confirmed: used, not held
		sentence string
	}{
		{"used", true, "The offer was not applied: you have already used it."},
		{"held by another checkout", false, "The offer was not applied: another checkout of yours, still in progress, is using it."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newShopper(t, shop.site)
			b.signUp(strings.ReplaceAll(tc.name, " ", "-")+"@example.com", "Refused "+tc.name)
			b.add(1, 3)
			form := b.checkoutForm(paymentsclient.TestCardApproved)
			if want := strconv.FormatInt(2*book1.Price.Units, 10); form.Get("total_units") != want {
				t.Fatalf("the checkout's total is %s, want %s: the discount", form.Get("total_units"), want)
			}
			customer := shop.customer(t, b)
			lines := []bookshop.PromoLine{{BookID: 1, UnitPrice: book1.Price, Quantity: 3}}
			if _, outcome, err := shop.promos.Claim(testContext(t), customer.ID, "another-tab", lines); err != nil || outcome != bookshop.ClaimGranted {
				t.Fatalf("Claim(another tab) = %v, %v", outcome, err)
			}
			if tc.confirm {
				if err := shop.promos.Confirm(testContext(t), customer.ID, "another-tab"); err != nil {
					t.Fatal(err)
				}
			}

			r := b.post("/checkout", form)
			wantHTML(t, "POST", "/checkout, the offer gone", r, http.StatusConflict)
			for _, want := range []string{
				tc.sentence,
				"The total is now " + full.Format() + ", not the",
				`id="checkout-total">` + full.Format() + "<",
				`name="total_units" value="` + strconv.FormatInt(full.Units, 10) + `"`,
			} {
				if !strings.Contains(r.body, want) {
					t.Errorf("the page of a refused offer lacks %q:\n%s", want, r.body)
				}
			}
			if strings.Contains(r.body, `id="checkout-discount"`) {
				t.Errorf("the page of a refused offer still shows a discount:\n%s", r.body)
			}
			wantNoInternalText(t, "checkout, the offer gone", r.body)
			if list, _ := shop.orders.List(testContext(t), customer.ID, "", 10); len(list.Orders) != 0 {
				t.Fatalf("after the refusal the customer has %d orders, want none", len(list.Orders))
			}

			// The new total, confirmed, is charged.
			again := b.checkoutForm(paymentsclient.TestCardApproved)
			if r := b.post("/checkout", again); r.status != http.StatusSeeOther {
				t.Fatalf("POST /checkout at the new total: status %d, want 303:\n%s", r.status, r.body)
			}
			if list, _ := shop.orders.List(testContext(t), customer.ID, "", 10); len(list.Orders) != 1 || list.Orders[0].Total != full {
				t.Errorf("the customer's orders = %+v, want one at %s", list.Orders, full.Format())
			}
		})
	}
}

// TestAnotherCampaign runs the whole shop with a campaign of another
// shape than the shop's own, given to the Promotions service alone (a
// promotions.Promotion, as the next campaign would be written): 10% off
// an order of three books or more, which makes no book free. The
// Marketplace and the Checkout, unchanged, show its banner and its
// discount in its words on the cart and the checkout pages, charge its
// total, and name it on the order's page; a cart of two books is not
// offered it.
func TestAnotherCampaign(t *testing.T) {
	shop := startShopWith(t, promotionstest.TenPercentOff())
	book1, _ := shop.catalog.Book(testContext(t), 1)
	book3, _ := shop.catalog.Book(testContext(t), 3)
	subtotal := 2*book1.Price.Units + book3.Price.Units
	off := bookshop.Money{Units: subtotal / 10, Currency: book1.Price.Currency}
	total := bookshop.Money{Units: subtotal - off.Units, Currency: book1.Price.Currency}

	b := newShopper(t, shop.site)
	if home := b.get("/"); !strings.Contains(home.body, "10% off any order of three books or more.") {
		t.Errorf("the homepage does not show the campaign's banner:\n%s", home.body)
	}
	b.signUp("ten-percent@example.com", "Ten Percent")
	b.add(1, 2)
	if cart := b.get("/cart"); strings.Contains(cart.body, `id="cart-discount"`) {
		t.Errorf("a cart of two books shows a discount:\n%s", cart.body)
	}
	b.add(3, 1)
	cart := b.get("/cart")
	for _, want := range []string{"Ten percent off: 10% off your order<", `id="cart-discount">−` + off.Format() + "<", `id="cart-total">` + total.Format() + "<"} {
		if !strings.Contains(cart.body, want) {
			t.Errorf("the cart lacks %q:\n%s", want, cart.body)
		}
	}
	form := b.checkoutForm(paymentsclient.TestCardApproved)
	checkout := b.get("/checkout")
	for _, want := range []string{"Ten percent off: 10% off your order<", `id="checkout-discount">−` + off.Format() + "<", `id="checkout-total">` + total.Format() + "<"} {
		if !strings.Contains(checkout.body, want) {
			t.Errorf("the checkout lacks %q:\n%s", want, checkout.body)
		}
	}
	if strings.Contains(checkout.body+cart.body, "Buy two") {
		t.Errorf("the pages speak of the shop's own campaign:\n%s\n%s", cart.body, checkout.body)
	}
	r := b.post("/checkout", form)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/orders/") {
		t.Fatalf("POST /checkout: status %d, want 303 to the order:\n%s", r.status, r.body)
	}
	order := b.get(r.header.Get("Location"))
	for _, want := range []string{`id="order-promo">Ten percent off, −` + off.Format() + "<", `id="order-total">` + total.Format() + "<"} {
		if !strings.Contains(order.body, want) {
			t.Errorf("the order's page lacks %q:\n%s", want, order.body)
		}
	}
	customer := shop.customer(t, b)
	list, err := shop.orders.List(testContext(t), customer.ID, "", 10)
	if err != nil || len(list.Orders) != 1 || list.Orders[0].Total != total || list.Orders[0].Discount != off ||
		!slices.Equal(list.Orders[0].Promotions, []string{"ten_percent_off"}) {
		t.Errorf("the customer's orders = %+v, %v; want one of %s, %s off by ten_percent_off", list.Orders, err, total.Format(), off.Format())
	}
}

// TestCheckoutBeingCompletedShowsItsDiscount places an order with the
// promotion's discount while Orders is down: the shopper is told the
// order is being completed, and the form comes back with the total they
// confirmed. The page agrees with itself: its lines add up to the
// subtotal, and the discount line is the subtotal less the total
// confirmed, though a quote made now gives no discount (the checkout's
// own claim holds the customer's use).
func TestCheckoutBeingCompletedShowsItsDiscount(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("completing@example.com", "Completing")
	b.add(1, 3)
	book1, _ := shop.catalog.Book(testContext(t), 1)
	form := b.checkoutForm(paymentsclient.TestCardApproved)
	subtotal := bookshop.Money{Units: 3 * book1.Price.Units, Currency: book1.Price.Currency}
	total := bookshop.Money{Units: 2 * book1.Price.Units, Currency: book1.Price.Currency}
	if form.Get("total_units") != strconv.FormatInt(total.Units, 10) {
		t.Fatalf("the checkout's total is %s, want %d: two of three copies", form.Get("total_units"), total.Units)
	}
	shop.stopOrders()
	r := b.post("/checkout", form)
	wantHTML(t, "POST", "/checkout, Orders down", r, http.StatusServiceUnavailable)
	for _, want := range []string{
		`id="checkout-total">` + total.Format() + "<",
		`<td class="num">` + subtotal.Format() + "</td>",
		`id="checkout-discount">−` + book1.Price.Format() + "<",
		`name="total_units" value="` + strconv.FormatInt(total.Units, 10) + `"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page of the order being completed lacks %q:\n%s", want, r.body)
		}
	}
}
