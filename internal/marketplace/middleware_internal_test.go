package marketplace

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/bookshop-go/bookshop/internal/platform/reqid"
)

// TestVisitorInRequestState checks that a page's request is copied once,
// by the middleware, and that withVisitor leaves the visitor in that
// request's requestState: the page's handler gets the request the
// middleware made, with the request id and the visitor. Outside the
// middleware, withVisitor gives the handler a request of its own.
func TestVisitorInRequestState(t *testing.T) {
	s := &server{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var outer, inner *http.Request
	page := s.withVisitor(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { inner = r }))
	h := s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outer = r
		page.ServeHTTP(w, r)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if inner != outer {
		t.Error("withVisitor, after the middleware, gave the page a copy of the request")
	}
	v, ok := foundVisitor(inner.Context())
	if !ok || !v.countKnown || v.customer != nil {
		t.Errorf("the page's visitor = %+v, %v; want a guest with an empty cart", v, ok)
	}
	if reqid.From(inner.Context()) == "" {
		t.Error("the page's context has no request id")
	}

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	page.ServeHTTP(httptest.NewRecorder(), req)
	if inner == req {
		t.Error("withVisitor, without the middleware, gave the page the request as it was")
	}
	if _, ok := foundVisitor(inner.Context()); !ok {
		t.Error("withVisitor, without the middleware: the page has no visitor")
	}
	if _, ok := foundVisitor(req.Context()); ok {
		t.Error("a request withVisitor never saw has a visitor")
	}
}

// TestSecurityHeadersShared checks that every response gets the security
// headers, whose values every response shares (see headerValue), and
// that a handler that adds to one or sets it changes its own response
// only.
func TestSecurityHeadersShared(t *testing.T) {
	s := &server{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/add":
			w.Header().Add("X-Frame-Options", "SAMEORIGIN")
			w.Header().Add("Content-Type", "text/plain")
		case "/set":
			w.Header().Set("Referrer-Policy", "no-referrer")
		}
		htmlContentType.set(w.Header())
	}))
	for _, path := range []string{"/add", "/set", "/"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		got := rec.Result().Header
		for k, v := range securityHeaders {
			want := []string{v}
			switch {
			case path == "/add" && k == "X-Frame-Options":
				want = []string{v, "SAMEORIGIN"}
			case path == "/set" && k == "Referrer-Policy":
				want = []string{"no-referrer"}
			}
			if !slices.Equal(got[k], want) {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got[k], want)
			}
		}
		if want := []string{"text/html; charset=utf-8"}; !slices.Equal(got["Content-Type"], want) {
			t.Errorf("GET %s: Content-Type = %q, want %q", path, got["Content-Type"], want)
		}
		if !reqid.Valid(got.Get(reqid.Key)) {
			t.Errorf("GET %s: X-Request-Id = %q, want a request id", path, got.Get(reqid.Key))
		}
	}
}
