// Package catalogfile reads and writes the files of the catalog, CSV and
// JSON, and holds the built-in catalog, which seeds a new Catalog and
// serves Recommendations run alone. What it reads comes as a
// [bookshop.Shelf].
//
// # File format
//
// A catalog file is CSV (RFC 4180) in UTF-8. Lines that start with # are
// comments. The first other line is a header naming the five columns, in
// any order:
//
//	id,category,title,author,year
//	1,mystery,The Maltese Falcon,Dashiell Hammett,1930
//	35,self_help,"Thinking, Fast and Slow",Daniel Kahneman,2011
//
// The columns are:
//
//   - id: a whole number from 1 to 2147483647, unique in the file.
//   - category: mystery, science_fiction or self_help (any case).
//   - title: the title, at most 300 characters; quote it if it has a comma.
//   - author: the author, at most 200 characters.
//   - year: the year of first publication, a whole number from 1 to 9999.
//
// Title and author are trimmed of surrounding spaces and must not be empty;
// no two books may have the same title and author. A file that breaks any
// rule is refused as a whole with a [*ParseError] naming the line and the
// field.
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

// Builtin returns the catalog embedded in the binary: the tutorial's nine
// books and more, at least twelve in each category.
func Builtin() (*bookshop.Shelf, error) {
	return Parse(bytes.NewReader(builtin), "built-in catalog")
}

// Open reads and parses the catalog file at path.
func Open(path string) (*bookshop.Shelf, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a catalog in the package's file format from r. name is used
// in error messages. It returns a *ParseError for the first rule the input
// breaks.
func Parse(r io.Reader, name string) (*bookshop.Shelf, error) {
	books, err := parse(r, name)
	if err != nil {
		return nil, err
	}
	return bookshop.NewShelf(books), nil
}
