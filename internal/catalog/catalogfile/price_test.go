package catalogfile_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
)

// eur returns an amount of euros in cents.
func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// TestParsePrice checks the price column: what it accepts, in minor units,
// and what it refuses, on the book's line and naming the field.
func TestParsePrice(t *testing.T) {
	tests := []struct {
		field    string // the price field as the file holds it
		currency string // "" for EUR
		want     int64  // minor units, when accepted
		wantErr  string // words of the error, when refused
	}{
		{field: "12.99", want: 1299},
		{field: "12.5", want: 1250},
		{field: "12", want: 1200},
		{field: "0.01", want: 1},
		{field: "0012.30", want: 1230},
		{field: "10000", want: 1_000_000},
		{field: "10000.00", want: 1_000_000},
		{field: " 12.99", want: 1299}, // fields are trimmed
		{field: "12.99 ", want: 1299},
		{field: `" 12.99 "`, want: 1299},
		{field: "0", wantErr: "0.00 is not more than zero"},
		{field: "0.00", wantErr: "0.00 is not more than zero"},
		{field: "-1", wantErr: `amount "-1": want a decimal number`},
		{field: "+1", wantErr: "want a decimal number"},
		{field: "1e3", wantErr: "want a decimal number"},
		{field: "0x10", wantErr: "want a decimal number"},
		{field: "12.999", wantErr: "EUR has 2 digits after the point, not 3"},
		{field: "10000.01", wantErr: "10000.01 is more than 10000"},
		{field: "10001", wantErr: "is more than 10000"},
		{field: `"12,99"`, wantErr: "want a decimal number"},
		{field: "12.", wantErr: "want a decimal number"},
		{field: ".99", wantErr: "want a decimal number"},
		{field: "1 299", wantErr: "want a decimal number"},
		{field: "€12.99", wantErr: "want a decimal number"},
		{field: "１２", wantErr: "want a decimal number"}, // full-width digits
		{field: "NaN", wantErr: "want a decimal number"},
		{field: "99999999999999999999", wantErr: "too large"},
		{field: "9999999999999999.99", wantErr: "more than 10000"},
		{field: strings.Repeat("9", 400), wantErr: "too large"},
		{field: "", wantErr: "missing: every book needs a price"},
		{field: "  ", wantErr: "missing"},
		{field: "1000", currency: "JPY", want: 1000},
		{field: "10000", currency: "JPY", want: 10_000},
		{field: "10.5", currency: "JPY", wantErr: "JPY has 0 digits after the point, not 1"},
		{field: "10001", currency: "JPY", wantErr: "more than 10000"},
		{field: "1.234", currency: "KWD", want: 1234},
	}
	for _, tt := range tests {
		currency := tt.currency
		if currency == "" {
			currency = "EUR"
		}
		in := header + "# a comment\n1,mystery,T,A,1930," + tt.field + "\n"
		c, err := catalogfile.Parse(strings.NewReader(in), "prices.csv", currency)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Parse(price %q, %s): %v, want %d minor units", tt.field, currency, err, tt.want)
				continue
			}
			if got := c.Books()[0].Price; got != (bookshop.Money{Units: tt.want, Currency: currency}) {
				t.Errorf("Parse(price %q, %s) = %#v, want %d minor units", tt.field, currency, got, tt.want)
			}
			continue
		}
		pe, ok := errors.AsType[*catalogfile.ParseError](err)
		if !ok {
			t.Errorf("Parse(price %q, %s) = %v, want a *ParseError", tt.field, currency, err)
			continue
		}
		if pe.Line != 3 || pe.Field != "price" || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Parse(price %q, %s) error = %q (line %d, field %q), want line 3, field price, saying %q", tt.field, currency, err, pe.Line, pe.Field, tt.wantErr)
		}
	}
}

func TestPriceColumnRequired(t *testing.T) {
	_, err := catalogfile.Parse(strings.NewReader("id,category,title,author,year\n1,mystery,T,A,1930\n"), "old.csv", "EUR")
	pe, ok := errors.AsType[*catalogfile.ParseError](err)
	if !ok || pe.Line != 1 || pe.Field != "price" || !strings.Contains(err.Error(), "column missing from header") {
		t.Errorf("Parse(a file without prices) = %v, want a header error naming the price column", err)
	}
}

