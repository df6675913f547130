// Package catalogfile holds the books Bookshop sells: the built-in catalog, a
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
package catalogfile

import (
	"bytes"
	"cmp"
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
	byID       map[int32]int // id -> index in books
	byCategory map[bookshop.Category][]bookshop.Book
}

// New returns a catalog of the given books, which must be valid (as Parse
// checks); it keeps its own copy.
func New(books []bookshop.Book) *Catalog {
	c := &Catalog{
		books:      slices.Clone(books),
		byID:       make(map[int32]int, len(books)),
		byCategory: make(map[bookshop.Category][]bookshop.Book),
	}
	slices.SortFunc(c.books, func(a, b bookshop.Book) int { return cmp.Compare(a.ID, b.ID) })
	for i, b := range c.books {
		c.byID[b.ID] = i
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

// Book implements [bookshop.Catalog]: the book with the given id, or a
// NotFound error.
func (c *Catalog) Book(_ context.Context, id int32) (bookshop.Book, error) {
	i, ok := c.byID[id]
	if !ok {
		return bookshop.Book{}, bookshop.Errorf(bookshop.NotFound, "no book has id %d", id)
	}
	return c.books[i], nil
}

// ExportBooks implements [bookshop.Catalog]. It stops early when ctx ends
// or yield fails. The batches are slices of the catalog: yield must not
// modify or keep them.
func (c *Catalog) ExportBooks(ctx context.Context, cat bookshop.Category, batchSize int, yield func([]bookshop.Book) error) error {
	books := c.books
	if cat != bookshop.AllCategories {
		if !cat.Valid() {
			return bookshop.Errorf(bookshop.Invalid, "unknown category %d", int32(cat))
		}
		books = c.byCategory[cat]
	}
	batchSize = max(batchSize, 1)
	for len(books) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(batchSize, len(books))
		if err := yield(books[:n:n]); err != nil {
			return err
		}
		books = books[n:]
	}
	return nil
}
