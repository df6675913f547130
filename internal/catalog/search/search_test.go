package search

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Brontë", "bronte "},
		{"bronte", "bronte "},
		{"BRONTË", "bronte "},
		{"Bronte\u0308", "bronte "}, // the diaeresis as a combining mark
		{"Gödel, Escher, Bach", "godel escher bach "},
		{"Ærø", "aero "},
		{"straße", "strasse "},
		{"STRASSE", "strasse "},
		{"ẞ", "ss "}, // capital sharp s
		{"Łódź", "lodz "},
		{"Œuvres complètes", "oeuvres completes "},
		{"Þór", "thor "},
		{"Đorđe", "dorde "},
		{"Dvořák", "dvorak "},
		{"São Paulo", "sao paulo "},
		{"naïve café", "naive cafe "},
		{"İstanbul", "istanbul "},
		{"ΟΔΥΣΣΕΥΣ", "οδυσσευσ "}, // final sigma, as lower case writes it
		{"Ender's Game", "enders game "},
		{"The Hitchhiker’s Guide", "the hitchhikers guide "},
		{"'Tis the Season'", "tis the season "},
		{"J.R.R. Tolkien", "j r r tolkien "},
		{"Slaughterhouse-Five", "slaughterhouse five "},
		{"ﬁsh and ﬂies", "fish and flies "}, // ligatures
		{"E=mc²", "e mc2 "},
		{"1984", "1984 "},
		{"Catch-22!", "catch 22 "},
		{"  --  ", ""},
		{"", ""},
		{"東京物語", "東京物語 "},
		{"हिन्दी", "हिनदी "}, // spacing vowel signs kept; the virama, a nonspacing mark, dropped
	}
	for _, tt := range tests {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// catalog returns books made of "title / author" lines, with ids from 1.
func catalog(lines ...string) []bookshop.Book {
	books := make([]bookshop.Book, len(lines))
	for i, l := range lines {
		title, author, _ := strings.Cut(l, " / ")
		books[i] = bookshop.Book{ID: int32(i + 1), Title: title, Author: author, Year: 2000, Category: bookshop.Mystery}
	}
	return books
}

// search returns the ids of the first page of text's results, and the
// total, failing the test on an error.
func search(tb testing.TB, x *Index, text string) ([]int32, int) {
	tb.Helper()
	res, err := x.Search(bookshop.SearchQuery{Text: text, Limit: bookshop.MaxSearchLimit})
	if err != nil {
		tb.Fatalf("Search(%q): %v", text, err)
	}
	if len(res.IDs) != min(res.Total, bookshop.MaxSearchLimit) {
		tb.Errorf("Search(%q) = %d ids of %d in all, want %d", text, len(res.IDs), res.Total, min(res.Total, bookshop.MaxSearchLimit))
	}
	return res.IDs, res.Total
}

func TestSearchFolding(t *testing.T) {
	x := New(catalog(
		"Jane Eyre / Charlotte Brontë",     // 1
		"Wuthering Heights / Emily Bronte", // 2: no diaeresis in the catalog
		"Gödel, Escher, Bach / Douglas Hofstadter",
		"Ærø: an island guide / Ann Lee",
		"Die Straße / Hermann Müller",
		"Strasse und Weg / Karl Weber",
		"ÆRØ / Ærø Tourist Board",
		"The Hitchhiker’s Guide to the Galaxy / Douglas Adams",
	))
	tests := []struct {
		query string
		want  []int32
	}{
		{"bronte", []int32{1, 2}},
		{"Brontë", []int32{1, 2}},
		{"BRONTË", []int32{1, 2}},
		{"brontë emily", []int32{2}},
		{"godel", []int32{3}},
		{"GÖDEL escher", []int32{3}},
		{"aero", []int32{7, 4}}, // 7's title is "ÆRØ" and its author too
		{"ærø", []int32{7, 4}},
		{"ÆRØ", []int32{7, 4}},
		{"strasse", []int32{5, 6}}, // a whole word of each title
		{"straße", []int32{5, 6}},
		{"STRASSE", []int32{5, 6}},
		{"hitchhiker's guide", []int32{8}},
		{"hitchhikers", []int32{8}},
		{"hitchhiker", []int32{8}}, // begun, as the last word
		{"muller", []int32{5}},
		{"orient", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, total := search(t, x, tt.query)
			if !slices.Equal(got, tt.want) || total != len(tt.want) {
				t.Errorf("Search(%q) = %v (total %d), want %v", tt.query, got, total, tt.want)
			}
		})
	}
}

