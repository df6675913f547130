// Package catalogfile reads and writes the files of the catalog, CSV and
// JSON, and holds the built-in catalog, which seeds a new Catalog and
// serves Recommendations run alone. What it reads comes as a
// [bookshop.Shelf].
//
// # File format
//
// A catalog file is CSV (RFC 4180) in UTF-8. Lines that start with # are
// comments. The first other line is a header naming the six columns, in
// any order:
//
//	id,category,title,author,year,price
//	1,mystery,The Maltese Falcon,Dashiell Hammett,1930,10.99
//	35,self_help,"Thinking, Fast and Slow",Daniel Kahneman,2011,12.99
//
// The columns are:
//
//   - id: a whole number from 1 to 2147483647, unique in the file.
//   - category: mystery, science_fiction or self_help (any case).
//   - title: the title, at most 300 characters; quote it if it has a comma.
//   - author: the author, at most 200 characters.
//   - year: the year of first publication, a whole number from 1 to 9999.
//   - price: what the shop sells the book for, a decimal in the shop's
//     currency (EUR unless the Catalog's -currency says otherwise): digits,
//     then a point and at most as many digits as the currency has minor
//     digits (two for EUR: 12.99, 12.5 or 12); no sign, exponent,
//     thousands separator or currency symbol. More than zero, and at most
//     [bookshop.MaxPrice] (10000). The file holds no currency: it is the
//     shop's.
//
// Title, author and price are trimmed of surrounding spaces; title and
// author must not be empty; no two books may have the same title and
// author. A file that breaks any rule is refused as a whole with a
// [*ParseError] naming the line and the field.
//
// Prices are read into integer minor units ([bookshop.ParseMoney]) and
// written back with [bookshop.Money.Decimal], never through a float: an
// exported file, imported and exported again, is the same, byte for byte
// (a price written 12.5 comes back as 12.50).
//
// JSON files ([JSONRows]) hold the same fields, the price as a JSON string
// ("12.99"), never a JSON number.
package catalogfile

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

//go:embed books.csv
var builtin []byte

// BuiltinCurrency is the currency of the built-in catalog's prices.
const BuiltinCurrency = bookshop.DefaultCurrency

// Builtin returns the catalog embedded in the binary: the tutorial's nine
// books and more, at least twelve in each category, priced in
// BuiltinCurrency.
func Builtin() (*bookshop.Shelf, error) {
	return Parse(bytes.NewReader(builtin), "built-in catalog", BuiltinCurrency)
}

// Open reads and parses the catalog file at path, whose prices are in
// currency.
func Open(path, currency string) (*bookshop.Shelf, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	defer f.Close()
	return Parse(f, path, currency)
}

// Parse reads a catalog in the package's file format from r, whose prices
// are in currency. name is used in error messages. It returns a
// *ParseError for the first rule the input breaks.
func Parse(r io.Reader, name, currency string) (*bookshop.Shelf, error) {
	books, err := parse(r, name, currency)
	if err != nil {
		return nil, err
	}
	return bookshop.NewShelf(books), nil
}
