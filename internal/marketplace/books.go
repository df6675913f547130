package marketplace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// livePanelSize is how many books the "you may also like" panel shows.
const livePanelSize = 4

// maxCategoryBooks is the most books a category page shows, so that a
// huge catalog cannot make one page huge; the first
// maxStockedCategoryBooks of them say how many copies are left (a call to
// Inventory for each hundred).
const (
	maxCategoryBooks        = 5000
	maxStockedCategoryBooks = 500
)

// Notices and messages about the catalog, as vague as the others: the
// details are in the log.
const (
	noticeCatalogUnavailable = "The catalog is unavailable right now. Please try again in a moment."
	noticeNothingMore        = "We have nothing more to recommend right now."
	noticeDetailsUnavailable = "We cannot show all of this book's details right now. Please try again in a moment."
	messageNoSuchBook        = "We have no book with this id."
)

// handleBook serves a book's page: the book, with a "You may also like"
// panel of other books of its category. The panel's first list comes from
// the Recommender, so the page works without JavaScript; live.js then keeps
// it up to date over /live. A path id that is not a book id gets a 400
// page, and an unknown book 404. When the Catalog cannot give the book (it
// is down, or absent, as behind the tutorial's Recommendations server), a
// book that Recommendations recommended is served with what it said of it
// (its title; no price, so no "Add to cart") and a notice; any other gets
// a 503 page. If the recommendations cannot be had, the page is served
// with a notice in the panel.
func (s *server) handleBook() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, msg := bookIDFromPath(r.PathValue("id"))
		if msg != "" {
			s.renderError(w, r, http.StatusBadRequest, msg)
			return
		}
		book, err := s.book(r.Context(), id)
		notice := ""
		switch bookshop.ErrorCode(err) {
		case "":
		case bookshop.NotFound:
			s.renderError(w, r, http.StatusNotFound, messageNoSuchBook)
			return
		default:
			// Behind the tutorial's Recommendations there is no Catalog at
			// all: every book page would warn. A warning begins an outage;
			// the pages during it are debug lines.
			level := slog.LevelDebug
			if s.catalogOutage.began(time.Now()) {
				level = slog.LevelWarn
			}
			known, ok := s.recommended.get(id)
			if !ok {
				s.logger.Log(r.Context(), level, "catalog failed; cannot serve the book page", "book", id, "err", err)
				s.renderError(w, r, http.StatusServiceUnavailable, noticeCatalogUnavailable)
				return
			}
			s.logger.Log(r.Context(), level, "catalog failed; serving the book page with what recommendations said of the book", "book", id, "err", err)
			book, notice = known, noticeDetailsUnavailable
		}

		page := bookPage{
			Layout:        s.layout(r, book.Title+" · "+siteTitle, noCategory),
			Book:          s.views(r.Context(), []bookshop.Book{book})[0],
			Notice:        notice,
			CategoryLabel: categoryLabel(book.Category),
			CategoryURL:   categoryURL(book.Category),
		}
		page.Layout.Script = s.assets.urls.LiveScript

		recs, err := s.alsoLike(r.Context(), book)
		switch bookshop.ErrorCode(err) {
		case "", bookshop.NotFound:
		default:
			s.logger.WarnContext(r.Context(), "recommendations failed; serving the book page without them",
				"book", id, "err", err)
			page.PanelNotice = noticeUnavailable
		}
		page.Recommendations = s.views(r.Context(), recs)
		if err == nil && len(recs) == 0 {
			page.PanelNotice = noticeNothingMore
		}
		s.render(w, r, http.StatusOK, s.pages.book, page)
	})
}

