package marketplace

import "net/http"

// routes registers every route of the site. Each client is held to its
// rate (see limit): on the pages, past it, with a 429 page, on the routes
// of the scripts with plain text. The health checks are not limited, so
// that probes are never refused, nor are the static files, which a page
// that was let through needs and which cost nothing to serve.
//
// The pages, and the routes that change the cart or the account, first
// find who is asking (withVisitor), so that their error pages (a method
// they do not take, a path with no page) show the shopper's own header;
// a request refused before that (past the rate limit, or from another
// site) gets a header that names no one. Every POST must come from the
// site's own pages: NewServer puts the whole mux behind Go's
// http.CrossOriginProtection, which refuses a request whose browser says
// (Sec-Fetch-Site, or Origin) that another site sent it. That needs no
// token in the forms, so pages and their parts stay the same for every
// visitor and are rendered once; see docs/security.md.
func (s *server) routes() {
	page := func(h http.Handler, methods ...string) http.Handler {
		return s.limitPage(s.withVisitor(s.allowPageMethods(h, methods...)))
	}
	s.mux.Handle("/{$}", page(s.handleHome(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/books/{id}", page(s.handleBook(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/api/books/{id}", s.limitScript(allowMethods(s.handleBookJSON(), http.MethodGet, http.MethodHead)))
	s.mux.Handle("/categories/{name}", page(s.handleCategory(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/search", page(s.handleSearch(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/live", s.limitScript(allowMethods(s.withVisitor(s.handleLive()), http.MethodGet)))
	s.mux.Handle("/live/{session}/events", s.limitScript(allowMethods(s.handleLiveEvent(), http.MethodPost)))
	s.mux.Handle("/signin", page(s.handleSignIn(), http.MethodGet, http.MethodHead, http.MethodPost))
	s.mux.Handle("/signup", page(s.handleSignUp(), http.MethodGet, http.MethodHead, http.MethodPost))
	s.mux.Handle("/signout", s.limitPage(s.withVisitor(s.handleSignOut()))) // POST; its own 405
	s.mux.Handle("/account", page(s.handleAccount(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/cart", page(s.handleCart(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/cart/items", page(s.handleAddToCart(), http.MethodPost))
	s.mux.Handle("/cart/items/{id}", page(s.handleSetQuantity(), http.MethodPost))
	s.mux.Handle("/checkout", page(byMethod(s.handleCheckout(), s.handlePlaceOrder()), http.MethodGet, http.MethodHead, http.MethodPost))
	s.mux.Handle("/orders", page(s.handleOrders(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/orders/{id}", page(s.handleOrder(), http.MethodGet, http.MethodHead))
	// Not "GET /healthz" and the like: a pattern with a method leaves the
	// others to "/", which would answer them 404 rather than 405.
	s.mux.Handle("/healthz", allowMethods(handleHealthz(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/readyz", allowMethods(s.handleReadyz(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/static/", allowMethods(s.handleStatic(), http.MethodGet, http.MethodHead))
	s.mux.Handle("/", s.limitPage(s.withVisitor(s.handleNotFound())))
}

// byMethod returns the handler of a page that shows a form (get, for GET
// and HEAD) and takes it (post, for POST), at one path, so that the page
// answers any other method with its 405 (see allowPageMethods) rather than
// leaving it to the catch-all's 404.
func byMethod(get, post http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			post.ServeHTTP(w, r)
			return
		}
		get.ServeHTTP(w, r)
	})
}
