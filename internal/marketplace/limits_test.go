package marketplace_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/bookshop-go/bookshop/internal/marketplace"
)

// messageTooFast is what a client past its rate is told.
const messageTooFast = "You are sending requests too fast"

// slowRate is a rate limit under which no bucket refills during a test.
var slowRate = rate.Every(10 * time.Second)

// doAs sends method target to srv with the given X-Forwarded-For header
// ("" for none).
func doAs(tb testing.TB, srv *httptest.Server, method, target, forwardedFor string) response {
	tb.Helper()
	req, err := http.NewRequestWithContext(testContext(tb), method, srv.URL+target, nil)
	if err != nil {
		tb.Fatalf("NewRequest(%s %s): %v", method, target, err)
	}
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
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

// wantRetryAfter fails the test unless r has a Retry-After header of whole
// seconds from 1 to most.
func wantRetryAfter(tb testing.TB, target string, r response, most int) {
	tb.Helper()
	got := r.header.Get("Retry-After")
	if n, err := strconv.Atoi(got); err != nil || n < 1 || n > most {
		tb.Errorf("GET %s Retry-After = %q, want whole seconds from 1 to %d", target, got, most)
	}
}

// TestRateLimit checks that a client gets 429 once it has used its burst:
// a 429 page on the pages, plain text on the routes of the scripts, with a
// Retry-After header, the security headers, and nothing cached.
func TestRateLimit(t *testing.T) {
	const burst = 3
	srv, _ := startLiveSite(t, marketplace.Options{RateLimit: slowRate, RateBurst: burst})
	for i := range burst {
		if r := get(t, srv, "/"); r.status != http.StatusOK {
			t.Fatalf("GET / number %d of a burst of %d = %d, want 200", i+1, burst, r.status)
		}
	}

	pages := []string{"/", "/?category=self_help", "/books/1", "/categories/mystery", "/nope", "/?category=romance"}
	for _, target := range pages {
		t.Run(target, func(t *testing.T) {
			r := get(t, srv, target)
			wantHTML(t, "GET", target, r, http.StatusTooManyRequests)
			wantRetryAfter(t, target, r, 10)
			wantSecurityHeaders(t, "GET", target, r)
			if got, want := r.header.Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("GET %s Cache-Control = %q, want %q", target, got, want)
			}
			p := parsePage(t, r.body)
			if want := "Too Many Requests"; !slices.Equal(p.H1, []string{want}) {
				t.Errorf("GET %s h1 = %q, want [%q]", target, p.H1, want)
			}
			if want := "Too Many Requests · " + siteTitle; p.Title != want {
				t.Errorf("GET %s title = %q, want %q", target, p.Title, want)
			}
			if !strings.Contains(p.Notice, messageTooFast) {
				t.Errorf("GET %s message = %q, want it to contain %q", target, p.Notice, messageTooFast)
			}
			wantNavCurrent(t, target, p, "")
			wantNoInternalText(t, target, r.body)
		})
	}

	scripts := []struct {
		method string
		target string
	}{
		{http.MethodGet, "/api/books/1"},
		{http.MethodGet, "/live"},
		{http.MethodPost, "/live/AAAAAAAAAAAAAAAAAAAAAAAAAA/events"},
	}
	for _, tt := range scripts {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.target)
			if r.status != http.StatusTooManyRequests {
				t.Fatalf("%s %s = %d, want %d; body:\n%s", tt.method, tt.target, r.status, http.StatusTooManyRequests, r.body)
			}
			if got, want := r.header.Get("Content-Type"), "text/plain; charset=utf-8"; got != want {
				t.Errorf("%s %s Content-Type = %q, want %q", tt.method, tt.target, got, want)
			}
			wantRetryAfter(t, tt.target, r, 10)
			wantSecurityHeaders(t, tt.method, tt.target, r)
			if !strings.Contains(r.body, messageTooFast) || strings.Contains(r.body, "<") {
				t.Errorf("%s %s body = %q, want plain text containing %q", tt.method, tt.target, r.body, messageTooFast)
			}
		})
	}

	// The add-to-cart script asks for JSON, and shows its message beside
	// the button: a page it could not read would send it away to it.
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, srv.URL+"/cart/items", strings.NewReader("book=1"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var answer struct {
		Count   int    `json:"count"`
		Message string `json:"message"`
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/json" ||
		json.Unmarshal(body, &answer) != nil || !strings.Contains(answer.Message, messageTooFast) || answer.Count != -1 {
		t.Errorf("POST /cart/items asking for JSON past the rate = %d %s %q; want 429 with JSON saying %q and count -1",
			resp.StatusCode, resp.Header.Get("Content-Type"), body, messageTooFast)
	}
}

// TestRateLimitRefills checks that a client is let through again once its
// bucket holds a token, and that Retry-After said when that would be.
func TestRateLimitRefills(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{RateLimit: rate.Every(time.Second), RateBurst: 1})
	if r := get(t, srv, "/nope"); r.status != http.StatusNotFound {
		t.Fatalf("GET /nope = %d, want 404", r.status)
	}
	r := get(t, srv, "/nope")
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("GET /nope at once again = %d, want 429", r.status)
	}
	wantRetryAfter(t, "/nope", r, 1)
	time.Sleep(time.Second)
	if r := get(t, srv, "/nope"); r.status != http.StatusNotFound {
		t.Errorf("GET /nope after Retry-After = %d, want 404", r.status)
	}
}

