package marketplace

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
