package marketplace

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/reqid"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// securityHeaders are set on every response. The pages load nothing from
// other sites, run only the site's own script files (no inline script),
// and connect only to the site itself, and the policy says so.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; " +
		"script-src 'self'; connect-src 'self'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "strict-origin-when-cross-origin",
	"X-Frame-Options":        "DENY",
}

// headerValue is a header's name, canonical, and its value as
// http.Header holds it, made once: assigned to a response's header map
// (h[name] = value) it costs no allocation, where Header.Set makes a
// slice of the value for every response. The slices are shared by every
// response, which is safe: net/http only reads them, and a Set or an Add
// on the same header replaces the slice or, its capacity being one,
// appends to a copy.
type headerValue struct {
	name  string
	value []string
}

// newHeaderValue returns the headerValue of name and value.
func newHeaderValue(name, value string) headerValue {
	return headerValue{name: http.CanonicalHeaderKey(name), value: []string{value}[:1:1]}
}

// set sets the header on h.
func (v headerValue) set(h http.Header) { h[v.name] = v.value }

// securityHeaderValues are securityHeaders, made once.
var securityHeaderValues = func() []headerValue {
	var vs []headerValue
	for k, v := range securityHeaders {
		vs = append(vs, newHeaderValue(k, v))
	}
	return vs
}()

// strictTransport is the Strict-Transport-Security of a response served
// over HTTPS (see isSecure): the browser asks for the site by HTTPS alone
// for a year, so that no later request, typed or linked as http://, goes
// out in the clear for someone on the way to answer, or to read its
// session cookie. Not on plain HTTP, where it would mean nothing (browsers
// ignore it there), and not for subdomains, which may be another team's.
var strictTransport = newHeaderValue("Strict-Transport-Security", "max-age=31536000")

// The headers of every page, made once (see headerValue).
var (
	htmlContentType = newHeaderValue("Content-Type", "text/html; charset=utf-8")
	noStore         = newHeaderValue("Cache-Control", "no-store")
)

// requestIDHeader is reqid.Key as net/http spells it in a header map.
var requestIDHeader = http.CanonicalHeaderKey(reqid.Key)

// requestState is what the Marketplace learns of a request as it serves
// it, held in the request's context from the middleware on: the request
// id, and, once withVisitor has found it, the visitor. Each thing learned
// later is set in it, rather than given a context and a request of its
// own: Request.WithContext copies the request (some 250 bytes), and a
// page made two such copies. It is written by the request's own
// goroutine, before the handlers that read it run.
type requestState struct {
	context.Context
	// visitor is who asks for the page (see withVisitor); nil until
	// withVisitor has found it, and for a request that shows no page.
	visitor *visitor
}

type requestStateKey struct{}

// Value implements context.Context: a requestState gives itself, a
// pointer, without allocating.
func (c *requestState) Value(key any) any {
	if key == (requestStateKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// stateOf returns the requestState of the request ctx belongs to, or nil
// outside the middleware.
func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

// middleware wraps the site in what every request gets: a request id,
// security headers, a limit of maxBodyBytes on the body, an access log
// line, metrics, the route in the name of the trace's span, and recovery
// from panics.
//
// The request id comes from the X-Request-Id header when it is a valid
// one, else it is made here; it is sent back in X-Request-Id, logged, and
// passed on to every gRPC call the request makes (package rpc sends it
// as x-request-id metadata), so that one page load can be followed in the
// logs of every service.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(reqid.Key)
		if !reqid.Valid(id) {
			id = reqid.New()
		}
		h := w.Header()
		h[requestIDHeader] = []string{id}
		r = r.WithContext(&requestState{Context: reqid.With(r.Context(), id)})
		rec := &statusRecorder{ResponseWriter: w}
		for _, v := range securityHeaderValues {
			v.set(h)
		}
		if s.isSecure(r) {
			strictTransport.set(h)
		}
		// Given the server's own writer, MaxBytesReader also tells it to
		// close the connection rather than read the rest of a body that
		// is too large.
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.ErrorContext(r.Context(), "panic serving request",
					"method", r.Method, "path", loggedPath(r),
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !rec.wroteHeader {
					s.renderError(rec, r, http.StatusInternalServerError,
						"Something went wrong on our side. Please try again.")
				}
			}
			// The mux has set r.Pattern, the route that matched.
			if s.traced {
				telemetry.SetRoute(r.Context(), r.Method, r.Pattern)
			}
			s.metrics.ObserveHTTP(r.Context(), r.Method, r.Pattern, rec.statusCode(), time.Since(start))
			s.logRequest(r, rec, start, id)
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRequest writes the access log line of r. It runs for every request,
// so it passes typed attributes to telemetry.LogAttrs rather than call
// logger.InfoContext, which boxes each value, looks up its caller's
// program counter (runtime.Callers) for a source no handler of ours
// prints, and copies the attributes past the fifth to a slice of their
// own.
func (s *server) logRequest(r *http.Request, rec *statusRecorder, start time.Time, id string) {
	ctx := r.Context()
	if !s.logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	_ = telemetry.LogAttrs(ctx, s.logger, time.Now(), slog.LevelInfo, "http request", // nowhere to report a failed log write
		slog.String("method", r.Method),
		slog.String("path", loggedPath(r)),
		slog.Int("status", rec.statusCode()),
		slog.Int("bytes", rec.bytes),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", r.RemoteAddr),
		slog.String("request_id", id))
}

// loggedPath is the path of r as the log says it: the request's own, but
// for a route whose path holds a secret to those who know it (a live
// session's id), whose pattern it says instead.
func loggedPath(r *http.Request) string {
	if strings.Contains(r.Pattern, "{session}") {
		return r.Pattern
	}
	return r.URL.Path
}

// statusRecorder remembers the status and size of a response, for the log.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status = code
		r.wroteHeader = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// WriteString writes s without copying it to a []byte first, when the
// underlying writer can (net/http's can).
func (r *statusRecorder) WriteString(s string) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	n, err := io.WriteString(r.ResponseWriter, s)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
