package catalogfile_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
)

// header is the header line of the built-in file's column order.
const header = "id,category,title,author,year,price\n"

// builtin returns the built-in catalog, failing the test if it does not parse.
func builtin(tb testing.TB) *bookshop.Shelf {
	tb.Helper()
	c, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatalf("catalogfile.Builtin() error: %v", err)
	}
	return c
}

// inCategory returns c's books of category cat, failing the test on an error.
func inCategory(tb testing.TB, c *bookshop.Shelf, cat bookshop.Category) []bookshop.Book {
	tb.Helper()
	books, err := c.BooksInCategory(context.Background(), cat)
	if err != nil {
		tb.Fatalf("BooksInCategory(%v) error: %v", cat, err)
	}
	return books
}

// serialise writes books as a catalog file in the built-in column order.
func serialise(tb testing.TB, books []bookshop.Book) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write([]string{"id", "category", "title", "author", "year", "price"}); err != nil {
		tb.Fatalf("csv.Write header: %v", err)
	}
	for _, b := range books {
		rec := []string{strconv.Itoa(int(b.ID)), b.Category.String(), b.Title, b.Author, strconv.Itoa(b.Year), b.Price.Decimal()}
		if err := w.Write(rec); err != nil {
			tb.Fatalf("csv.Write(%v): %v", rec, err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		tb.Fatalf("csv.Flush: %v", err)
	}
	return buf.Bytes()
}

// checkInvariants reports every way c breaks a rule that any accepted
// catalog must keep.
func checkInvariants(tb testing.TB, c *bookshop.Shelf) {
	tb.Helper()
	books := c.Books()
	if c.Len() != len(books) {
		tb.Errorf("Len() = %d, want len(Books()) = %d", c.Len(), len(books))
	}
	if len(books) == 0 {
		tb.Errorf("Books() is empty, want at least one book in an accepted catalog")
	}
	ids := make(map[int32]bool)
	for i, b := range books {
		if b.ID < 1 {
			tb.Errorf("book %d: ID = %d, want > 0", i, b.ID)
		}
		if ids[b.ID] {
			tb.Errorf("book %d: ID %d appears twice", i, b.ID)
		}
		ids[b.ID] = true
		if i > 0 && books[i-1].ID >= b.ID {
			tb.Errorf("Books() not ordered by id: %d before %d", books[i-1].ID, b.ID)
		}
		if !b.Category.Valid() {
			tb.Errorf("book %d: Category = %v, want a valid category", b.ID, b.Category)
		}
		checkText(tb, b.ID, "title", b.Title, 300)
		checkText(tb, b.ID, "author", b.Author, 200)
		if b.Year < 1 || b.Year > 9999 {
			tb.Errorf("book %d: Year = %d, want 1 to 9999", b.ID, b.Year)
		}
		if b.Price.Currency != "EUR" || b.Price.Units < 1 || b.Price.Units > 1_000_000 {
			tb.Errorf("book %d: Price = %#v, want 0.01 to 10000.00 EUR", b.ID, b.Price)
		}
		// Case is ignored as strings.EqualFold ignores it.
		for _, prev := range books[:i] {
			if strings.EqualFold(prev.Title, b.Title) && strings.EqualFold(prev.Author, b.Author) {
				tb.Errorf("books %d and %d have the same title and author %q by %q", prev.ID, b.ID, b.Title, b.Author)
			}
		}
	}
	total := 0
	for _, cat := range bookshop.Categories() {
		got := inCategory(tb, c, cat)
		total += len(got)
		for i, b := range got {
			if b.Category != cat {
				tb.Errorf("BooksInCategory(%v) holds book %d of category %v", cat, b.ID, b.Category)
			}
			if i > 0 && got[i-1].ID >= b.ID {
				tb.Errorf("BooksInCategory(%v) not ordered by id: %d before %d", cat, got[i-1].ID, b.ID)
			}
		}
	}
	if total != len(books) {
		tb.Errorf("BooksInCategory over all categories returned %d books, want %d", total, len(books))
	}
}

func checkText(tb testing.TB, id int32, field, s string, maxLen int) {
	tb.Helper()
	switch {
	case s == "":
		tb.Errorf("book %d: %s is empty", id, field)
	case s != strings.TrimSpace(s):
		tb.Errorf("book %d: %s %q has surrounding spaces", id, field, s)
	case !utf8.ValidString(s):
		tb.Errorf("book %d: %s %q is not valid UTF-8", id, field, s)
	case utf8.RuneCountInString(s) > maxLen:
		tb.Errorf("book %d: %s has %d characters, want at most %d", id, field, utf8.RuneCountInString(s), maxLen)
	case strings.ContainsFunc(s, unicode.IsControl):
		tb.Errorf("book %d: %s %q holds a control character", id, field, s)
	}
}

func TestBuiltinTutorialBooks(t *testing.T) {
	c := builtin(t)
	want := []struct {
		id    int32
		cat   bookshop.Category
		title string
	}{
		{1, bookshop.Mystery, "The Maltese Falcon"},
		{2, bookshop.Mystery, "Murder on the Orient Express"},
		{3, bookshop.Mystery, "The Hound of the Baskervilles"},
		{4, bookshop.ScienceFiction, "The Hitchhiker's Guide To The Galaxy"},
		{5, bookshop.ScienceFiction, "Ender's Game"},
		{6, bookshop.ScienceFiction, "The Dune Chronicles"},
		{7, bookshop.SelfHelp, "The 7 Habits of Highly Effective People"},
		{8, bookshop.SelfHelp, "How to Win Friends and Influence People"},
		{9, bookshop.SelfHelp, "Man's Search for Meaning"},
	}
	byID := make(map[int32]bookshop.Book)
	for _, b := range c.Books() {
		byID[b.ID] = b
	}
	for _, w := range want {
		t.Run(strconv.Itoa(int(w.id)), func(t *testing.T) {
			b, ok := byID[w.id]
			if !ok {
				t.Fatalf("Builtin() has no book %d, want %q", w.id, w.title)
			}
			if b.Title != w.title || b.Category != w.cat {
				t.Errorf("Builtin() book %d = %q (%v), want %q (%v)", w.id, b.Title, b.Category, w.title, w.cat)
			}
		})
	}
}

func TestBuiltinInvariants(t *testing.T) {
	c := builtin(t)
	checkInvariants(t, c)
	for _, b := range c.Books() {
		if b.Author == "" {
			t.Errorf("Builtin() book %d %q has no author", b.ID, b.Title)
		}
		if b.Year <= 0 {
			t.Errorf("Builtin() book %d %q has year %d, want > 0", b.ID, b.Title, b.Year)
		}
	}
	for _, cat := range bookshop.Categories() {
		t.Run(cat.String(), func(t *testing.T) {
			got := inCategory(t, c, cat)
			if len(got) < 12 {
				t.Errorf("BooksInCategory(%v) has %d books, want at least 12", cat, len(got))
			}
			if !slices.IsSortedFunc(got, func(a, b bookshop.Book) int { return int(a.ID) - int(b.ID) }) {
				t.Errorf("BooksInCategory(%v) = %v, want ordered by id", cat, got)
			}
			var want []bookshop.Book
			for _, b := range c.Books() {
				if b.Category == cat {
					want = append(want, b)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("BooksInCategory(%v) = %v, want %v", cat, got, want)
			}
		})
	}
}

func TestBuiltinRoundTrip(t *testing.T) {
	c := builtin(t)
	again, err := catalogfile.Parse(bytes.NewReader(serialise(t, c.Books())), "round trip", "EUR")
	if err != nil {
		t.Fatalf("Parse(serialised Builtin()) error: %v", err)
	}
	if !slices.Equal(again.Books(), c.Books()) {
		t.Errorf("Parse(serialised Builtin()) = %v, want %v", again.Books(), c.Books())
	}
}

func TestBooksInCategoryUnknown(t *testing.T) {
	c := builtin(t)
	for _, cat := range []bookshop.Category{-1, 3, 99} {
		got, err := c.BooksInCategory(context.Background(), cat)
		if err != nil || len(got) != 0 {
			t.Errorf("BooksInCategory(%v) = %v, %v, want no books and no error", cat, got, err)
		}
	}
}

func TestParseBad(t *testing.T) {
	const name = "test.csv"
	tests := []struct {
		name      string
		in        string
		wantLine  int
		wantField string
		wantInMsg string // words the error text must hold
	}{
		{"empty file", "", 0, "", "no header line"},
		{"only comments", "# a comment\n# another\n", 0, "", "no header line"},
		{"only blank lines", "\n\n\n", 0, "", "no header line"},
		{"missing header", "1,mystery,The Maltese Falcon,Dashiell Hammett,1930,9.99\n", 1, "1", "unknown column"},
		{"unknown column", "id,category,title,writer,year\n1,mystery,T,A,1930,9.99\n", 1, "writer", "unknown column"},
		{"unknown column after comments", "# one\n# two\nid,category,title,author,year,isbn\n", 3, "isbn", "unknown column"},
		{"empty column name", "id,category,title,author,year,\n1,mystery,T,A,1930,\n", 1, "column 6", "empty column name"},
		{"duplicate column", "id,category,title,author,year,ID\n", 1, "id", "twice"},
		{"missing column", "id,category,title,author\n1,mystery,T,A\n", 1, "year", "missing"},
		{"too few fields", header + "1,mystery,T,A,1930\n", 2, "", "5 fields, want 6"},
		{"too many fields", header + "1,mystery,T,A,1930,9.99,x\n", 2, "", "7 fields, want 6"},
		{"non-numeric id", header + "x1,mystery,T,A,1930,9.99\n", 2, "id", `"x1" is not a whole number`},
		{"empty id", header + ",mystery,T,A,1930,9.99\n", 2, "id", "needs an id"},
		{"id 0", header + "0,mystery,T,A,1930,9.99\n", 2, "id", `"0" is not a whole number from 1`},
		{"negative id", header + "-5,mystery,T,A,1930,9.99\n", 2, "id", `"-5"`},
		{"id overflow", header + "2147483648,mystery,T,A,1930,9.99\n", 2, "id", `"2147483648"`},
		{"duplicate id", header + "1,mystery,T,A,1930,9.99\n# between\n1,mystery,U,B,1931,9.99\n", 4, "id", "already used on line 2"},
		{"unknown category", header + "1,romance,T,A,1930,9.99\n", 2, "category", `"romance" is not a category`},
		{"empty category", header + "1,,T,A,1930,9.99\n", 2, "category", "is not a category"},
		{"empty title", header + "1,mystery,   ,A,1930,9.99\n", 2, "title", "must not be empty"},
		{"empty author", header + "1,mystery,T,,1930,9.99\n", 2, "author", "must not be empty"},
		{"title too long", header + "1,mystery," + strings.Repeat("é", 301) + ",A,1930,9.99\n", 2, "title", "longer than 300"},
		{"author too long", header + "1,mystery,T," + strings.Repeat("é", 201) + ",1930,9.99\n", 2, "author", "longer than 200"},
		{"tab in title", header + "1,mystery,Tab\there,A,1930,9.99\n", 2, "title", "U+0009"},
		{"C1 control in author", header + "1,mystery,T,A\u0085B,1930,9.99\n", 2, "author", "U+0085"},
		{"DEL in title", header + "1,mystery,Del\x7fhere,A,1930,9.99\n", 2, "title", "U+007F"},
		{"newline in quoted title", header + "1,mystery,\"Two\nlines\",A,1930,9.99\n", 2, "title", "U+000A"},
		{"invalid UTF-8 in author", header + "1,mystery,T,A\xff,1930,9.99\n", 2, "author", "not valid UTF-8"},
		{"non-numeric year", header + "1,mystery,T,A,19x0,9.99\n", 2, "year", `"19x0" is not a year`},
		{"empty year", header + "1,mystery,T,A,,9.99\n", 2, "year", "is not a year"},
		{"year 0", header + "1,mystery,T,A,0,9.99\n", 2, "year", `"0" is not a year from 1 to 9999`},
		{"year 10000", header + "1,mystery,T,A,10000,9.99\n", 2, "year", `"10000"`},
		{"duplicate title and author", header + "1,mystery,The Maltese Falcon,Dashiell Hammett,1930,9.99\n2,mystery,THE MALTESE FALCON,dashiell hammett,1931,9.99\n", 3, "title", "already listed on line 2"},
		{"error after blank lines", header + "\n\n1,mystery,T,A,nope,9.99\n", 4, "year", `"nope"`},
		{"error on a later line", header + "1,mystery,T,A,1930,9.99\n2,mystery,U,A,1930,9.99\n3,horror,V,A,1930,9.99\n", 4, "category", `"horror"`},
		{"year after a multi-line id", header + "\"1\n\",mystery,T,A,nope,9.99\n", 3, "year", `"nope"`},
		{"duplicate of a multi-line id", header + "\"\n1\",mystery,T,A,1930,9.99\n1,mystery,U,A,1930,9.99\n", 4, "id", "already used on line 2"},
		{"bare quote", header + "1,mystery,The \"Falcon\",A,1930,9.99\n", 2, "", `bare "`},
		{"unterminated quote in header", "id,\"category,title,author,year\n", 1, "", `extraneous or missing "`},
		{"bare quote after comment", "# c\n" + header + "1,mystery,T,A,1930,9.99\n2,mystery,U\"x,A,1930,9.99\n", 4, "", `bare "`},
		{"only comments and header", "# c\n" + header + "# no books\n", 0, "", "lists no books"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := catalogfile.Parse(strings.NewReader(tt.in), name, "EUR")
			if err == nil {
				t.Fatalf("Parse(%q) = %v, nil, want an error", tt.in, c.Books())
			}
			if c != nil {
				t.Errorf("Parse(%q) returned a catalog with an error, want nil", tt.in)
			}
			var pe *catalogfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v (%T), want a *catalogfile.ParseError", tt.in, err, err)
			}
			if pe.File != name || pe.Line != tt.wantLine || pe.Field != tt.wantField {
				t.Errorf("Parse(%q) error at %q line %d field %q, want %q line %d field %q", tt.in, pe.File, pe.Line, pe.Field, name, tt.wantLine, tt.wantField)
			}
			msg := err.Error()
			wantPrefix := name + ":"
			if tt.wantLine > 0 {
				wantPrefix = fmt.Sprintf("%s:%d:", name, tt.wantLine)
			}
			if !strings.HasPrefix(msg, wantPrefix) {
				t.Errorf("Parse(%q) error = %q, want it to start with %q", tt.in, msg, wantPrefix)
			}
			if tt.wantField != "" && !strings.Contains(msg, fmt.Sprintf("field %q", tt.wantField)) {
				t.Errorf("Parse(%q) error = %q, want it to name field %q", tt.in, msg, tt.wantField)
			}
			if !strings.Contains(msg, tt.wantInMsg) {
				t.Errorf("Parse(%q) error = %q, want it to hold %q", tt.in, msg, tt.wantInMsg)
			}
			if pe.Unwrap() == nil {
				t.Errorf("Parse(%q) error %q unwraps to nil, want the cause", tt.in, msg)
			}
		})
	}
}