// alsoLike returns up to livePanelSize recommended books of book's
// category, book itself left out.
func (s *server) alsoLike(ctx context.Context, book bookshop.Book) ([]bookshop.Book, error) {
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	recs, err := s.recommender.Recommend(ctx, bookshop.RecommendRequest{
		UserID:     visitorIn(ctx).userID(),
		Category:   book.Category,
		MaxResults: livePanelSize + 1,
	})
	if err != nil {
		return nil, err
	}
	s.recommended.add(book.Category, recs)
	out := make([]bookshop.Book, 0, livePanelSize)
	for _, b := range recs {
		if b.ID != book.ID && len(out) < livePanelSize {
			out = append(out, b)
		}
	}
	return out, nil
}

// book asks the catalog for one book, within the site's deadline, and
// remembers that it exists (see knownBooks).
func (s *server) book(ctx context.Context, id int32) (bookshop.Book, error) {
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	b, err := s.catalog.Book(ctx, id)
	if err == nil {
		s.known.add(id)
	}
	return b, err
}

// bookJSON is a book as the site's scripts read it.
type bookJSON struct {
	ID    int32  `json:"id"`
	Title string `json:"title"`
	// Author and Year are left out when unknown, as for the books of the
	// tutorial's Recommendations server, which sends neither.
	Author string `json:"author,omitempty"`
	Year   int    `json:"year,omitempty"`
	// Price is null for a book the Catalog has no price for.
	Price *priceJSON `json:"price"`
	// Stock says how many copies are left ("Only 2 left"), "" when
	// unknown; SoldOut, that none are (no "Add to cart").
	Stock   string `json:"stock"`
	SoldOut bool   `json:"sold_out"`
}

// priceJSON is an amount as the site's scripts read it: integer minor
// units and a currency, never a float, and the text to show.
type priceJSON struct {
	Units     int64  `json:"units"`     // 1299
	Currency  string `json:"currency"`  // "EUR"
	Formatted string `json:"formatted"` // "€12.99"
}

// bookDetailJSON is a book with its category, for the book page's script.
type bookDetailJSON struct {
	bookJSON
	Category      string `json:"category"`       // "science_fiction"
	CategoryLabel string `json:"category_label"` // "Science fiction"
	CategoryURL   string `json:"category_url"`   // "/categories/science_fiction"
}

// handleBookJSON serves a book as JSON, for live.js to load another book
// into the page without a reload. Errors, as JSON {"error": message}: 400
// for a path id that is not a book id, 404 for an unknown book, 503 when
// the catalog cannot be reached.
func (s *server) handleBookJSON() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, msg := bookIDFromPath(r.PathValue("id"))
		if msg != "" {
			writeJSONError(w, http.StatusBadRequest, msg)
			return
		}
		book, err := s.book(r.Context(), id)
		switch bookshop.ErrorCode(err) {
		case "":
		case bookshop.NotFound:
			writeJSONError(w, http.StatusNotFound, messageNoSuchBook)
			return
		default:
			s.logger.WarnContext(r.Context(), "catalog failed; cannot serve the book", "book", id, "err", err)
			writeJSONError(w, http.StatusServiceUnavailable, noticeCatalogUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, bookDetailJSON{
			bookJSON:      s.jsonOf(r.Context(), []bookshop.Book{book})[0],
			Category:      book.Category.String(),
			CategoryLabel: categoryLabel(book.Category),
			CategoryURL:   categoryURL(book.Category),
		})
	})
}

// errEnoughBooks stops an export once the category page is full.
var errEnoughBooks = errors.New("enough books for one page")

