package marketplace

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"sync"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages are the parsed templates, one per page, each with the layout,
// and the parts of pages rendered once (see fragments.go).
type pages struct {
	home     *template.Template
	book     *template.Template
	category *template.Template
	error    *template.Template
	search   *template.Template
	signIn   *template.Template
	account  *template.Template
	cart     *template.Template
	checkout *template.Template
	orders   *template.Template
	order    *template.Template
	// header renders the account bar of templates/header.html; guestBar
	// is the bar of a guest with no cart, and unknownBar that of a page
	// served before the visitor is known, each rendered once.
	header     *template.Template
	guestBar   template.HTML
	unknownBar template.HTML
	bars       *accountBars
	// blankFields are the fields of the checkout form as a checkout page
	// first shows them (see renderFields).
	blankFields template.HTML
	*fragments
}

// parsePages parses the embedded templates once, at start, and renders
// the fragments, whose links are urls.
func parsePages(urls assetURLs) (*pages, error) {
	layout, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	// page parses the page name, with the parts it shares with others,
	// from the files also, if any.
	page := func(name string, also ...string) (*template.Template, error) {
		t, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		for _, file := range append([]string{name}, also...) {
			if _, err := t.ParseFS(templateFS, "templates/"+file); err != nil {
				return nil, fmt.Errorf("parse %s: %w", file, err)
			}
		}
		return t, nil
	}
	var p pages
	if p.home, err = page("home.html"); err != nil {
		return nil, err
	}
	if p.book, err = page("book.html", "fragments.html"); err != nil { // its panel shows "book-meta"
		return nil, err
	}
	if p.category, err = page("category.html"); err != nil {
		return nil, err
	}
	if p.error, err = page("error.html"); err != nil {
		return nil, err
	}
	if p.search, err = page("search.html"); err != nil {
		return nil, err
	}
	if p.signIn, err = page("signin.html"); err != nil {
		return nil, err
	}
	if p.account, err = page("account.html"); err != nil {
		return nil, err
	}
	if p.cart, err = page("cart.html"); err != nil {
		return nil, err
	}
	if p.checkout, err = page("checkout.html"); err != nil {
		return nil, err
	}
	if p.orders, err = page("orders.html"); err != nil {
		return nil, err
	}
	if p.order, err = page("order.html"); err != nil {
		return nil, err
	}
	var blank checkoutFieldsets
	blank.Address, blank.Card = checkoutFields(blankForm, nil)
	if p.blankFields, err = renderFragment(p.checkout, "checkout-fields", blank); err != nil {
		return nil, err
	}
	if p.fragments, err = parseFragments(urls); err != nil {
		return nil, err
	}
	if p.header, err = template.ParseFS(templateFS, "templates/header.html"); err != nil {
		return nil, fmt.Errorf("parse header.html: %w", err)
	}
	if p.guestBar, err = renderFragment(p.header, "account-bar", accountBar{}); err != nil {
		return nil, err
	}
	if p.unknownBar, err = renderFragment(p.header, "account-bar", accountBar{Unknown: true}); err != nil {
		return nil, err
	}
	p.bars = &accountBars{t: p.header}
	// Every page may add to the cart: its script goes in every head.
	cartScript, err := renderFragment(p.header, "cart-script", urls.CartScript)
	if err != nil {
		return nil, err
	}
	p.head += "\n" + cartScript
	return &p, nil
}

// formField is one field of a form, as the template "field" of
// checkout.html shows it: its label, its value, and what is wrong with it;
// Numeric for a field of digits (the phone's keyboard shows digits).
type formField struct {
	Name, Label, Value, Autocomplete string
	Numeric                          bool
	// Error is what is wrong with the field, shown beside it; ErrorID is
	// the id of the message that says what is wrong with it, its own or
	// another field's (a card that has expired is its month and its year
	// together), and "" when nothing is.
	Error, ErrorID string
}

// layout is what every page shows around its content. Each page's data
// holds it as the field Layout, not embedded: text/template finds the
// fields of an embedded struct by a slow search (reflect's
// FieldByNameFunc), with allocations, for every action on every page.
type layout struct {
	Title   string
	Head    template.HTML // the head's links (fragment "head-links")
	Nav     template.HTML // the category navigation (fragment "nav")
	Account template.HTML // who is signed in, and the cart (see accountBar)
	Query   string        // the text of the header's search box: a search page's query
	Script  string        // URL of the page's script, if it has one
}

// categoryLink is one entry of the category navigation.
type categoryLink struct {
	Label   string
	URL     string
	Current bool
}

