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

// accountMarker stands for the account bar in a shell.
const accountMarker template.HTML = "<!--bookshop:account-->"

// shellKey names a shell.
type shellKey struct {
	category bookshop.Category
	notice   string
	books    bool // whether the page lists books: without any, there is no list
}

// shell is a homepage around its account bar and its list of books.
type shell struct {
	head, middle, tail []byte // before the bar, between it and the books, after them
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
	rendered := buf.Bytes()
	if n := bytes.Count(rendered, []byte(accountMarker)); n != 1 {
		return nil, fmt.Errorf("render the homepage: the account bar's marker appears %d times", n)
	}
	if n := bytes.Count(rendered, []byte(booksMarker)); n != 1 && key.books || n != 0 && !key.books {
		return nil, fmt.Errorf("render the homepage: the books' marker appears %d times", n)
	}
	head, rest, _ := bytes.Cut(rendered, []byte(accountMarker))
	middle, tail, found := bytes.Cut(rest, []byte(booksMarker))
	if !found {
		middle, tail = rest, nil
	}
	sh, _ := s.byKey.LoadOrStore(key, &shell{head: head, middle: middle, tail: tail})
	return sh.(*shell), nil
}

// write sends a homepage: sh around the account bar and the items.
func (sh *shell) write(w http.ResponseWriter, account, items template.HTML) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(sh.head)+len(account)+len(sh.middle)+len(items)+len(sh.tail)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(sh.head)
	_, _ = io.WriteString(w, string(account))
	_, _ = w.Write(sh.middle)
	_, _ = io.WriteString(w, string(items))
	_, _ = w.Write(sh.tail)
}
