package marketplace

import (
	"fmt"
	"html/template"
	"strings"
	"sync"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Rendering was most of the cost of a page: html/template escapes every
// value a page prints through functions it calls by reflection, a
// microsecond or so each, and a homepage printed some forty values, in
// the order of what the rest of a page load costs. Most of them never
// change, so the parts of templates/fragments.html are rendered once and
// kept: the head's links and the navigation at start (see
// parseFragments), and each book's list item the first time a page shows
// it (see bookItems), a list's items passed to the page as one value. The
// escaping is html/template's all the same; only its results are reused.

// fragments are the parts of pages rendered once.
type fragments struct {
	head  template.HTML                       // the links of every page's head
	nav   map[bookshop.Category]template.HTML // by current category; noCategory for none
	items *bookItems
}

// noCategory marks no category as current in the navigation.
const noCategory bookshop.Category = -1

// parseFragments parses templates/fragments.html and renders the parts
// that are the same on every page.
func parseFragments(urls assetURLs) (*fragments, error) {
	t, err := template.ParseFS(templateFS, "templates/fragments.html")
	if err != nil {
		return nil, fmt.Errorf("parse fragments.html: %w", err)
	}
	head, err := renderFragment(t, "head-links", urls)
	if err != nil {
		return nil, err
	}
	f := &fragments{head: head, nav: make(map[bookshop.Category]template.HTML), items: &bookItems{t: t}}
	for _, current := range append(bookshop.Categories(), noCategory) {
		var links []categoryLink
		for _, c := range bookshop.Categories() {
			links = append(links, categoryLink{Label: categoryLabel(c), URL: "/?category=" + c.String(), Current: c == current})
		}
		if f.nav[current], err = renderFragment(t, "nav", links); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// navFor returns the navigation with current marked, or none for a
// category that is not one.
func (f *fragments) navFor(current bookshop.Category) template.HTML {
	if nav, ok := f.nav[current]; ok {
		return nav
	}
	return f.nav[noCategory]
}

// renderFragment executes the template name of t with data.
func renderFragment(t *template.Template, name string, data any) (template.HTML, error) {
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	// The output of html/template, escaped for the context it is put in,
	// in memory of its own size: the builder's, grown by doubling, may
	// be twice that, and what is rendered here is kept (bookItems,
	// accountBars).
	return template.HTML(strings.Clone(b.String())), nil
}

// The bounds of the book items kept: a number, and the bytes of their
// text (each item's, and the title, author, price and stock label it is
// kept by). An item of a usual book takes some 500 bytes, so the bytes
// hold a category page of 5,000 books; one of the longest titles and
// authors that the catalog allows takes up to 7 KB, and the number alone
// would have let such items take 70 MiB (docs/capacity.md).
const (
	maxBookItems     = 10_000
	maxBookItemBytes = 3 << 20
)

// bookItems renders books as list items ("book-item") and keeps what it
// rendered, by book: an item depends on nothing else. Past maxBookItems
// items or maxBookItemBytes it starts again empty, so that a catalog that
// changes, or category pages of thousands of books, cannot make it grow
// without bound. It is safe for concurrent use.
type bookItems struct {
	t *template.Template

	mu    sync.RWMutex
	items map[bookView]template.HTML
	bytes int // of the items and of their keys' text
}

// list returns the items of books, in order, each on a line of its own:
// one value for the page's template to print, not one per book.
func (c *bookItems) list(books []bookView) (template.HTML, error) {
	var buf [8]template.HTML
	items, err := c.each(buf[:0], books)
	if err != nil {
		return "", err
	}
	n := 0
	for _, item := range items {
		n += len(itemSep) + len(item)
	}
	var out strings.Builder
	out.Grow(n)
	for _, item := range items {
		out.WriteString(itemSep)
		out.WriteString(string(item))
	}
	return template.HTML(out.String()), nil
}

// itemSep goes before each item of a list.
const itemSep = "\n  "

// each appends the item of each of books to dst, in order, and returns
// it: the parts of the list that list joins, for a writer that writes them
// one after the other (the homepage's shell) and so needs no copy of
// them all.
func (c *bookItems) each(dst []template.HTML, books []bookView) ([]template.HTML, error) {
	for _, b := range books {
		c.mu.RLock()
		item, ok := c.items[b]
		c.mu.RUnlock()
		if !ok {
			var err error
			if item, err = renderFragment(c.t, "book-item", b); err != nil {
				return nil, err
			}
			n := len(item) + len(b.Title) + len(b.Author) + len(b.Price) + len(b.Stock)
			c.mu.Lock()
			if c.items == nil || len(c.items) >= maxBookItems || c.bytes+n > maxBookItemBytes {
				c.items, c.bytes = make(map[bookView]template.HTML), 0
			}
			if _, ok := c.items[b]; !ok {
				c.items[b] = item
				c.bytes += n
			}
			c.mu.Unlock()
		}
		dst = append(dst, item)
	}
	return dst, nil
}