func TestSearchRanking(t *testing.T) {
	x := New(catalog(
		"Murder on the Orient Express / Agatha Christie", // 1
		"The Murder of Roger Ackroyd / Agatha Christie",  // 2
		"Agatha Christie: A Biography / Janet Morgan",    // 3
		"The Mysterious Affair at Styles / Agatha Christie",
		"Agatha / Christie Smith", // 5: one word in each field
		"Dune / Frank Herbert",    // 6
		"Dune Messiah / Frank Herbert",
		"Children of Dune / Frank Herbert",
		"Dunes and Deserts / A. Walker", // 9: begins with the word
		"Sand / Dune Wilson",            // 10: the word in the author
		"Christie's Garden / Ann Lee",   // 11
		"Herbert West / H. P. Lovecraft",
		"Herbert Remembered / Brian Herbert", // 13: the word in both fields
		"Express Delivery to the Orient / Post Office",
	))
	tests := []struct {
		name, query string
		want        []int32
	}{
		{"the title exactly, then the title, whole then begun, then the author", "dune", []int32{6, 7, 8, 9, 10}},
		{"a phrase of the title, then of the author, then the words apart", "agatha christie", []int32{3, 1, 2, 4, 5}},
		{"all words in one field above words apart", "christie agatha", []int32{3, 1, 2, 4, 5}},
		{"whole title word, begun title word, then authors by id", "christie", []int32{3, 11, 1, 2, 4, 5}},
		{"a prefix: titles, then authors", "agat", []int32{3, 5, 1, 2, 4}},
		{"both fields above one", "herbert", []int32{13, 12, 6, 7, 8}},
		{"a phrase above the same words apart", "orient express", []int32{1, 14}},
		{"words across the fields", "christie orient", []int32{1}},
		{"a begun last word across fields", "christie ori", []int32{1}},
		{"only the last word may be begun", "agat christie", nil},
		{"a repeated word", "dune dune", []int32{6, 7, 8, 10}},
		{"punctuation is no word", "dune!", []int32{6, 7, 8, 9, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total := search(t, x, tt.query)
			if !slices.Equal(got, tt.want) || total != len(tt.want) {
				t.Errorf("Search(%q) = %v (total %d), want %v", tt.query, got, total, tt.want)
			}
		})
	}
}

