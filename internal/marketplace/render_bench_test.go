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
	p, assets := parsedPages(b)
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
	// The checkout page of one book, its form blank (a GET's) and sent
	// back with what is wrong with two fields (a POST's).
	for _, bc := range []struct {
		name string
		form checkoutForm
		errs map[string]string
	}{
		{"checkout", blankForm, nil},
		{"checkout sent back", checkoutForm{Name: "Ada Lovelace", City: "London", Country: "GB"}, map[string]string{"line1": "Address is required.", "cvc": "Security code is required."}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fields, err := p.renderFields(bc.form, bc.errs)
				if err != nil {
					b.Fatal(err)
				}
				s.render(w, r, http.StatusOK, p.checkout, checkoutPage{
					Layout: s.layout(r, "Checkout · "+siteTitle, noCategory),
					Lines:  []cartLineView{{ID: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Price: "€9.99", Quantity: 1, Total: "€9.99"}},
					Total:  "€9.99", TotalUnits: 999, Currency: "EUR", Key: "k", Form: bc.form, Errors: bc.errs, Fields: fields,
				})
			}
		})
	}
}