// homePage is the data of home.html.
type homePage struct {
	Layout      layout
	Banner      template.HTML // the promotion's banner, or ""
	Heading     string
	Notice      string
	Books       template.HTML // the list's items: fragments "book-item"
	SeeAll      string        // "See all mystery books"
	CategoryURL string
}

// bookPage is the data of book.html: one book, and the "you may also like"
// panel.
type bookPage struct {
	Layout          layout
	Book            bookView
	Notice          string // when the book's details could not be had
	CategoryLabel   string
	CategoryURL     string
	Recommendations []bookView
	PanelNotice     string
}

// categoryPage is the data of category.html: every book of a category.
type categoryPage struct {
	Layout    layout
	Heading   string
	Notice    string
	Books     template.HTML // the list's items: fragments "book-item"
	Truncated bool          // the category has more books than the page shows
	MaxBooks  int
}

// bookView is one book as the pages show it. Author and Year are zero
// when unknown (the tutorial's Recommendations server sends neither), and
// the pages then say nothing of them, or "unknown".
type bookView struct {
	ID     int32
	Title  string
	Author string
	Year   int
	// Price is the price for a shopper, "€12.99"; "" for a book the
	// Catalog has no price for, which shows none.
	Price string
	// Stock says how many copies are left ("Only 2 left"); "" when
	// Inventory could not say. SoldOut hides "Add to cart".
	Stock   string
	SoldOut bool
}

// errorPage is the data of error.html.
type errorPage struct {
	Layout  layout
	Heading string
	Message string
	// SignOut shows the sign-out button: for /signout opened as a page.
	SignOut bool
}

// layout returns the layout data of r's page, titled title, with current
// marked in the navigation (noCategory for none), and the visitor's
// account bar.
func (s *server) layout(r *http.Request, title string, current bookshop.Category) layout {
	return layout{Title: title, Head: s.pages.head, Nav: s.pages.navFor(current), Account: s.accountBar(r)}
}

// bufPool holds the buffers pages are rendered into, used again from page
// to page.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxKeptPageBuffer is the largest buffer put back in bufPool: a page
// larger than most (a long cart, a search's last page) would otherwise
// leave its buffer in the pool, and in the live heap, for pages that need
// a tenth of it.
const maxKeptPageBuffer = 64 << 10

// render executes t with data into a buffer and, only if that succeeds,
// writes it with the given status, so that a template error never sends
// half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, data any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxKeptPageBuffer {
			bufPool.Put(buf)
		}
	}()
	if err := t.ExecuteTemplate(buf, "layout", data); err != nil {
		s.renderFailed(w, r, err)
		return
	}
	h := w.Header()
	htmlContentType.set(h)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	noStore.set(h)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderFailed answers 500, in plain text, for a page that could not be
// rendered: a bug in a template, which the log tells.
func (s *server) renderFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.ErrorContext(r.Context(), "render page", "err", err)
	http.Error(w, "Something went wrong on our side. Please try again.", http.StatusInternalServerError)
}

// renderError serves the error page with status and a message for the
// shopper, which must hold no internal details.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, status int, message string) {
	heading := http.StatusText(status)
	s.render(w, r, status, s.pages.error, errorPage{
		Layout:  s.layout(r, heading+" · "+siteTitle, noCategory),
		Heading: heading,
		Message: message,
	})
}

// assets are the embedded static files, served under /static/ with a
// version in their URL so that browsers may cache them for good.
type assets struct {
	fs      fs.FS
	version map[string]string // file name -> content hash
	urls    assetURLs
}

// assetURLs are the versioned URLs the pages link to.
type assetURLs struct {
	Stylesheet string
	Favicon    string
	LiveScript string
	CartScript string
}

func newAssets() (*assets, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	a := &assets{fs: sub, version: make(map[string]string)}
	url := func(name string) (string, error) {
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			return "", fmt.Errorf("read static file: %w", err)
		}
		sum := sha256.Sum256(b)
		v := hex.EncodeToString(sum[:6])
		a.version[name] = v
		return "/static/" + name + "?v=" + v, nil
	}
	if a.urls.Stylesheet, err = url("style.css"); err != nil {
		return nil, err
	}
	if a.urls.Favicon, err = url("favicon.svg"); err != nil {
		return nil, err
	}
	if a.urls.LiveScript, err = url("live.js"); err != nil {
		return nil, err
	}
	if a.urls.CartScript, err = url("cart.js"); err != nil {
		return nil, err
	}
	return a, nil
}

// handleStatic serves the embedded static files. A request that names the
// current version may be cached for a year; others must revalidate.
func (s *server) handleStatic() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(s.assets.fs))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path[len("/static/"):]
		v, ok := s.assets.version[name]
		if !ok {
			s.handleNotFound().ServeHTTP(w, r)
			return
		}
		if r.URL.Query().Get("v") == v {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