func TestParseErrorText(t *testing.T) {
	_, err := catalogfile.Parse(strings.NewReader(header+"x1,mystery,T,A,1930,9.99\n"), "books.csv", "EUR")
	want := `books.csv:2: field "id": "x1" is not a whole number from 1 to 2147483647`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(bad id) error = %v, want %q", err, want)
	}
}

func TestParseErrorUnwrapsCSVError(t *testing.T) {
	_, err := catalogfile.Parse(strings.NewReader(header+"1,mystery,The \"Falcon\",A,1930,9.99\n"), "q.csv", "EUR")
	if !errors.Is(err, csv.ErrBareQuote) {
		t.Errorf("Parse(bare quote) error = %v, want it to wrap csv.ErrBareQuote", err)
	}
}

func TestParseGood(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []bookshop.Book
	}{
		{
			name: "built-in column order",
			in:   header + "1,mystery,The Maltese Falcon,Dashiell Hammett,1930,9.99\n",
			want: []bookshop.Book{{ID: 1, Category: bookshop.Mystery, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930, Price: eur(999)}},
		},
		{
			name: "columns in another order",
			in:   "year,author,title,category,id,price\n1930,Dashiell Hammett,The Maltese Falcon,mystery,1,9.99\n1965,Frank Herbert,The Dune Chronicles,science_fiction,6,9.99\n",
			want: []bookshop.Book{
				{ID: 1, Category: bookshop.Mystery, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930, Price: eur(999)},
				{ID: 6, Category: bookshop.ScienceFiction, Title: "The Dune Chronicles", Author: "Frank Herbert", Year: 1965, Price: eur(999)},
			},
		},
		{
			name: "header in other case with spaces",
			in:   " ID , Category,TITLE,Author ,year, Price \n1,mystery,T,A,1930,9.99\n",
			want: []bookshop.Book{{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1930, Price: eur(999)}},
		},
		{
			name: "a UTF-8 BOM before a comment",
			in:   "\uFEFF# Saved by an editor that adds a BOM\n" + header + "1,mystery,T,A,1930,9.99\n",
			want: []bookshop.Book{{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1930, Price: eur(999)}},
		},
		{
			name: "header with a UTF-8 BOM",
			in:   "\uFEFF" + header + "1,mystery,T,A,1930,9.99\n",
			want: []bookshop.Book{{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1930, Price: eur(999)}},
		},
		{
			name: "comments before, between and after",
			in:   "# top\n# more\n" + header + "# a comment\n1,mystery,T,A,1930,9.99\n#x,y\n2,self_help,U,B,2000,9.99\n# end\n",
			want: []bookshop.Book{
				{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1930, Price: eur(999)},
				{ID: 2, Category: bookshop.SelfHelp, Title: "U", Author: "B", Year: 2000, Price: eur(999)},
			},
		},
		{
			name: "quoted title with commas and quotes",
			in:   header + "35,self_help,\"Thinking, Fast and Slow\",Daniel Kahneman,2011,9.99\n36,mystery,\"The \"\"Quoted\"\" One, Again\",\"Doe, Jane\",1999,9.99\n",
			want: []bookshop.Book{
				{ID: 35, Category: bookshop.SelfHelp, Title: "Thinking, Fast and Slow", Author: "Daniel Kahneman", Year: 2011, Price: eur(999)},
				{ID: 36, Category: bookshop.Mystery, Title: `The "Quoted" One, Again`, Author: "Doe, Jane", Year: 1999, Price: eur(999)},
			},
		},
		{
			name: "category in any case",
			in:   header + "1,MYSTERY,T,A,1930,9.99\n2,Science_Fiction,U,A,1930,9.99\n3,SELF_help,V,A,1930,9.99\n",
			want: []bookshop.Book{
				{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1930, Price: eur(999)},
				{ID: 2, Category: bookshop.ScienceFiction, Title: "U", Author: "A", Year: 1930, Price: eur(999)},
				{ID: 3, Category: bookshop.SelfHelp, Title: "V", Author: "A", Year: 1930, Price: eur(999)},
			},
		},
		{
			name: "surrounding spaces trimmed",
			in:   header + " 7 ,  self_help , The 7 Habits  ,\t Stephen R. Covey ,  1989 ,9.99\n",
			want: []bookshop.Book{{ID: 7, Category: bookshop.SelfHelp, Title: "The 7 Habits", Author: "Stephen R. Covey", Year: 1989, Price: eur(999)}},
		},
		{
			name: "CRLF line endings",
			in:   "# c\r\nid,category,title,author,year,price\r\n1,mystery,T,A,1930,9.99\r\n",
			want: []bookshop.Book{{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1930, Price: eur(999)}},
		},
		{
			name: "no final newline",
			in:   header + "1,mystery,T,A,1930,9.99",
			want: []bookshop.Book{{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1930, Price: eur(999)}},
		},
		{
			name: "limits",
			in: header + "2147483647,mystery," + strings.Repeat("é", 300) + "," + strings.Repeat("ü", 200) + ",9999,10000\n" +
				"1,mystery,T,A,1,9.99\n",
			want: []bookshop.Book{
				{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1, Price: eur(999)},
				{ID: 2147483647, Category: bookshop.Mystery, Title: strings.Repeat("é", 300), Author: strings.Repeat("ü", 200), Year: 9999, Price: eur(1_000_000)},
			},
		},
		{
			name: "ordered by id whatever the file order",
			in:   header + "30,mystery,C,A,1930,9.99\n10,self_help,A,A,1930,9.99\n20,mystery,B,A,1930,9.99\n",
			want: []bookshop.Book{
				{ID: 10, Category: bookshop.SelfHelp, Title: "A", Author: "A", Year: 1930, Price: eur(999)},
				{ID: 20, Category: bookshop.Mystery, Title: "B", Author: "A", Year: 1930, Price: eur(999)},
				{ID: 30, Category: bookshop.Mystery, Title: "C", Author: "A", Year: 1930, Price: eur(999)},
			},
		},
		{
			name: "same title by different authors",
			in:   header + "1,mystery,Rebecca,Daphne du Maurier,1938,9.99\n2,mystery,Rebecca,Someone Else,1990,9.99\n",
			want: []bookshop.Book{
				{ID: 1, Category: bookshop.Mystery, Title: "Rebecca", Author: "Daphne du Maurier", Year: 1938, Price: eur(999)},
				{ID: 2, Category: bookshop.Mystery, Title: "Rebecca", Author: "Someone Else", Year: 1990, Price: eur(999)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := catalogfile.Parse(strings.NewReader(tt.in), "good.csv", "EUR")
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if got := c.Books(); !slices.Equal(got, tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
			}
			checkInvariants(t, c)
		})
	}
}

