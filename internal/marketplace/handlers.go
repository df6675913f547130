package marketplace

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// siteTitle is the homepage's title, the tutorial's.
const siteTitle = "Online Books For You"

// recommendationsShown is how many books the homepage shows, as in the
// tutorial.
const recommendationsShown = 3

// Notices shown in place of recommendations. Deliberately vague: the
// details are in the log, not on the page.
const (
	noticeUnavailable = "Recommendations are unavailable right now. Please try again in a moment."
	noticeNoBooks     = "We have no books in this category right now. Please try another one."
)

// handleHome serves the homepage: recommended books of the category named
// by the query parameter "category" (mystery when absent). A bad query gets
// a 400 page. If the recommendations cannot be had in time, the page is
// still served, with a notice in their place.
func (s *server) handleHome() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cat, msg := categoryFromQuery(r.URL.RawQuery)
		if msg != "" {
			s.renderError(w, r, http.StatusBadRequest, msg)
			return
		}

		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
		defer cancel()
		books, err := s.recommender.Recommend(ctx, bookshop.RecommendRequest{
			UserID:     visitorOf(r).userID(),
			Category:   cat,
			MaxResults: recommendationsShown,
		})
		s.recommended.add(cat, books)

		var (
			viewBuf [recommendationsShown]bookView
			buf     [recommendationsShown]template.HTML
		)
		items, renderErr := s.pages.items.each(buf[:0], s.appendViews(r.Context(), viewBuf[:0], books))
		if renderErr != nil {
			s.renderFailed(w, r, renderErr)
			return
		}
		key := shellKey{category: cat, books: len(items) > 0}
		switch bookshop.ErrorCode(err) {
		case "":
		case bookshop.NotFound:
			key.notice = noticeNoBooks
		default:
			s.logger.WarnContext(r.Context(), "recommendations failed; serving the page without them",
				"category", cat.String(), "err", err)
			key.notice = noticeUnavailable
		}
		sh, renderErr := s.homeShells.get(key)
		if renderErr != nil {
			s.renderFailed(w, r, renderErr)
			return
		}
		sh.write(w, s.accountBar(r), s.banner(r.Context()), items)
	})
}

// categoryFromQuery reads the category of a homepage query string. It
// returns a message for the shopper when the query is not one we accept.
func categoryFromQuery(rawQuery string) (bookshop.Category, string) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, "The address has a malformed query string."
	}
	values, ok := q["category"]
	switch {
	case !ok:
		return bookshop.Mystery, ""
	case len(values) != 1:
		return 0, fmt.Sprintf("Choose one category, not %d.", len(values))
	}
	cat, err := bookshop.ParseCategory(values[0])
	if err != nil {
		return 0, fmt.Sprintf("%q is not a category we have. Choose %s.", truncate(values[0], 40), bookshop.CategoryNames())
	}
	return cat, ""
}

// handleHealthz answers that the web server is alive.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// messageNoPage is what the 404 page says of an address with no page.
const messageNoPage = "There is no page at this address."

// handleNotFound serves the 404 page for every path no other route takes.
func (s *server) handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusNotFound, messageNoPage)
	})
}

// allowPageMethods is allowMethods for a page: its 405 is the error page,
// with the visitor's header.
func (s *server) allowPageMethods(h http.Handler, methods ...string) http.Handler {
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(methods, r.Method) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", allow)
		s.renderError(w, r, http.StatusMethodNotAllowed, messageMethodNotAllowed)
	})
}

// messageMethodNotAllowed answers a request of a method a page does not
// take: a form sent to a page that only shows, or a link to one that only
// acts.
const messageMethodNotAllowed = "This page cannot be opened that way. Please use the links and buttons of our pages."

// allowMethods answers 405, with an Allow header, to any method but those
// given: for the routes of the scripts (pages use allowPageMethods).
func allowMethods(h http.Handler, methods ...string) http.Handler {
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
}

// categoryLabel is a category's name for people.
func categoryLabel(c bookshop.Category) string {
	switch c {
	case bookshop.Mystery:
		return "Mystery"
	case bookshop.ScienceFiction:
		return "Science fiction"
	case bookshop.SelfHelp:
		return "Self-help"
	default:
		return "Other"
	}
}

// truncate shortens s to at most n runes, for echoing input back safely.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
