package marketplace

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// searchPageSize is how many books a page of search results shows.
const searchPageSize = 20

// maxSearchPage is the deepest page of results there is: the Catalog
// pages through at most bookshop.MaxSearchOffset results.
const maxSearchPage = bookshop.MaxSearchOffset/searchPageSize + 1

// searchWindow is how many pages the page links show either side of the
// current one, besides the first and the last.
const searchWindow = 2

// Notices of the search page, as vague as the others: the details are in
// the log.
const (
	noticeSearchUnavailable = "Search is unavailable right now. Please try again in a moment."
	noticeNoResults         = "No book's title or author has every word you searched for. Check the spelling, or use fewer words."
)

// searchPage is the data of search.html.
type searchPage struct {
	Layout  layout
	Heading string
	// Message says what is wrong with the search, on a 400 page.
	Message string
	Notice  string
	Books   template.HTML // the list's items: fragments "book-item"
	Start   int           // the number of the first book of the list
	Prev    string        // the previous page's URL, or ""
	Next    string        // the next page's URL, or ""
	Pages   []pageLink
}

// pageLink is an entry of the links to the pages of results: a page, or
// a gap between pages.
type pageLink struct {
	Number  int
	URL     string
	Current bool
	Gap     bool
}

// handleSearch serves /search?q=...&page=N: the books whose title or
// author has every word of q, best first, searchPageSize a page, as the
// Catalog ranks them. An empty, over-long or malformed query, or a page
// out of range, gets a 400 page that says what is wrong; a page past the
// last result a 404 page that links to the others; a Catalog that cannot
// answer a 503 page with a notice. Every one of them has the search box,
// holding the query.
func (s *server) handleSearch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		text, num, msg := searchFromQuery(r.URL.RawQuery)
		page := searchPage{Layout: s.layout(r, "Search · "+siteTitle, noCategory), Heading: "Search"}
		// The box shows what was searched for, cut to what may be.
		page.Layout.Query = truncateRunes(strings.ToValidUTF8(strings.TrimSpace(text), "\uFFFD"), bookshop.MaxSearchLen)
		if msg != "" {
			page.Message = msg
			s.render(w, r, http.StatusBadRequest, s.pages.search, page)
			return
		}
		quoted := "“" + truncate(page.Layout.Query, 60) + "”"
		page.Layout.Title = quoted + " · Search · " + siteTitle

		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
		defer cancel()
		offset := (num - 1) * searchPageSize
		res, err := s.searcher.Search(ctx, bookshop.SearchQuery{Text: text, Offset: offset, Limit: searchPageSize})
		switch bookshop.ErrorCode(err) {
		case "":
		case bookshop.Invalid:
			// The rules are the kernel's, checked above: the Catalog
			// should not find more wrong. Its message is for shoppers.
			page.Message = bookshop.ErrorMessage(err)
			s.render(w, r, http.StatusBadRequest, s.pages.search, page)
			return
		default:
			s.logger.WarnContext(r.Context(), "search failed; serving the page without results", "err", err)
			page.Heading = "Search for " + quoted
			page.Notice = noticeSearchUnavailable
			s.render(w, r, http.StatusServiceUnavailable, s.pages.search, page)
			return
		}

		status := http.StatusOK
		last := min((res.Total+searchPageSize-1)/searchPageSize, maxSearchPage)
		switch {
		case res.Total == 0:
			page.Heading = "No results for " + quoted
			page.Notice = noticeNoResults
		case len(res.Books) == 0:
			// A page past the last: say where the results end.
			status = http.StatusNotFound
			page.Heading = resultCount(res.Total) + " for " + quoted
			page.Notice = fmt.Sprintf("There is no page %d: the results end on page %d.", num, last)
		default:
			page.Heading = resultCount(res.Total) + " for " + quoted
		}
		if page.Books, err = s.pages.items.list(s.views(r.Context(), res.Books)); err != nil {
			s.renderFailed(w, r, err)
			return
		}
		page.Start = offset + 1
		page.Prev, page.Next, page.Pages = pageLinks(text, num, last)
		s.render(w, r, status, s.pages.search, page)
	})
}

// searchFromQuery reads the text and the page number of a search's query
// string. It returns a message for the shopper when they are not ones we
// accept.
func searchFromQuery(rawQuery string) (text string, page int, msg string) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", 0, "The address has a malformed query string."
	}
	switch values := q["q"]; len(values) {
	case 0:
	case 1:
		text = values[0]
	default:
		return values[0], 0, "Search for one thing at a time."
	}
	if msg := bookshop.CheckSearchText(text); msg != "" {
		return text, 0, msg
	}
	switch values := q["page"]; len(values) {
	case 0:
		return text, 1, ""
	case 1:
		n, err := strconv.Atoi(values[0])
		if err != nil || n < 1 || n > maxSearchPage || strconv.Itoa(n) != values[0] {
			return text, 0, fmt.Sprintf("%q is not a page of results: pages are numbered from 1 to %d.", truncate(values[0], 40), maxSearchPage)
		}
		return text, n, ""
	default:
		return text, 0, fmt.Sprintf("Choose one page, not %d.", len(values))
	}
}

// searchURL is the address of a page of the results of text.
func searchURL(text string, page int) string {
	u := "/search?q=" + url.QueryEscape(text)
	if page > 1 {
		u += "&page=" + strconv.Itoa(page)
	}
	return u
}

// pageLinks returns the links from page current of text's results, of
// last pages, to the previous and next pages ("" for none), and to the
// pages around it, the first and the last, with gaps between: at most
// 2*searchWindow+5 entries, however many pages there are. There are none
// when there is one page or none. From a page past the last, the previous
// page is the last.
func pageLinks(text string, current, last int) (prev, next string, pages []pageLink) {
	if last <= 1 && current <= 1 {
		return "", "", nil
	}
	if current > 1 {
		prev = searchURL(text, max(1, min(current-1, last)))
	}
	if current < last {
		next = searchURL(text, current+1)
	}
	around := min(current, last)
	from, to := max(1, around-searchWindow), min(last, around+searchWindow)
	add := func(n int) {
		pages = append(pages, pageLink{Number: n, URL: searchURL(text, n), Current: n == current})
	}
	if from > 1 {
		add(1)
		if from > 2 {
			pages = append(pages, pageLink{Gap: true})
		}
	}
	for n := from; n <= to; n++ {
		add(n)
	}
	if to < last {
		if to < last-1 {
			pages = append(pages, pageLink{Gap: true})
		}
		add(last)
	}
	return prev, next, pages
}

// resultCount says how many results there are: "1 result", "1,234
// results".
func resultCount(n int) string {
	if n == 1 {
		return "1 result"
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " results"
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
