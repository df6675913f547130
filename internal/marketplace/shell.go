package marketplace

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// A homepage differs from the next of its category only by its list of
// books and the header's account bar: everything else (the head, the
// navigation, the heading, the link to the category, a notice) depends on
// the category and the notice alone. So the page around them, its shell,
// is rendered once for each category and notice, by html/template with
// markers where the bar and the books go, and kept as the bytes between
// the markers; a homepage is then those parts around the visitor's bar
// (rendered once for guests, see accountBar) and the list's items,
// themselves rendered once per book (fragments.go). Executing the page's template was a fifth of the
// Marketplace's CPU time per homepage, most of it html/template calling
// its escapers by reflection, with allocations, for every value printed.

// booksMarker stands for the books in a shell while it is rendered. It is
// template.HTML, so html/template writes it as it is.
const booksMarker template.HTML = "<!--bookshop:books-->"

// accountMarker and bannerMarker stand for the account bar and the
// promotion's banner in a shell.
const (
	accountMarker template.HTML = "<!--bookshop:account-->"
	bannerMarker  template.HTML = "<!--bookshop:banner-->"
)

// shellKey names a shell.
type shellKey struct {
	category bookshop.Category
	notice   string
	books    bool // whether the page lists books: without any, there is no list
}

// shell is a homepage around its slots: the account bar, the banner and
// the list of books, in that order. parts holds the bytes before, between
// and after them: one more than the slots.
type shell struct {
	parts [4][]byte
}

// shells renders and keeps the shells of the homepage. There are a few
// (categories x notices x with or without books).
type shells struct {
	t      *template.Template
	layout func(cat bookshop.Category) layout
	byKey  sync.Map // shellKey -> *shell; written a few times, read on every homepage
}

func newShells(t *template.Template, layout func(bookshop.Category) layout) *shells {
	return &shells{t: t, layout: layout}
}

// get returns the shell of key, rendering it the first time. (Two requests
// may both render a new one; they render the same bytes.)
func (s *shells) get(key shellKey) (*shell, error) {
	if sh, ok := s.byKey.Load(key); ok {
		return sh.(*shell), nil
	}
	page := homePage{
		Layout:      s.layout(key.category),
		Banner:      bannerMarker,
		Heading:     categoryLabel(key.category) + " books you may like",
		Notice:      key.notice,
		SeeAll:      "See all " + strings.ToLower(categoryLabel(key.category)) + " books",
		CategoryURL: categoryURL(key.category),
	}
	if key.books {
		page.Books = booksMarker
	}
	var buf bytes.Buffer
	if err := s.t.ExecuteTemplate(&buf, "layout", page); err != nil {
		return nil, fmt.Errorf("render the homepage: %w", err)
	}
	rest := buf.Bytes()
	var sh shell
	for i, marker := range []template.HTML{accountMarker, bannerMarker, booksMarker} {
		want := 1
		if marker == booksMarker && !key.books {
			want = 0
		}
		if n := bytes.Count(rest, []byte(marker)); n != want {
			return nil, fmt.Errorf("render the homepage: the marker %s appears %d times, want %d", marker, n, want)
		}
		before, after, found := bytes.Cut(rest, []byte(marker))
		if !found {
			before, after = rest, nil
		}
		sh.parts[i], rest = before, after
	}
	sh.parts[3] = rest
	stored, _ := s.byKey.LoadOrStore(key, &sh)
	return stored.(*shell), nil
}

// write sends a homepage: sh around the account bar, the banner and the
// list of the items, each on a line of its own, as bookItems.list joins
// them, written one after the other rather than joined first.
func (sh *shell) write(w http.ResponseWriter, account, banner template.HTML, items []template.HTML) {
	n := len(account) + len(banner)
	for _, p := range sh.parts {
		n += len(p)
	}
	for _, item := range items {
		n += len(itemSep) + len(item)
	}
	h := w.Header()
	htmlContentType.set(h)
	h.Set("Content-Length", strconv.Itoa(n))
	noStore.set(h)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(sh.parts[0])
	_, _ = io.WriteString(w, string(account))
	_, _ = w.Write(sh.parts[1])
	_, _ = io.WriteString(w, string(banner))
	_, _ = w.Write(sh.parts[2])
	for _, item := range items {
		_, _ = io.WriteString(w, itemSep)
		_, _ = io.WriteString(w, string(item))
	}
	_, _ = w.Write(sh.parts[3])
}
