package search

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// FuzzSearch indexes a title and an author of any text beside the
// generated books, and searches for any text: nothing panics, folding is
// valid text and stable, a valid query finds at most the books there are,
// each once, and a book is found by its own words.
func FuzzSearch(f *testing.F) {
	for _, seed := range [][3]string{
		{"Brontë", "Emily Brontë", "bronte"},
		{"Gödel, Escher, Bach", "Douglas Hofstadter", "GÖDEL escher"},
		{"Ærø", "Ann Lee", "aero"},
		{"Die Straße", "Hermann Müller", "strasse"},
		{"Ender's Game", "Orson Scott Card", "ender’s"},
		{"東京物語", "小津安二郎", "東京"},
		{"हिन्दी", "प्रेमचंद", "हिन"},
		{"ﬁsh", "E=mc²", "fi"},
		{"'''", "---", "'"},
		{"a\u0301\u0301\u0301", "\u037a", "\u037a"},
		{"x\xffy", "\xc3", "x"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	books := generate(500, 9)
	f.Fuzz(func(t *testing.T, title, author, query string) {
		for _, s := range []string{title, author, query} {
			folded := Fold(s)
			if !utf8.ValidString(folded) && utf8.ValidString(s) {
				t.Fatalf("Fold(%q) = %q, not valid UTF-8", s, folded)
			}
			if again := Fold(folded); again != folded {
				t.Fatalf("Fold(Fold(%q)) = %q, want %q", s, again, folded)
			}
			if folded != "" && (!strings.HasSuffix(folded, " ") || strings.Contains(folded, "  ") || strings.HasPrefix(folded, " ")) {
				t.Fatalf("Fold(%q) = %q, want words each followed by one space", s, folded)
			}
		}
		fuzzed := bookshop.Book{ID: int32(len(books) + 1), Title: title, Author: author}
		x := New(append(slices.Clone(books[:250]), fuzzed))
		x.Add(books[250:])
		res, err := x.Search(bookshop.SearchQuery{Text: query, Limit: bookshop.MaxSearchLimit})
		if err != nil {
			if bookshop.ErrorCode(err) != bookshop.Invalid || bookshop.CheckSearchText(query) == "" {
				t.Fatalf("Search(%q) = %v, want an error only for a query Validate refuses", query, err)
			}
		} else if res.Total > len(books)+1 || len(res.IDs) > res.Total || len(dedupe(res.IDs)) != len(res.IDs) {
			t.Fatalf("Search(%q) = %d ids (%d distinct) of %d, over %d books", query, len(res.IDs), len(dedupe(res.IDs)), res.Total, len(books)+1)
		}
		// The fuzzed book is found by the words of its title, when they make
		// a query the Catalog takes.
		words := strings.Fields(Fold(title))
		if len(words) == 0 || len(words) > 20 {
			return
		}
		q := strings.Join(words, " ")
		if bookshop.CheckSearchText(q) != "" {
			return
		}
		res, err = x.Search(bookshop.SearchQuery{Text: q, Limit: bookshop.MaxSearchLimit})
		if err != nil {
			t.Fatalf("Search(%q): %v", q, err)
		}
		found := slices.Contains(res.IDs, fuzzed.ID)
		if !found && res.Total < bookshop.MaxSearchLimit {
			t.Fatalf("Search(%q) = %v of %d, without the book titled %q", q, res.IDs, res.Total, title)
		}
	})
}