func TestParseRefusesBadCurrency(t *testing.T) {
	for _, currency := range []string{"", "eur", "EURO"} {
		if _, err := catalogfile.Parse(strings.NewReader(header+"1,mystery,T,A,1930,12.99\n"), "f.csv", currency); err == nil {
			t.Errorf("Parse in currency %q succeeded, want an error", currency)
		}
		if _, err := catalogfile.NewJSONRows(strings.NewReader("[]"), "f.json", currency); err == nil {
			t.Errorf("NewJSONRows in currency %q succeeded, want an error", currency)
		}
	}
}

// TestJSONPrice checks the price of JSON files: a decimal in a string, and
// never a number.
func TestJSONPrice(t *testing.T) {
	tests := []struct {
		price   string // the JSON value; "" leaves the key out
		want    int64
		wantErr string
	}{
		{price: `"12.99"`, want: 1299},
		{price: `" 7.5 "`, want: 750},
		{price: `12.99`, wantErr: `want a decimal in a string, such as "12.99", got a JSON number`},
		{price: `1299`, wantErr: "got a JSON number"},
		{price: `"12.999"`, wantErr: "EUR has 2 digits after the point"},
		{price: `"0"`, wantErr: "not more than zero"},
		{price: `"10000.01"`, wantErr: "more than 10000"},
		{price: `null`, wantErr: "missing"},
		{price: `""`, wantErr: "missing"},
		{price: "", wantErr: "missing"},
	}
	for _, tt := range tests {
		obj := `{"id":1,"category":"mystery","title":"T","author":"A","year":1930`
		if tt.price != "" {
			obj += `,"price":` + tt.price
		}
		in := "[\n" + obj + "}\n]\n"
		rows, err := catalogfile.NewJSONRows(strings.NewReader(in), "f.json", "EUR")
		if err != nil {
			t.Fatal(err)
		}
		row, err := rows.Next()
		if err != nil {
			t.Fatalf("Next of %s: %v", in, err)
		}
		if tt.wantErr == "" {
			if row.Err != nil || row.Book.Price != eur(tt.want) {
				t.Errorf("price %s: %#v, %v; want %d cents", tt.price, row.Book.Price, row.Err, tt.want)
			}
			continue
		}
		pe, ok := errors.AsType[*catalogfile.ParseError](row.Err)
		if !ok || pe.Line != 2 || pe.Field != "price" || !strings.Contains(row.Err.Error(), tt.wantErr) {
			t.Errorf("price %s: error %v, want line 2, field price, saying %q", tt.price, row.Err, tt.wantErr)
		}
	}
}

// TestWritersRoundTripBytes checks that what the writers write reads back
// and writes again the same, byte for byte, prices included: an export,
// imported and exported again, is the same file.
func TestWritersRoundTripBytes(t *testing.T) {
	books := builtin(t).Books()
	books = append(books[:len(books):len(books)],
		bookshop.Book{ID: 1000, Category: bookshop.Mystery, Title: `The "Quoted", One`, Author: "Doe, Jane", Year: 1999, Price: eur(1_000_000)},
		bookshop.Book{ID: 1001, Category: bookshop.SelfHelp, Title: "Cheap", Author: "A", Year: 2000, Price: eur(1)},
	)
	formats := []struct {
		name   string
		writer func(io.Writer) catalogfile.Writer
		rows   func(io.Reader) (rowReader, error)
	}{
		{"csv", catalogfile.NewCSVWriter, func(r io.Reader) (rowReader, error) { return catalogfile.NewCSVRows(r, "f", "EUR") }},
		{"json", catalogfile.NewJSONWriter, func(r io.Reader) (rowReader, error) { return catalogfile.NewJSONRows(r, "f", "EUR") }},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			first := write(t, f.writer, books)
			rows, err := f.rows(bytes.NewReader(first))
			if err != nil {
				t.Fatal(err)
			}
			read := readAll(t, rows)
			if len(read) != len(books) {
				t.Fatalf("read back %d books, want %d", len(read), len(books))
			}
			for i := range books {
				if read[i] != books[i] {
					t.Errorf("book %d read back as %+v, want %+v", i, read[i], books[i])
				}
			}
			if again := write(t, f.writer, read); !bytes.Equal(again, first) {
				t.Errorf("written again:\n%s\nwant the same bytes as:\n%s", again, first)
			}
		})
	}
	// The built-in file's rows are written as the writer writes them.
	csvOut := string(write(t, catalogfile.NewCSVWriter, books[:1]))
	if want := "id,category,title,author,year,price\n1,mystery,The Maltese Falcon,Dashiell Hammett,1930,10.99\n"; csvOut != want {
		t.Errorf("CSV of book 1 = %q, want %q", csvOut, want)
	}
	jsonOut := string(write(t, catalogfile.NewJSONWriter, books[:1]))
	if want := `"year":1930,"price":"10.99"}`; !strings.Contains(jsonOut, want) {
		t.Errorf("JSON of book 1 = %q, want it to hold %q", jsonOut, want)
	}
}