// writeFile writes content to a new file in a temporary directory and
// returns its path.
func writeFile(tb testing.TB, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "books.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatalf("os.WriteFile(%q): %v", path, err)
	}
	return path
}

func TestOpen(t *testing.T) {
	t.Run("good", func(t *testing.T) {
		path := writeFile(t, header+"1,mystery,T,A,1930,9.99\n2,self_help,U,B,1931,9.99\n")
		c, err := catalogfile.Open(path, "EUR")
		if err != nil {
			t.Fatalf("Open(%q) error: %v", path, err)
		}
		want := []bookshop.Book{
			{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1930, Price: eur(999)},
			{ID: 2, Category: bookshop.SelfHelp, Title: "U", Author: "B", Year: 1931, Price: eur(999)},
		}
		if got := c.Books(); !slices.Equal(got, want) {
			t.Errorf("Open(%q) = %v, want %v", path, got, want)
		}
	})
	t.Run("bad", func(t *testing.T) {
		path := writeFile(t, header+"1,mystery,T,A,1930,9.99\n2,mystery,U,B,year,9.99\n")
		c, err := catalogfile.Open(path, "EUR")
		var pe *catalogfile.ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("Open(%q) = %v, %v, want a *catalogfile.ParseError", path, c, err)
		}
		if pe.File != path || pe.Line != 3 || pe.Field != "year" {
			t.Errorf("Open(%q) error at %q line %d field %q, want %q line 3 field %q", path, pe.File, pe.Line, pe.Field, path, "year")
		}
		if want := path + ":3:"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Open(%q) error = %q, want it to start with %q", path, err, want)
		}
	})
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no-such-file.csv")
		c, err := catalogfile.Open(path, "EUR")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v, %v, want an error wrapping fs.ErrNotExist", path, c, err)
		}
		if c != nil {
			t.Errorf("Open(%q) returned a catalog with an error, want nil", path)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if c, err := catalogfile.Open(dir, "EUR"); err == nil {
			t.Errorf("Open(%q) = %v, nil, want an error for a directory", dir, c.Books())
		}
	})
}

