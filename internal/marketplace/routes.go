package marketplace

import "net/http"

// routes registers every route of the site. Each client is held to its
// rate (see limit): on the pages, past it, with a 429 page, on the routes
// of the scripts with plain text. The health checks are not limited, so
// that probes are never refused, nor are the static files, which a page
// that was let through needs and which cost nothing to serve.
func (s *server) routes() {
	s.mux.Handle("/{$}", s.limitPage(allowMethods(s.handleHome(), http.MethodGet, http.MethodHead)))
	s.mux.Handle("/books/{id}", s.limitPage(allowMethods(s.handleBook(), http.MethodGet, http.MethodHead)))
	s.mux.Handle("/api/books/{id}", s.limitScript(allowMethods(s.handleBookJSON(), http.MethodGet, http.MethodHead)))
	s.mux.Handle("/categories/{name}", s.limitPage(allowMethods(s.handleCategory(), http.MethodGet, http.MethodHead)))
	s.mux.Handle("/live", s.limitScript(allowMethods(s.handleLive(), http.MethodGet)))
	s.mux.Handle("/live/{session}/events", s.limitScript(allowMethods(s.handleLiveEvent(), http.MethodPost)))
	s.mux.Handle("GET /healthz", handleHealthz())
	s.mux.Handle("GET /readyz", s.handleReadyz())
	s.mux.Handle("GET /static/", s.handleStatic())
	s.mux.Handle("/", s.limitPage(s.handleNotFound()))
}
