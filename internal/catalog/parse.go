package catalog

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Limits of the file format.
const (
	maxTitleLen  = 300
	maxAuthorLen = 200
	minYear      = 1
	maxYear      = 9999
)

// columns are the header's column names, in the order of the built-in file.
var columns = []string{"id", "category", "title", "author", "year"}

// ParseError is a catalog file that breaks a rule of the format.
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

func parse(r io.Reader, name string) ([]bookshop.Book, error) {
	// Editors on some systems start UTF-8 files with a byte order mark.
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	cr.ReuseRecord = true

	fail := func(line int, field string, format string, args ...any) error {
		return &ParseError{File: name, Line: line, Field: field, Err: fmt.Errorf(format, args...)}
	}

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fail(0, "", "the file has no header line (want %s)", strings.Join(columns, ","))
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	headerLine, _ := cr.FieldPos(0)
	index := make(map[string]int, len(columns)) // column name -> position
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			return nil, fail(headerLine, fmt.Sprintf("column %d", i+1), "empty column name in header: want the columns %s", strings.Join(columns, ","))
		}
		if !slices.Contains(columns, h) {
			return nil, fail(headerLine, h, "unknown column in header: want the columns %s", strings.Join(columns, ","))
		}
		if _, dup := index[h]; dup {
			return nil, fail(headerLine, h, "column appears twice in header")
		}
		index[h] = i
	}
	for _, c := range columns {
		if _, ok := index[c]; !ok {
			return nil, fail(headerLine, c, "column missing from header: want the columns %s", strings.Join(columns, ","))
		}
	}

	var books []bookshop.Book
	ids := make(map[int32]int)     // id -> line
	titles := make(map[string]int) // title+author -> line
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fail(line, "", "line has %d fields, want %d (%s)", len(rec), len(header), strings.Join(columns, ","))
		}
		field := func(col string) string { return strings.TrimSpace(rec[index[col]]) }
		fieldLine := func(col string) int { l, _ := cr.FieldPos(index[col]); return l }

		var b bookshop.Book

		id, err := strconv.ParseInt(field("id"), 10, 32)
		if err != nil || id < 1 {
			return nil, fail(fieldLine("id"), "id", "%q is not a whole number from 1 to 2147483647", field("id"))
		}
		b.ID = int32(id)
		if first, dup := ids[b.ID]; dup {
			return nil, fail(fieldLine("id"), "id", "id %d is already used on line %d", b.ID, first)
		}

		b.Category, err = bookshop.ParseCategory(field("category"))
		if err != nil {
			return nil, fail(fieldLine("category"), "category", "%q is not a category: use %s", field("category"), bookshop.CategoryNames())
		}

		b.Title = field("title")
		if err := checkText(b.Title, maxTitleLen); err != nil {
			return nil, fail(fieldLine("title"), "title", "%v", err)
		}
		b.Author = field("author")
		if err := checkText(b.Author, maxAuthorLen); err != nil {
			return nil, fail(fieldLine("author"), "author", "%v", err)
		}

		year, err := strconv.Atoi(field("year"))
		if err != nil || year < minYear || year > maxYear {
			return nil, fail(fieldLine("year"), "year", "%q is not a year from %d to %d", field("year"), minYear, maxYear)
		}
		b.Year = year

		key := fold(b.Title) + "\x00" + fold(b.Author)
		if first, dup := titles[key]; dup {
			return nil, fail(fieldLine("title"), "title", "%q by %s is already listed on line %d", b.Title, b.Author, first)
		}
		ids[b.ID] = line
		titles[key] = line
		books = append(books, b)
	}
	if len(books) == 0 {
		return nil, fail(0, "", "the file lists no books")
	}
	return books, nil
}

// checkText reports whether s is a usable title or author.
func checkText(s string, maxLen int) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case !utf8.ValidString(s):
		return errors.New("is not valid UTF-8")
	case utf8.RuneCountInString(s) > maxLen:
		return fmt.Errorf("is longer than %d characters", maxLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	return nil
}

// fold maps s to a key that is the same for two strings exactly when
// strings.EqualFold finds them equal: each letter becomes the smallest of
// its Unicode simple case folding orbit (so Σ, σ and ς are one letter).
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// csvError turns an error of encoding/csv, such as a stray quote, into a
// *ParseError with its line.
func csvError(name string, err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return &ParseError{File: name, Line: pe.Line, Err: pe.Err}
	}
	return &ParseError{File: name, Err: err}
}
