package marketplace_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	accountssqlite "github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// maxEchoRunes is the most runes of the shopper's input that a message
// quotes back; longer input is cut there, and "…" added.
const maxEchoRunes = 40

// fuzzHandler returns the Marketplace's handler over the built-in catalog,
// called in process: a fuzz test makes thousands of requests a second, too
// many for loopback gRPC to be the point. Requests are not rate limited.
func fuzzHandler(tb testing.TB) http.Handler {
	tb.Helper()
	books := builtinCatalog(tb)
	o := marketplace.Options{
		Logger:           slog.New(slog.DiscardHandler),
		Recommender:      recommendations.New(books, seededRand()),
		RecommendTimeout: 5 * time.Second,
		Catalog:          books,
		Searcher:         noSearch{},
		Live:             noLive{},
		RateLimit:        rate.Inf,
	}
	downShop(tb, &o)
	h, err := marketplace.NewServer(o)
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	return h
}

// wantEcho fails the test unless msg is input, quoted and cut to
// maxEchoRunes, followed by exactly suffix: so a message never quotes more
// of the input than that, and is valid UTF-8 whatever the input.
func wantEcho(tb testing.TB, msg, input, suffix string) {
	tb.Helper()
	if !utf8.ValidString(msg) {
		tb.Errorf("message %q is not valid UTF-8", msg)
	}
	quoted, err := strconv.QuotedPrefix(msg)
	if err != nil {
		tb.Fatalf("message %q does not start with the quoted input: %v", msg, err)
	}
	echo, err := strconv.Unquote(quoted)
	if err != nil {
		tb.Fatalf("strconv.Unquote(%s): %v", quoted, err)
	}
	want := input
	if r := []rune(input); len(r) > maxEchoRunes {
		want = string(r[:maxEchoRunes]) + "…"
	}
	if echo != want {
		tb.Errorf("message %q quotes %q, want %q", msg, echo, want)
	}
	if rest := msg[len(quoted):]; rest != suffix {
		tb.Errorf("message %q ends %q, want %q", msg, rest, suffix)
	}
}

// wantPage serves req with h and fails the test unless the answer has
// status and, for an error page, shows exactly msg as its message: the
// page escapes the input it quotes, so none of it is read as markup.
func wantPage(tb testing.TB, h http.Handler, req *http.Request, status int, msg string) {
	tb.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != status {
		tb.Fatalf("GET %s = %d, want %d; body:\n%s", req.URL, w.Code, status, w.Body)
	}
	if status == http.StatusOK {
		return
	}
	p := parsePage(tb, w.Body.String())
	if want := strings.Join(strings.Fields(msg), " "); p.Notice != want {
		tb.Errorf("GET %s shows the message %q, want %q", req.URL, p.Notice, want)
	}
}

// FuzzCategoryFromQuery checks the homepage's query parsing: it never
// panics, accepts exactly the queries with no category or one that names a
// category (in any case), and otherwise answers 400 with a message that
// quotes at most maxEchoRunes of the input, shown on the page as it is.
func FuzzCategoryFromQuery(f *testing.F) {
	for _, q := range []string{
		"", "category=mystery", "category=MYSTERY", "category=Science_Fiction", "category=self_help",
		"other=1", "category=mystery&other=1", "category=romance", "category=", "category",
		"category=mystery&category=self_help", "category=%zz", "category=mystery;other=1",
		"category=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "category=" + strings.Repeat("x", 500),
		"category=%FF%FE", "category=%E2%80%AE", "category=%C5%BFelf_help", "category=a%20%20b",
	} {
		f.Add(q)
	}
	h := fuzzHandler(f)
	const notCategory = " is not a category we have. Choose mystery, science_fiction or self_help."
	f.Fuzz(func(t *testing.T, rawQuery string) {
		cat, msg := marketplace.CategoryFromQuery(rawQuery)

		q, err := url.ParseQuery(rawQuery)
		values, named := q["category"]
		var want bookshop.Category = -1
		switch {
		case err != nil:
			if want := "The address has a malformed query string."; msg != want {
				t.Errorf("CategoryFromQuery(%q) message = %q, want %q", rawQuery, msg, want)
			}
		case !named:
			want = bookshop.Mystery
		case len(values) != 1:
			if want := "Choose one category, not " + strconv.Itoa(len(values)) + "."; msg != want {
				t.Errorf("CategoryFromQuery(%q) message = %q, want %q", rawQuery, msg, want)
			}
		default:
			for _, c := range bookshop.Categories() {
				if strings.EqualFold(values[0], c.String()) {
					want = c
				}
			}
			if want == -1 {
				wantEcho(t, msg, values[0], notCategory)
			}
		}
		if want != -1 && (msg != "" || cat != want) {
			t.Errorf("CategoryFromQuery(%q) = %v, %q; want %v, no message", rawQuery, cat, msg, want)
		}
		if want == -1 && msg == "" {
			t.Errorf("CategoryFromQuery(%q) = %v with no message, want a message", rawQuery, cat)
		}

		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.RawQuery = rawQuery
		status := http.StatusOK
		if msg != "" {
			status = http.StatusBadRequest
		}
		wantPage(t, h, req, status, msg)
	})
}