// TestRateLimitExempt checks that the health checks and the static files
// are never limited, even for a client past its rate.
func TestRateLimitExempt(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{RateLimit: slowRate, RateBurst: 1})
	get(t, srv, "/nope")
	if r := get(t, srv, "/nope"); r.status != http.StatusTooManyRequests {
		t.Fatalf("GET /nope past the burst = %d, want 429", r.status)
	}
	p := parsePage(t, get(t, srv, "/nope").body)
	for _, target := range []string{"/healthz", "/readyz", p.Stylesheet, p.Favicon, "/static/style.css", "/static/missing.css"} {
		t.Run(target, func(t *testing.T) {
			for range 20 {
				if r := get(t, srv, target); r.status == http.StatusTooManyRequests {
					t.Fatalf("GET %s = 429, want it never limited", target)
				}
			}
		})
	}
}

// limitedHandler returns the Marketplace's handler, for requests served in
// process with a RemoteAddr of the test's choosing.
func limitedHandler(tb testing.TB, cfg marketplace.Options) http.Handler {
	tb.Helper()
	cfg.Logger, _ = testLogger(tb)
	cfg.RecommendTimeout = 5 * time.Second
	svc := startServices(tb, builtinCatalog(tb), seededRand())
	cfg.Recommender, cfg.Catalog, cfg.Live, cfg.Searcher = svc.rec, svc.catalog, svc.live, svc.catalog
	downShop(tb, &cfg)
	h, err := marketplace.NewServer(cfg)
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	return h
}

// serveAs serves GET target with h in process, as if from remoteAddr, with
// the given X-Forwarded-For ("" for none), and returns the status.
func serveAs(tb testing.TB, h http.Handler, target, remoteAddr, forwardedFor string) int {
	tb.Helper()
	req := httptest.NewRequestWithContext(testContext(tb), http.MethodGet, target, nil)
	req.RemoteAddr = remoteAddr
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code
}

// TestRateLimitClients checks that clients are limited separately: one
// bucket per IPv4 address, whatever the port, and one per IPv6 /64.
func TestRateLimitClients(t *testing.T) {
	const burst = 2
	h := limitedHandler(t, marketplace.Options{RateLimit: slowRate, RateBurst: burst})
	// Each step, in order: a client, and whether its next request is let
	// through.
	steps := []struct {
		remote string
		want   bool
	}{
		{"192.0.2.1:1000", true},
		{"192.0.2.1:1000", true},
		{"192.0.2.1:1000", false},
		{"192.0.2.1:2000", false},          // another connection of the same host
		{"[::ffff:192.0.2.1]:3000", false}, // the same address, mapped to IPv6
		{"192.0.2.2:1000", true},           // another host
		{"192.0.2.2:1000", true},
		{"192.0.2.2:1000", false},
		{"[2001:db8:0:1::1]:1000", true},
		{"[2001:db8:0:1::2]:1000", true}, // the same /64
		{"[2001:db8:0:1::3]:1000", false},
		{"[2001:db8:0:2::1]:1000", true}, // another /64
		{"192.0.2.1:1000", false},        // the first is still limited
	}
	for i, step := range steps {
		status := serveAs(t, h, "/", step.remote, "")
		if got := status != http.StatusTooManyRequests; got != step.want {
			t.Errorf("step %d: GET / from %s = %d, want let through: %v", i+1, step.remote, status, step.want)
		}
	}
}