func TestSearchPages(t *testing.T) {
	var lines []string
	for i := range 250 {
		lines = append(lines, fmt.Sprintf("Book %d / Writer", i+1))
	}
	x := New(catalog(lines...))
	ids := func(from, to int) []int32 { // from..to, inclusive
		var out []int32
		for id := from; id <= to; id++ {
			out = append(out, int32(id))
		}
		return out
	}
	tests := []struct {
		offset, limit int
		want          []int32
	}{
		{0, 10, ids(1, 10)},
		{10, 10, ids(11, 20)},
		{0, 1, ids(1, 1)},
		{0, bookshop.MaxSearchLimit, ids(1, 100)},
		{240, 10, ids(241, 250)},
		{245, 10, ids(246, 250)}, // the last page, short
		{249, 100, ids(250, 250)},
		{250, 10, nil}, // past the end: nothing, but the total
		{bookshop.MaxSearchOffset, bookshop.MaxSearchLimit, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("offset %d limit %d", tt.offset, tt.limit), func(t *testing.T) {
			res, err := x.Search(bookshop.SearchQuery{Text: "book", Offset: tt.offset, Limit: tt.limit})
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			if !slices.Equal(res.IDs, tt.want) || res.Total != 250 {
				t.Errorf("Search(offset %d, limit %d) = %v (total %d), want %v (total 250)", tt.offset, tt.limit, res.IDs, res.Total, tt.want)
			}
		})
	}

	// Pages of a ranking with many ties and levels follow one another.
	x = New(generate(3000, 7))
	all, total := search(t, x, "the")
	if total < 200 {
		t.Fatalf("Search(the) found %d books; the test needs more", total)
	}
	var paged []int32
	for offset := 0; offset < total; offset += 7 {
		res, err := x.Search(bookshop.SearchQuery{Text: "the", Offset: offset, Limit: 7})
		if err != nil {
			t.Fatalf("Search(offset %d): %v", offset, err)
		}
		paged = append(paged, res.IDs...)
	}
	if !slices.Equal(paged[:len(all)], all) || len(paged) != total || len(dedupe(paged)) != total {
		t.Errorf("pages of 7 hold %d books, %d distinct, not in the order of one page; want the %d of the search", len(paged), len(dedupe(paged)), total)
	}
}

func dedupe(ids []int32) []int32 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return slices.Compact(s)
}

func TestSearchBounds(t *testing.T) {
	x := New(catalog("Dune / Frank Herbert"))
	tests := []struct {
		name string
		q    bookshop.SearchQuery
		want string // a part of the message
	}{
		{"empty", bookshop.SearchQuery{Limit: 10}, "Type words"},
		{"blank", bookshop.SearchQuery{Text: "   ", Limit: 10}, "Type words"},
		{"too long", bookshop.SearchQuery{Text: strings.Repeat("dune ", 41), Limit: 10}, "at most 200"},
		{"no letter or digit", bookshop.SearchQuery{Text: "!!! ???", Limit: 10}, "letters or digits"},
		{"negative offset", bookshop.SearchQuery{Text: "dune", Offset: -1, Limit: 10}, "offset"},
		{"offset too deep", bookshop.SearchQuery{Text: "dune", Offset: bookshop.MaxSearchOffset + 1, Limit: 10}, "offset"},
		{"no limit", bookshop.SearchQuery{Text: "dune"}, "limit"},
		{"limit too high", bookshop.SearchQuery{Text: "dune", Limit: bookshop.MaxSearchLimit + 1}, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := x.Search(tt.q)
			if bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tt.want) {
				t.Fatalf("Search(%+v) = %+v, %v; want an Invalid error saying %q", tt.q, res, err, tt.want)
			}
		})
	}
	// A letter that folds to nothing: no words, no books, no error.
	if ids, total := search(t, x, "\u037a"); len(ids) != 0 || total != 0 {
		t.Errorf("Search(ypogegrammeni) = %v (total %d), want nothing", ids, total)
	}
	// A query as long as may be, of many distinct words.
	var words []string
	for i := range bookshop.MaxSearchLen / 3 {
		words = append(words, string(rune('a'+i/10))+string(rune('0'+i%10)))
	}
	if ids, _ := search(t, x, strings.Join(words, " ")); len(ids) != 0 {
		t.Errorf("Search(%d words) = %v, want nothing", len(words), ids)
	}
}