// A book without a price (from a database of an earlier version) is
// written with an empty price, which reading refuses as missing.
func TestWriteBookWithoutPrice(t *testing.T) {
	b := bookshop.Book{ID: 1, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 1930}
	out := write(t, catalogfile.NewCSVWriter, []bookshop.Book{b})
	if want := header + "1,mystery,T,A,1930,\n"; string(out) != want {
		t.Errorf("CSV of a book without a price = %q, want %q", out, want)
	}
	if _, err := catalogfile.Parse(bytes.NewReader(out), "f", "EUR"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Parse of it = %v, want a missing price", err)
	}
	out = write(t, catalogfile.NewJSONWriter, []bookshop.Book{b})
	if strings.Contains(string(out), "price") {
		t.Errorf("JSON of a book without a price = %s, want no price", out)
	}
}

// A book without an author or a year, as the tutorial's Recommendations
// server sends them, is written with them empty (CSV) or left out (JSON),
// never as a year 0, and reading refuses it.
func TestWriteBookWithoutAuthorOrYear(t *testing.T) {
	price := bookshop.Money{Units: 1299, Currency: "EUR"}
	books := []bookshop.Book{
		{ID: 1, Category: bookshop.Mystery, Title: "The Maltese Falcon", Price: price},
		{ID: 2, Category: bookshop.Mystery, Title: "Murder on the Orient Express", Author: "Agatha Christie", Price: price},
	}
	out := write(t, catalogfile.NewCSVWriter, books)
	if want := header + "1,mystery,The Maltese Falcon,,,12.99\n2,mystery,Murder on the Orient Express,Agatha Christie,,12.99\n"; string(out) != want {
		t.Errorf("CSV of books without an author or a year = %q, want %q", out, want)
	}
	if _, err := catalogfile.Parse(bytes.NewReader(out), "f", "EUR"); err == nil {
		t.Error("Parse of it = nil error, want the books refused")
	}
	out = write(t, catalogfile.NewJSONWriter, books)
	want := `[
{"id":1,"category":"mystery","title":"The Maltese Falcon","price":"12.99"},
{"id":2,"category":"mystery","title":"Murder on the Orient Express","author":"Agatha Christie","price":"12.99"}
]
`
	if string(out) != want {
		t.Errorf("JSON of books without an author or a year = %s, want %s", out, want)
	}
	rows, err := catalogfile.NewJSONRows(bytes.NewReader(out), "f", "EUR")
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"author", "year"} { // book 1 lacks both, and the author is checked first
		row, err := rows.Next()
		if pe, ok := errors.AsType[*catalogfile.ParseError](row.Err); err != nil || !ok || pe.Field != field {
			t.Errorf("reading it back: row %+v, %v; want the %s refused", row, err, field)
		}
	}
}

// rowReader is what CSVRows and JSONRows have in common.
type rowReader interface {
	Next() (catalogfile.Row, error)
}