// TestRateLimitForwardedFor checks that X-Forwarded-For is ignored unless
// the Marketplace is configured to be behind proxies, and that then only
// the addresses the proxies wrote count, never what the client wrote
// before them.
func TestRateLimitForwardedFor(t *testing.T) {
	t.Run("not behind a proxy", func(t *testing.T) {
		srv, _ := startLiveSite(t, marketplace.Options{RateLimit: slowRate, RateBurst: 2})
		// A client that names a fresh address each time is still one client.
		for i := range 5 {
			xff := fmt.Sprintf("203.0.113.%d", i+1)
			r := doAs(t, srv, http.MethodGet, "/", xff)
			if want := i < 2; (r.status == http.StatusOK) != want {
				t.Errorf("GET / number %d, X-Forwarded-For %s = %d, want let through: %v", i+1, xff, r.status, want)
			}
		}
	})

	// Behind proxies, each step: the X-Forwarded-For the Marketplace gets,
	// and whether the request is let through. The connection is always
	// the nearest proxy's.
	type step struct {
		xff  string
		want bool
	}
	tests := []struct {
		name    string
		proxies int
		steps   []step
	}{
		{"behind one proxy", 1, []step{
			{"203.0.113.1", true},
			{"203.0.113.1", true},
			{"203.0.113.1", false},
			{"203.0.113.2", true}, // another client
			// The client wrote the first address; the proxy added its own view.
			{"198.51.100.7, 203.0.113.1", false},
			{"198.51.100.8,203.0.113.1", false},
			{"", true}, // no header: the connection's address, a client of its own
			{"not an address", true},
			{"not an address", false}, // the connection's, again
			{"[2001:db8::1]:4711", true},
		}},
		{"behind two proxies", 2, []step{
			{"203.0.113.1, 10.0.0.1", true},
			{"203.0.113.1, 10.0.0.2", true}, // another route through the first proxy
			{"198.51.100.7, 203.0.113.1, 10.0.0.1", false},
			{"203.0.113.2, 10.0.0.1", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := startLiveSite(t, marketplace.Options{RateLimit: slowRate, RateBurst: 2, TrustedProxies: tt.proxies})
			for i, s := range tt.steps {
				r := doAs(t, srv, http.MethodGet, "/", s.xff)
				if got := r.status != http.StatusTooManyRequests; got != s.want {
					t.Errorf("step %d: GET / with X-Forwarded-For %q = %d, want let through: %v", i+1, s.xff, r.status, s.want)
				}
			}
		})
	}
}

// TestRateLimitBounded checks that the site tracks at most MaxRateClients
// clients: past that, the least recently seen is forgotten, and comes back
// with a full bucket.
func TestRateLimitBounded(t *testing.T) {
	const maxClients = 100
	h := limitedHandler(t, marketplace.Options{RateLimit: slowRate, RateBurst: 1, MaxRateClients: maxClients})
	first := "192.0.2.1:1000"
	serveAs(t, h, "/nope", first, "")
	if got := serveAs(t, h, "/nope", first, ""); got != http.StatusTooManyRequests {
		t.Fatalf("GET /nope twice = %d, want 429", got)
	}
	other := func(i int) string { return fmt.Sprintf("10.0.%d.%d:1000", i/256, i%256) }
	for i := range maxClients - 1 {
		serveAs(t, h, "/nope", other(i), "")
	}
	// With maxClients tracked, the first is still one of them...
	if got := serveAs(t, h, "/nope", first, ""); got != http.StatusTooManyRequests {
		t.Fatalf("GET /nope from the first client of %d = %d, want 429", maxClients, got)
	}
	// ...until more come, when it is the least recently seen.
	for i := maxClients - 1; i < 10*maxClients; i++ {
		if got := serveAs(t, h, "/nope", other(i), ""); got != http.StatusNotFound {
			t.Fatalf("GET /nope from new client %s = %d, want 404", other(i), got)
		}
	}
	if got := serveAs(t, h, "/nope", first, ""); got != http.StatusNotFound {
		t.Errorf("GET /nope from the first client after %d others = %d, want 404: forgotten, with a full bucket", 10*maxClients, got)
	}
}

// fakeClock is a clock that moves only when the test moves it.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestClientLimiterBounded checks that the limiter's table stays bounded
// under a flood of clients, and forgets idle clients, whose buckets are
// full again, without waiting for the cap.
func TestClientLimiterBounded(t *testing.T) {
	const (
		limit      = 10
		burst      = 5
		maxClients = 1000
	)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := marketplace.NewClientLimiter(limit, burst, maxClients, clock.now)

	// A flood of 100 times the cap, one request each, a microsecond apart.
	for i := range 100 * maxClients {
		key := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		if ok, _ := l.Allow(key); !ok {
			t.Fatalf("Allow(%s), a new client, = false, want true", key)
		}
		if n := l.Tracked(); n > maxClients {
			t.Fatalf("after %d clients, %d are tracked, want at most %d", i+1, n, maxClients)
		}
		clock.t = clock.t.Add(time.Microsecond)
	}
	if n := l.Tracked(); n != maxClients {
		t.Errorf("after the flood, %d clients are tracked, want %d", n, maxClients)
	}

	// A client past its rate is told when it may come back, and may then.
	for range burst {
		l.Allow("192.0.2.1")
	}
	ok, wait := l.Allow("192.0.2.1")
	if ok || wait <= 0 || wait > time.Second/limit {
		t.Fatalf("Allow past the burst = %v, %v; want false, at most %v", ok, wait, time.Second/limit)
	}
	clock.t = clock.t.Add(wait)
	if ok, _ := l.Allow("192.0.2.1"); !ok {
		t.Errorf("Allow after waiting %v = false, want true", wait)
	}

	// Idle a little longer than a bucket takes to fill up again, every
	// client is forgotten at the next request: a new bucket would be the
	// same.
	idle := time.Second*burst/limit + 10*time.Millisecond
	clock.t = clock.t.Add(idle)
	if ok, _ := l.Allow("192.0.2.2"); !ok {
		t.Fatal("Allow(192.0.2.2) = false, want true")
	}
	if n := l.Tracked(); n != 1 {
		t.Errorf("after every client was idle for %v, %d are tracked, want 1", idle, n)
	}
	for range burst {
		if ok, _ := l.Allow("192.0.2.1"); !ok {
			t.Errorf("Allow(192.0.2.1) within a burst after it was forgotten = false, want true")
		}
	}
}

// postBody posts body, as JSON, to the events of session; a body of
// unknown length goes chunked, without a Content-Length.
func postBody(tb testing.TB, srv *httptest.Server, session string, body io.Reader) response {
	tb.Helper()
	req, err := http.NewRequestWithContext(testContext(tb), http.MethodPost, srv.URL+"/live/"+session+"/events", body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c, ok := liveCookies.Load(session); ok {
		req.AddCookie(c.(*http.Cookie)) // as the browser that opened it
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("POST events: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("POST events: read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// TestBodyLimit checks the limit of 1 KiB on request bodies: a body of
// 1 KiB is read, one byte more gets 413, with a Content-Length or without
// one (chunked), and so does a body far larger.
func TestBodyLimit(t *testing.T) {
	srv, _ := startLiveSite(t, marketplace.Options{})
	stream := openLive(t, srv)
	session := stream.session(t)
	event := `{"type": "viewed", "book_id": 1}`
	pad := func(n int) string { return event + strings.Repeat(" ", n-len(event)) }

	tests := []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"1 KiB", strings.NewReader(pad(1 << 10)), http.StatusNoContent},
		{"1 KiB and 1 byte", strings.NewReader(pad(1<<10 + 1)), http.StatusRequestEntityTooLarge},
		{"1 KiB, chunked", io.MultiReader(strings.NewReader(pad(1 << 10))), http.StatusNoContent},
		{"1 KiB and 1 byte, chunked", io.MultiReader(strings.NewReader(pad(1<<10 + 1))), http.StatusRequestEntityTooLarge},
		{"1 MiB", strings.NewReader(pad(1 << 20)), http.StatusRequestEntityTooLarge},
		{"1 MiB, chunked", io.MultiReader(strings.NewReader(pad(1 << 20))), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postBody(t, srv, session, tt.body)
			if r.status != tt.status {
				t.Fatalf("POST %s = %d %s, want %d", tt.name, r.status, r.body, tt.status)
			}
			if tt.status == http.StatusNoContent {
				stream.books(t) // the event's answer
				return
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || !strings.Contains(e.Error, "1 KiB") {
				t.Errorf("POST %s body = %s, want a JSON error containing %q", tt.name, r.body, "1 KiB")
			}
		})
	}
}