// TestAdd checks that an index grown import by import, in batches of every
// size, finds what one built at once finds, and keeps few segments.
func TestAdd(t *testing.T) {
	books := generate(20_000, 3)
	whole := New(books)
	grown := New(nil)
	r := rand.New(rand.NewPCG(5, 6))
	for rest := books; len(rest) > 0; {
		n := min(len(rest), []int{1, 1, 2, 5, 30, 700, 4000}[r.IntN(7)])
		grown.Add(rest[:n])
		rest = rest[n:]
		segs := grown.state.Load().segs
		for i := 1; i < len(segs); i++ {
			if segs[i-1].len() <= 2*segs[i].len() {
				t.Fatalf("after %d books, segment %d has %d books and segment %d %d: the older must hold more than twice", grown.Len(), i-1, segs[i-1].len(), i, segs[i].len())
			}
		}
	}
	if grown.Len() != len(books) {
		t.Fatalf("Len() = %d, want %d", grown.Len(), len(books))
	}
	if n := len(grown.state.Load().segs); n > 15 {
		t.Errorf("%d segments for %d books, want at most log2 of them", n, len(books))
	}
	for _, q := range []string{"the", "night house", "murder", "mur", "brontë", "agatha christie", "b", "zzz", "café", "golden s"} {
		for _, offset := range []int{0, 50} {
			sq := bookshop.SearchQuery{Text: q, Offset: offset, Limit: bookshop.MaxSearchLimit}
			want, err := whole.Search(sq)
			if err != nil {
				t.Fatalf("Search(%q): %v", q, err)
			}
			got, err := grown.Search(sq)
			if err != nil {
				t.Fatalf("Search(%q): %v", q, err)
			}
			if !slices.Equal(got.IDs, want.IDs) || got.Total != want.Total {
				t.Errorf("Search(%q, offset %d) grown = %v… (total %d), at once = %v… (total %d)", q, offset, head(got.IDs), got.Total, head(want.IDs), want.Total)
			}
		}
	}
}

func head(ids []int32) []int32 { return ids[:min(len(ids), 8)] }

// TestSearchWhileAdding searches while books are added: the race detector
// checks the segments are shared safely, and each search sees whole
// imports.
func TestSearchWhileAdding(t *testing.T) {
	x := New(catalog("Seed / Someone"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := x.Search(bookshop.SearchQuery{Text: "batch", Limit: 10})
				if err != nil || res.Total%10 != 0 {
					t.Errorf("Search(batch) = %d books, %v: want whole imports of 10", res.Total, err)
					return
				}
			}
		})
	}
	for i := range 200 {
		var lines []string
		for j := range 10 {
			lines = append(lines, fmt.Sprintf("Batch %d book %d / Writer", i, j))
		}
		books := catalog(lines...)
		for j := range books {
			books[j].ID = int32(2 + i*10 + j)
		}
		x.Add(books)
	}
	close(stop)
	wg.Wait()
	if _, total := search(t, x, "batch"); total != 2000 {
		t.Errorf("Search(batch) = %d books, want 2000", total)
	}
}

// TestSingleWordRanking checks that a query of one word, ranked from the
// lists of docs alone, ranks as the general way ranks it from the books'
// words: whole words, prefixes of one term and of many, in titles alone
// and in both fields.
func TestSingleWordRanking(t *testing.T) {
	books := append(catalog(
		"Dune / Frank Herbert",
		"Dune Dunes / Dune Dunesson",
		"Dunes / Dune",
		"Herbert / Herbert",
		"Herbert Herbertson / Frank",
	), generate(5000, 11)...)
	for i := range books {
		books[i].ID = int32(i + 1)
	}
	fast, general := New(books[:2000]), New(books[:2000])
	general.general = true
	fast.Add(books[2000:])
	general.Add(books[2000:])
	queries := []string{"dune", "dun", "d", "herbert", "herb", "h", "frank", "the", "t", "café", "brontë", "s", "zzz", "1"}
	for _, w := range titleWords[:40] {
		queries = append(queries, w, w[:1+len(w)/2])
	}
	for _, q := range queries {
		sq := bookshop.SearchQuery{Text: q, Offset: 0, Limit: bookshop.MaxSearchLimit}
		want, err := general.Search(sq)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fast.Search(sq)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.IDs, want.IDs) || got.Total != want.Total {
			t.Errorf("Search(%q) = %v… (total %d), ranked from the words %v… (total %d)", q, head(got.IDs), got.Total, head(want.IDs), want.Total)
		}
	}
}
