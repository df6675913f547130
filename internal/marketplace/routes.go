package marketplace

import "net/http"

// routes registers every route of the site.
func (s *server) routes() {
	s.mux.Handle("/{$}", allowMethods(s.handleHome(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/books/{id}", allowMethods(s.handleBook(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/api/books/{id}", allowMethods(s.handleBookJSON(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/categories/{name}", allowMethods(s.handleCategory(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/live", allowMethods(s.handleLive(), http.MethodGet))
	s.mux.Handle("/live/{session}/events", allowMethods(s.handleLiveEvent(), http.MethodPost))
	s.mux.Handle("GET /healthz", handleHealthz())
	s.mux.Handle("GET /static/", s.handleStatic())
	s.mux.Handle("/", s.handleNotFound())
}
