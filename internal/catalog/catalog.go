// Package catalog holds the books Bookshop sells: the built-in catalog, a
// parser for catalog files, and an in-memory [Catalog] that serves them as a
// [bookshop.BookStore].
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
package catalog

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

//go:embed books.csv
var builtin []byte

// Catalog is an immutable, in-memory set of books. It is safe for
// concurrent use.
type Catalog struct {
	books      []bookshop.Book
	byCategory map[bookshop.Category][]bookshop.Book
}

// New returns a catalog of the given books, which must be valid (as Parse
// checks); it keeps its own copy.
func New(books []bookshop.Book) *Catalog {
	c := &Catalog{
		books:      slices.Clone(books),
		byCategory: make(map[bookshop.Category][]bookshop.Book),
	}
	slices.SortFunc(c.books, func(a, b bookshop.Book) int { return int(a.ID) - int(b.ID) })
	for _, b := range c.books {
		c.byCategory[b.Category] = append(c.byCategory[b.Category], b)
	}
	for cat, bs := range c.byCategory {
		// Cap the capacity so that no caller's append can write into the next
		// book of the shared backing array.
		c.byCategory[cat] = bs[:len(bs):len(bs)]
	}
	return c
}

// Builtin returns the catalog embedded in the binary: the tutorial's nine
// books and more, at least twelve in each category.
func Builtin() (*Catalog, error) {
	return Parse(bytes.NewReader(builtin), "built-in catalog")
}

// Open reads and parses the catalog file at path.
func Open(path string) (*Catalog, error) {
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
func Parse(r io.Reader, name string) (*Catalog, error) {
	books, err := parse(r, name)
	if err != nil {
		return nil, err
	}
	return New(books), nil
}

// Len returns the number of books in the catalog.
func (c *Catalog) Len() int { return len(c.books) }

// Books returns every book, ordered by id. Callers must not modify it.
func (c *Catalog) Books() []bookshop.Book { return c.books }

// BooksInCategory implements [bookshop.BookStore]. It never fails.
func (c *Catalog) BooksInCategory(_ context.Context, cat bookshop.Category) ([]bookshop.Book, error) {
	return c.byCategory[cat], nil
}
