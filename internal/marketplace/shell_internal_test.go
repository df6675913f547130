package marketplace

import (
	"bytes"
	"html/template"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// TestShellsRenderAsTheTemplate checks that a homepage put together from
// its shell is, byte for byte, the page the template renders from the
// same data, for every category and notice, with and without books.
func TestShellsRenderAsTheTemplate(t *testing.T) {
	p, _ := parsedPages(t)
	s := &server{pages: p}
	shells := newShells(p.home, s.shellLayout)
	customerBar, err := renderFragment(p.header, "account-bar", accountBar{Name: "Ada <&> Lovelace", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	banner, err := renderFragment(p.header, "promo-banner", bannerData{Text: "Buy two <books>, get one free", Guest: true})
	if err != nil {
		t.Fatal(err)
	}
	views := []bookView{{ID: 1, Title: "The <Maltese> Falcon", Author: "Dashiell Hammett & co", Year: 1930}, {ID: 2, Title: "Rebecca", Author: "Daphne du Maurier", Year: 1938}}
	items, err := p.items.list(views)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := p.items.each(nil, views)
	if err != nil {
		t.Fatal(err)
	}
	for _, cat := range bookshop.Categories() {
		for _, notice := range []string{"", noticeNoBooks, noticeUnavailable} {
			for _, books := range []bool{true, false} {
				for _, bar := range []template.HTML{p.guestBar, customerBar} {
					key := shellKey{category: cat, notice: notice, books: books}
					lay := s.shellLayout(cat)
					lay.Account = bar
					page := homePage{
						Layout:      lay,
						Banner:      banner,
						Heading:     categoryLabel(cat) + " books you may like",
						Notice:      notice,
						SeeAll:      "See all " + strings.ToLower(categoryLabel(cat)) + " books",
						CategoryURL: categoryURL(cat),
					}
					if books {
						page.Books = items
					}
					var want bytes.Buffer
					if err := p.home.ExecuteTemplate(&want, "layout", page); err != nil {
						t.Fatal(err)
					}
					sh, err := shells.get(key)
					if err != nil {
						t.Fatalf("shell %+v: %v", key, err)
					}
					rec := httptest.NewRecorder()
					if books {
						sh.write(rec, bar, banner, parts)
					} else {
						sh.write(rec, bar, banner, nil)
					}
					if got := rec.Body.String(); got != want.String() {
						t.Errorf("homepage %+v from its shell differs from the template's:\n%s\nwant:\n%s", key, got, want.String())
					}
					if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(want.Len()) {
						t.Errorf("homepage %+v: Content-Length %s, want %d", key, cl, want.Len())
					}
				}
			}
		}
	}
}