func FuzzParse(f *testing.F) {
	c, err := catalogfile.Builtin()
	if err != nil {
		f.Fatalf("catalogfile.Builtin() error: %v", err)
	}
	f.Add(serialise(f, c.Books()))
	f.Add(serialise(f, c.Books()[:3]))
	f.Add([]byte(""))
	f.Add([]byte(header))
	f.Add([]byte(header + "1,mystery,T,A,1930,12.99\n"))
	f.Add([]byte("\uFEFF# c\n" + header + "1,MYSTERY, \"T, x\" ,A,1930, 12.5 \r\n2,self_help,T,A,1930,12\n"))
	f.Add([]byte("price,year,author,title,category,id\n10000,1930,A,T,science_fiction,2147483647\n"))
	f.Add([]byte(header + "1,mystery,T,A,1930,0.01\n1,mystery,T,A,1930,0.01\n"))
	f.Add([]byte(header + "1,mystery,\"a\"b,A,1930,1\n"))
	f.Add([]byte(header + "1,mystery,T,A,1930,10000.01\n2,mystery,U,A,1930,\"12,99\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := catalogfile.Parse(bytes.NewReader(data), "fuzz", "EUR")
		if err != nil {
			if c != nil {
				t.Errorf("Parse(%q) returned a catalog and error %v", data, err)
			}
			var pe *catalogfile.ParseError
			if !errors.As(err, &pe) {
				t.Errorf("Parse(%q) error = %v (%T), want a *catalogfile.ParseError", data, err, err)
			}
			if pe.Line < 0 {
				t.Errorf("Parse(%q) error line = %d, want >= 0", data, pe.Line)
			}
			_ = err.Error()
			return
		}
		checkInvariants(t, c)
		// What Parse accepts, written out again, reads back the same.
		again, err := catalogfile.Parse(bytes.NewReader(serialise(t, c.Books())), "again", "EUR")
		if err != nil {
			t.Fatalf("Parse(serialised %v) error: %v", c.Books(), err)
		}
		if !slices.Equal(again.Books(), c.Books()) {
			t.Errorf("Parse(serialised) = %v, want %v", again.Books(), c.Books())
		}
	})
}