func write(tb testing.TB, newWriter func(io.Writer) catalogfile.Writer, books []bookshop.Book) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := newWriter(&buf)
	for _, b := range books {
		if err := w.Write(b); err != nil {
			tb.Fatalf("Write(%+v): %v", b, err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(tb testing.TB, rows rowReader) []bookshop.Book {
	tb.Helper()
	var books []bookshop.Book
	for {
		row, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return books
		}
		if err != nil || row.Err != nil {
			tb.Fatalf("Next: %v, %v", err, row.Err)
		}
		books = append(books, row.Book)
	}
}

// priceSyntax is what a price may look like, once trimmed, in EUR: the
// oracle of FuzzParsePrice, written apart from bookshop.ParseMoney.
var priceSyntax = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,2})?$`)

// FuzzParsePrice checks the price field of both file formats against an
// oracle that reads decimals with math/big: a price is accepted exactly
// when, trimmed, it is digits with at most two decimals, more than 0 and
// at most 10000; then it reads as its exact value in cents, and writes
// back as a decimal that reads the same. A refused price is a
// *ParseError of the field price. Nothing passes through a float.
func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{
		"12.99", "12.5", "12", "0", "0.00", "-1", "1e3", "12.999", "10000", "10000.01", " 12.99", "12,99",
		"99999999999999999999", "0.01", "", ".5", "5.", "+5", "0012.30", "１２", "12.99\n", "\"12\"", "1_000", "\u00a012",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, '\r') {
			t.Skip("encoding/csv turns \\r\\n in a quoted field into \\n: the field read is not s")
		}
		trimmed := strings.TrimSpace(s)
		want, valid := new(big.Rat), priceSyntax.MatchString(trimmed)
		if valid {
			want.SetString(trimmed)
			want.Mul(want, big.NewRat(100, 1))
			valid = want.Sign() > 0 && want.Cmp(big.NewRat(1_000_000, 1)) <= 0
		}

		var csvFile bytes.Buffer
		cw := csv.NewWriter(&csvFile)
		_ = cw.Write([]string{"id", "category", "title", "author", "year", "price"})
		_ = cw.Write([]string{"1", "mystery", "T", "A", "1930", s})
		cw.Flush()
		csvRows, err := catalogfile.NewCSVRows(&csvFile, "fuzz.csv", "EUR")
		if err != nil {
			t.Fatal(err)
		}
		jsonPrice, _ := json.Marshal(s)
		jsonRows, err := catalogfile.NewJSONRows(strings.NewReader(`[{"id":1,"category":"mystery","title":"T","author":"A","year":1930,"price":`+string(jsonPrice)+`}]`), "fuzz.json", "EUR")
		if err != nil {
			t.Fatal(err)
		}
		for name, rows := range map[string]rowReader{"csv": csvRows, "json": jsonRows} {
			row, err := rows.Next()
			if err != nil {
				t.Fatalf("%s: Next with price %q: %v", name, s, err)
			}
			if !valid {
				if pe, ok := errors.AsType[*catalogfile.ParseError](row.Err); !ok || pe.Field != "price" {
					t.Errorf("%s: price %q read as %#v, %v; want a *ParseError of field price", name, s, row.Book.Price, row.Err)
				}
				continue
			}
			if row.Err != nil {
				t.Fatalf("%s: price %q refused: %v; want %s cents", name, s, row.Err, want.RatString())
			}
			p := row.Book.Price
			if p.Currency != "EUR" || !want.IsInt() || big.NewInt(p.Units).Cmp(want.Num()) != 0 {
				t.Errorf("%s: price %q read as %#v, want %s cents", name, s, p, want.RatString())
			}
			if back, err := bookshop.ParseMoney(p.Decimal(), "EUR"); err != nil || back != p {
				t.Errorf("%s: price %q written as %q, which reads as %v, %v", name, s, p.Decimal(), back, err)
			}
		}
	})
}

// TestJSONTextAfterTheArray checks that a JSON catalog is one array: text
// after it (two files put together, a paste cut short) is refused at its
// line, not left out without a word, while spaces after it are fine.
func TestJSONTextAfterTheArray(t *testing.T) {
	const book = `{"id":1,"category":"mystery","title":"T","author":"A","year":1930,"price":"9.99"}`
	for _, tt := range []struct {
		in       string
		wantLine int // 0: no error
	}{
		{"[" + book + "]\n\n", 0},
		{"[" + book + "]\n[" + book + "]\n", 2},
		{"[" + book + "]]]{{garbage", 1},
		{"[\n" + book + "\n]\n\n trailing", 5},
	} {
		rows, err := catalogfile.NewJSONRows(strings.NewReader(tt.in), "f.json", "EUR")
		if err != nil {
			t.Fatalf("NewJSONRows(%q): %v", tt.in, err)
		}
		n := 0
		for {
			_, err = rows.Next()
			if err != nil {
				break
			}
			n++
		}
		pe, isParse := errors.AsType[*catalogfile.ParseError](err)
		switch {
		case tt.wantLine == 0 && (err != io.EOF || n != 1):
			t.Errorf("%q: %d books, then %v; want 1, then io.EOF", tt.in, n, err)
		case tt.wantLine > 0 && (!isParse || pe.Line != tt.wantLine || !strings.Contains(err.Error(), "text after the array of books")):
			t.Errorf("%q: %d books, then %v; want an error of text after the array at line %d", tt.in, n, err, tt.wantLine)
		}
	}
}
