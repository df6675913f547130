package catalogfile

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// ParseError is a catalog file, or one row of it, that breaks a rule of the
// format.
type ParseError struct {
	File  string // the name given to Parse, or the path given to Open
	Line  int    // 1-based line number; 0 when the error is not on a line
	Field string // the column concerned, or "" for the whole line
	Err   error  // what is wrong
}

// Error returns "FILE:LINE: field FIELD: what is wrong".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// parse reads a whole catalog file strictly: the first bad row fails it,
// every book needs an id, and no id or title and author may repeat.
func parse(r io.Reader, name, currency string) ([]bookshop.Book, error) {
	rows, err := NewCSVRows(r, name, currency)
	if err != nil {
		return nil, err
	}
	var books []bookshop.Book
	ids := make(map[int32]int)     // id -> line
	titles := make(map[string]int) // MatchKey -> line
	for {
		row, err := rows.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if row.Err != nil {
			return nil, row.Err
		}
		b := row.Book
		if b.ID == 0 {
			return nil, &ParseError{File: name, Line: row.FieldLine("id"), Field: "id", Err: errors.New("missing: every book of a catalog file needs an id")}
		}
		if first, dup := ids[b.ID]; dup {
			return nil, &ParseError{File: name, Line: row.FieldLine("id"), Field: "id", Err: fmt.Errorf("id %d is already used on line %d", b.ID, first)}
		}
		key := b.MatchKey()
		if first, dup := titles[key]; dup {
			return nil, &ParseError{File: name, Line: row.FieldLine("title"), Field: "title", Err: fmt.Errorf("%q by %s is already listed on line %d", b.Title, b.Author, first)}
		}
		ids[b.ID] = row.Line
		titles[key] = row.Line
		books = append(books, b)
	}
	if len(books) == 0 {
		return nil, &ParseError{File: name, Err: errors.New("the file lists no books")}
	}
	return books, nil
}