// FuzzJSONRows checks the JSON rows reader: it never panics; every error,
// of NewJSONRows, of Next and of a row, is a *ParseError; Next always moves
// on; every row it accepts passes Check; and the accepted books, written
// out again, read back the same.
func FuzzJSONRows(f *testing.F) {
	var builtinJSON bytes.Buffer
	w := catalogfile.NewJSONWriter(&builtinJSON)
	for _, b := range builtin(f).Books()[:5] {
		if err := w.Write(b); err != nil {
			f.Fatalf("Write(%v): %v", b, err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatalf("Close: %v", err)
	}
	f.Add(builtinJSON.Bytes())
	for _, s := range []string{
		"", "[]", "[", "]", "{}", "null", "[{}]", "[1, \"a\", null, []]", "\uFEFF[]",
		`[{"id":1,"category":"mystery","title":"T","author":"A","year":1930,"price":"12.99"}]`,
		`[{"category":" SELF_HELP ","title":" T ","author":"A","year":9999,"price":" 10000 "}]`,
		`[{"id":1,"category":"mystery","title":"T","author":"A","year":1930,"price":12.99}]`,
		`[{"id":1,"category":"mystery","title":"T","author":"A","year":1930,"price":"12.999"}]`,
		`[{"id":1,"category":"mystery","title":"T","author":"A","year":1930,"price":""}]`,
		`[{"id":1,"category":"mystery","title":"T","author":"A","year":1930}]`,
		`[{"id":-1,"category":"mystery","title":"T","author":"A","year":1930}]`,
		`[{"id":2147483648,"category":"mystery","title":"T","author":"A","year":1930}]`,
		`[{"id":1,"category":"mystery","title":"T\u0000","author":"A","year":1930}]`,
		`[{"id":1,"category":"mystery","title":"T","author":"A","year":"1930"}]`,
		`[{"id":1,"category":"mystery","title":"T","author":"A","year":1930,"isbn":"x"}]`,
		`[{"id":1,"category":"mystery","title":"T","author":"A","year":1930},` + "\n" + `{"id":2`,
		`[{"id":1,"category":"mystery","title":"T","author":"A","year":1930}] trailing`,
		`[{"id":1,"id":2,"category":"mystery","title":"T","author":"A","year":1930}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wantParseError := func(what string, err error) {
			t.Helper()
			pe, ok := errors.AsType[*catalogfile.ParseError](err)
			if !ok {
				t.Fatalf("%s of %q: error %v (%T), want a *catalogfile.ParseError", what, data, err, err)
			}
			if pe.Line < 0 {
				t.Errorf("%s of %q: error line %d, want >= 0", what, data, pe.Line)
			}
			_ = err.Error()
		}
		rows, err := catalogfile.NewJSONRows(bytes.NewReader(data), "fuzz", "EUR")
		if err != nil {
			wantParseError("NewJSONRows", err)
			return
		}
		var accepted []bookshop.Book
		line := 1
		for n := 0; ; n++ {
			if n > len(data) {
				t.Fatalf("Next of %q: more rows than bytes; Next does not move on", data)
			}
			row, err := rows.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				wantParseError("Next", err)
				return
			}
			if row.Line < line {
				t.Errorf("Next of %q: row on line %d after one on line %d", data, row.Line, line)
			}
			line = row.Line
			if row.Err != nil {
				wantParseError("row", row.Err)
				continue
			}
			if err := row.Book.Validate(); err != nil {
				t.Errorf("Next of %q accepted %+v, which Validate refuses: %v", data, row.Book, err)
			}
			accepted = append(accepted, row.Book)
		}

		var out bytes.Buffer
		w := catalogfile.NewJSONWriter(&out)
		for _, b := range accepted {
			if err := w.Write(b); err != nil {
				t.Fatalf("Write(%+v): %v", b, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		again, err := catalogfile.NewJSONRows(&out, "again", "EUR")
		if err != nil {
			t.Fatalf("NewJSONRows(written %v): %v", accepted, err)
		}
		for i := 0; ; i++ {
			row, err := again.Next()
			if errors.Is(err, io.EOF) {
				if i != len(accepted) {
					t.Errorf("read back %d books of %d written", i, len(accepted))
				}
				break
			}
			if err != nil || row.Err != nil {
				t.Fatalf("read back book %d of %v: %v, %v", i, accepted, err, row.Err)
			}
			if i >= len(accepted) || row.Book != accepted[i] {
				t.Fatalf("read back book %d = %+v, want %+v", i, row.Book, accepted)
			}
		}
	})
}

func BenchmarkBuiltin(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := catalogfile.Builtin(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBooksInCategory(b *testing.B) {
	c := builtin(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		books, err := c.BooksInCategory(ctx, bookshop.ScienceFiction)
		if err != nil || len(books) == 0 {
			b.Fatalf("BooksInCategory(science_fiction) = %v, %v", books, err)
		}
	}
}

func BenchmarkBook(b *testing.B) {
	c := builtin(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if book, err := c.Book(ctx, 9); err != nil || book.ID != 9 {
			b.Fatalf("Book(9) = %+v, %v", book, err)
		}
	}
}
