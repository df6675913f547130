package marketplace

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// discardWriter is a ResponseWriter that throws the page away.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkRender measures rendering alone, from data made beforehand: the
// homepage with three books, and a category page of 1,000 books. The book
// items are rendered the first time, then kept, as in the server.
func BenchmarkRender(b *testing.B) {
	assets, err := newAssets()
	if err != nil {
		b.Fatal(err)
	}
	p, err := parsePages(assets.urls)
	if err != nil {
		b.Fatal(err)
	}
	s := &server{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), pages: p, assets: assets}
	views := func(n int) []bookView {
		v := make([]bookView, n)
		for i := range v {
			v[i] = bookView{ID: int32(i + 1), Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930}
		}
		return v
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &discardWriter{header: make(http.Header)}

	b.Run("home", func(b *testing.B) {
		books := views(3)
		b.ReportAllocs()
		for b.Loop() {
			items, err := p.items.list(books)
			if err != nil {
				b.Fatal(err)
			}
			s.render(w, r, http.StatusOK, p.home, homePage{
				Layout:      s.layout(r, siteTitle, bookshop.Mystery),
				Heading:     "Mystery books you may like",
				Books:       items,
				SeeAll:      "See all mystery books",
				CategoryURL: categoryURL(bookshop.Mystery),
			})
		}
	})
	b.Run("category 1000", func(b *testing.B) {
		books := views(1000)
		b.ReportAllocs()
		for b.Loop() {
			items, err := p.items.list(books)
			if err != nil {
				b.Fatal(err)
			}
			s.render(w, r, http.StatusOK, p.category, categoryPage{
				Layout:  s.layout(r, "Mystery books · "+siteTitle, noCategory),
				Heading: "Mystery books",
				Books:   items,
			})
		}
	})
}