// FuzzBookIDFromPath checks the parsing of the id in /books/{id}: it never
// panics, accepts exactly the ids written in decimal digits without a sign
// or leading zeros, from 1 to 2147483647, and otherwise answers 400 with a
// message that quotes at most maxEchoRunes of the input, shown on the page
// as it is.
func FuzzBookIDFromPath(f *testing.F) {
	for _, s := range []string{
		"1", "9", "10", "2147483647", "2147483648", "9999999999", "99999999999", "0", "00", "01", "+1", "-1",
		"1.5", "1e3", "0x10", " 1", "1 ", "abc", "", "<script>", strings.Repeat("9", 100), "١", "\xff",
	} {
		f.Add(s)
	}
	h := fuzzHandler(f)
	const notID = " is not a book id: a book id is a whole number from 1."
	f.Fuzz(func(t *testing.T, s string) {
		id, msg := marketplace.BookIDFromPath(s)
		valid := s != "" && s[0] != '0' && len(s) <= 10 && strings.Trim(s, "0123456789") == "" &&
			(len(s) < 10 || s <= "2147483647")
		switch {
		case valid && (msg != "" || strconv.Itoa(int(id)) != s):
			t.Errorf("BookIDFromPath(%q) = %d, %q; want %s, no message", s, id, msg, s)
		case !valid && msg == "":
			t.Errorf("BookIDFromPath(%q) = %d with no message, want a message", s, id)
		case !valid:
			wantEcho(t, msg, s, notID)
		}

		// Through the site, for a segment the router takes as it is.
		if s == "" || s == "." || s == ".." || strings.Contains(s, "/") || !utf8.ValidString(s) {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = "/books/" + s
		if valid {
			// A book of the catalog, or not: 200 or 404, never 400.
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK && w.Code != http.StatusNotFound {
				t.Errorf("GET /books/%s = %d, want 200 or 404", s, w.Code)
			}
			return
		}
		wantPage(t, h, req, http.StatusBadRequest, msg)
	})
}

// addressOf returns a client address for body, of its own: 10.x.y.z from
// a hash of it.
func addressOf(body string) string {
	h := fnv.New32a()
	h.Write([]byte(body))
	n := h.Sum32()
	return fmt.Sprintf("10.%d.%d.%d:1234", byte(n>>16), byte(n>>8), byte(n))
}

// startAccountsWith serves an Accounts service with limits, its database
// in memory and cheap password hashes (a fuzzing run signs up thousands),
// on loopback until the test ends, and returns a client of it.
func startAccountsWith(tb testing.TB, limits accounts.Limits) *accountsclient.Client {
	tb.Helper()
	ctx := testContext(tb)
	db, err := accountssqlite.Open(ctx, accountssqlite.Memory)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	svc, err := accounts.NewService(ctx, db, accounts.Options{Hash: accounts.HashParams{Memory: 64, Time: 1, Threads: 1}, Limits: limits})
	if err != nil {
		tb.Fatal(err)
	}
	addr, _ := runService(tb, "accounts", func(ctx context.Context, deps process.Deps) error {
		srv, err := accounts.NewGRPCServer(svc, deps)
		if err != nil {
			return err
		}
		return srv.Run(ctx, deps.Listener)
	})
	return accountsclient.New(rpctest.Dial(tb, addr), 10*time.Second)
}

// FuzzSignUpForm posts any body to /signup, as a browser's form would,
// against a real Accounts service: the site never fails (no 500), answers
// one of the statuses a sign-up has, never shows the password it was
// sent or internal text, and sets a session cookie exactly when it
// signed someone up.
//
// Every input must reach Accounts' rules, not its throttle: each comes
// from an address of its own (from a hash of the body), and this
// Accounts' limits are raised past what a fuzzing run makes (with one
// address and the default 10 sign-ups an hour, all but the first few
// inputs were answered 429). So a 429 is a failure here.
func FuzzSignUpForm(f *testing.F) {
	for _, body := range []string{
		"email=ada%40example.com&name=Ada&password=correct+horse+battery",
		"email=ada%40example.com&name=Ada&password=short",
		"email=ada%40example.com&name=Ada&password=password123",
		"email=not-an-email&name=Ada&password=correct+horse+battery",
		"email=&name=&password=",
		"email=ada%40example.com&name=%00%01&password=correct+horse+battery",
		"email=ada%40example.com&name=" + strings.Repeat("x", 200) + "&password=correct+horse+battery",
		"email=ada%40example.com&email=bob%40example.com&name=A&password=correct+horse+battery",
		"email=%zz", "%", "&&&", "next=%2F%2Fevil.example&email=a%40b.co&name=A&password=correct+horse+battery",
		"email=ada%40example.com&name=%E2%80%AEAda&password=%F0%9F%94%91%F0%9F%94%91%F0%9F%94%91%F0%9F%94%91%F0%9F%94%91",
	} {
		f.Add(body)
	}
	unlimited := accounts.Limits{PerAccount: 1 << 30, PerClient: 1 << 30, SignUpsPerClient: 1 << 30}
	shop := startShop(f, func(o *marketplace.Options) { o.Accounts = startAccountsWith(f, unlimited) })
	h := shop.site.Config.Handler
	// What the sign-up page says whatever was posted, which a password
	// may happen to contain ("correct " is in "Please correct the
	// fields marked below."): the blank form, and the form with each of
	// the messages a sign-up can get, for bodies that echo nothing the
	// fuzzer might send.
	var said strings.Builder
	for _, body := range []string{
		"", "%zz", "email=&name=&password=",
		"email=said%40example.com&name=&password=correct+horse+battery",
		"email=said%40example.com&name=S%01&password=correct+horse+battery",
		"email=said%40example.com&name=S&password=short",
		"email=said%40example.com&name=S&password=password123",
		"email=said%40example.com&name=S&password=said%40example.com",
		"email=said%40example.com&name=S&password=" + strings.Repeat("y", accounts.MaxPasswordLen+1),
		"email=not-an-email&name=S&password=correct+horse+battery",
		"email=said%40example.com&name=S&password=correct+horse+battery",
		"email=said%40example.com&name=S&password=another+horse+battery",
	} {
		req := httptest.NewRequest(http.MethodPost, "/signup", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.RemoteAddr = addressOf(body)
		if body == "" {
			req = httptest.NewRequest(http.MethodGet, "/signup", nil)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		// The baseline must not hide a leak of its own.
		if form, _ := url.ParseQuery(body); len(form.Get("password")) >= 8 && !strings.Contains(form.Get("email")+form.Get("name"), form.Get("password")) &&
			strings.Contains(w.Body.String(), template(form.Get("password"))) {
			f.Fatalf("POST /signup %q: the page shows the password:\n%s", body, w.Body)
		}
		said.WriteString(w.Body.String())
	}
	if !strings.Contains(said.String(), "Please correct") || !strings.Contains(said.String(), "already exists") {
		f.Fatalf("the pages said do not hold the sign-up's messages:\n%s", said.String())
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/signup", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.RemoteAddr = addressOf(body)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusSeeOther, http.StatusBadRequest, http.StatusConflict:
		default:
			t.Fatalf("POST /signup %q = %d, want 303, 400 or 409:\n%s", body, w.Code, w.Body)
		}
		signedUp := false
		for _, c := range w.Result().Cookies() {
			if c.Name == "bookshop_session" && c.Value != "" {
				signedUp = true
			}
		}
		if signedUp != (w.Code == http.StatusSeeOther) {
			t.Errorf("POST /signup %q = %d with a session cookie: %v", body, w.Code, signedUp)
		}
		if w.Code == http.StatusSeeOther {
			if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
				t.Errorf("POST /signup %q redirects to %q, off the site", body, loc)
			}
			return
		}
		page := w.Body.String()
		wantNoInternalText(t, "POST /signup", page)
		if form, err := url.ParseQuery(body); err == nil {
			// (A password that is also in what the page may echo, the email
			// and the name, or in the page's own text, proves nothing.)
			p := form.Get("password")
			echoed := form.Get("email") + form.Get("name")
			if len(p) >= 8 && !strings.Contains(echoed, p) && !strings.Contains(said.String(), template(p)) && strings.Contains(page, template(p)) {
				t.Errorf("POST /signup %q: the page shows the password", body)
			}
		}
	})
}
