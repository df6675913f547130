package marketplace

import "net/http"

// routes registers every route of the site.
func (s *server) routes() {
	s.mux.Handle("/{$}", allowMethods(s.handleHome(), http.MethodGet, http.MethodHead))
	s.mux.Handle("GET /healthz", handleHealthz())
	s.mux.Handle("GET /static/", s.handleStatic())
	s.mux.Handle("/", s.handleNotFound())
}