// handleCategory serves a category's page: every book of the category, in
// id order, streamed from the catalog (at most maxCategoryBooks, with a
// note when there are more). An unknown category name has no page: 404,
// as any address with none. A category named in other capitals
// ("/categories/Mystery") is sent to its one address (301, its query
// kept), so that each page has one address, for links and for crawlers.
// If the catalog cannot be read in time, the page is served with a notice
// in place of the books.
func (s *server) handleCategory() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		cat, err := bookshop.ParseCategory(name)
		if err != nil {
			s.renderError(w, r, http.StatusNotFound,
				fmt.Sprintf("%s %q is not a category we have: choose %s.", messageNoPage, truncate(name, 40), bookshop.CategoryNames()))
			return
		}
		if name != cat.String() {
			target := categoryURL(cat)
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		heading := categoryLabel(cat) + " books"
		page := categoryPage{
			Layout:   s.layout(r, heading+" · "+siteTitle, noCategory),
			Heading:  heading,
			MaxBooks: maxCategoryBooks,
		}

		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
		defer cancel()
		var views []bookView
		status := http.StatusOK
		err = s.catalog.ExportBooks(ctx, cat, 500, func(batch []bookshop.Book) error {
			batch = batch[:min(len(batch), maxCategoryBooks-len(views))]
			if len(views) < maxStockedCategoryBooks {
				views = append(views, s.views(ctx, batch)...) // with stock labels
			} else {
				for _, b := range batch {
					views = append(views, viewOf(b))
				}
			}
			if len(views) == maxCategoryBooks {
				return errEnoughBooks
			}
			return nil
		})
		switch {
		case err == nil:
			if len(views) == 0 {
				page.Notice = noticeNoBooks
			}
		case errors.Is(err, errEnoughBooks):
			page.Truncated = true
		default:
			s.logger.WarnContext(r.Context(), "catalog failed; serving the category page without books",
				"category", cat.String(), "err", err)
			views = nil // a part of the list would mislead
			page.Notice = noticeCatalogUnavailable
			// The page, with its notice, but not as the category's books
			// (none): a crawler or a cache keeps nothing of it, as of a
			// search that could not be made.
			status = http.StatusServiceUnavailable
		}
		if page.Books, err = s.pages.items.list(views); err != nil {
			s.renderFailed(w, r, err)
			return
		}
		s.render(w, r, status, s.pages.category, page)
	})
}

// bookIDFromPath reads a book id from a path segment. It returns a message
// for the shopper when the segment is not an id: a whole number from 1 to
// 2147483647, in decimal digits without a sign or leading zeros, so that
// each book has one address ("/books/01" and "/books/+1" are not book 1's).
func bookIDFromPath(s string) (int32, string) {
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != s {
		return 0, fmt.Sprintf("%q is not a book id: a book id is a whole number from 1.", truncate(s, 40))
	}
	return int32(id), ""
}

// categoryURL is the address of a category's page.
func categoryURL(c bookshop.Category) string {
	return "/categories/" + c.String()
}

// viewOf converts a book for the templates.
func viewOf(b bookshop.Book) bookView {
	v := bookView{ID: b.ID, Title: b.Title, Author: b.Author, Year: b.Year}
	if b.Price != (bookshop.Money{}) {
		v.Price = b.Price.Format()
	}
	return v
}

// jsonOf converts books for the scripts, with what is left of each.
func (s *server) jsonOf(ctx context.Context, books []bookshop.Book) []bookJSON {
	stock := s.stockOf(ctx, books)
	out := make([]bookJSON, len(books))
	for i, b := range books {
		out[i] = jsonOf(b)
		if n, ok := stock[b.ID]; ok && out[i].Price != nil {
			out[i].Stock, out[i].SoldOut = stockLabel(n), n <= 0
		}
	}
	return out
}

// jsonOf converts a book for the scripts.
func jsonOf(b bookshop.Book) bookJSON {
	j := bookJSON{ID: b.ID, Title: b.Title, Author: b.Author, Year: b.Year}
	if b.Price != (bookshop.Money{}) {
		j.Price = &priceJSON{Units: b.Price.Units, Currency: b.Price.Currency, Formatted: b.Price.Format()}
	}
	return j
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own types are written; they always marshal.
		http.Error(w, "Something went wrong on our side. Please try again.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// errorJSON is the body of a JSON error response.
type errorJSON struct {
	Error string `json:"error"`
}

// writeJSONError writes a JSON error with a message for the shopper, which
// must hold no internal details.
func writeJSONError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorJSON{Error: message})
}
