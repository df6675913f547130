package catalogfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// columns are the CSV header's column names, in the order of the built-in
// file and of exports.
var columns = []string{"id", "category", "title", "author", "year", "price"}

// Row is one book read from a file, where it was, and what is wrong with
// it, if anything. Rows let an import report every bad row of a file
// rather than stop at the first.
type Row struct {
	Book bookshop.Book
	Line int   // the line the book starts on
	Err  error // a *ParseError for a row that breaks a rule, else nil

	fieldLines map[string]int // CSV: the line of each field
}

// FieldLine returns the line a field of the row is on (the row's line for a
// field that is not known).
func (r Row) FieldLine(field string) int {
	if l, ok := r.fieldLines[field]; ok {
		return l
	}
	return r.Line
}

// CSVRows reads the rows of a catalog CSV file one at a time (the format is
// in the package documentation). An empty id, or a header without the id
// column, reads as id 0, which an import takes as "assign one".
type CSVRows struct {
	name     string
	currency string // of the prices
	cr       *csv.Reader
	header   []string
	index    map[string]int // column name -> position
}

// NewCSVRows reads the header of a catalog CSV file from r, whose prices
// are amounts of currency (the shop's). It returns a *ParseError for a bad
// header or currency; name is used in error messages.
func NewCSVRows(r io.Reader, name, currency string) (*CSVRows, error) {
	if err := bookshop.CheckCurrency(currency); err != nil {
		return nil, &ParseError{File: name, Err: err}
	}
	br := bufio.NewReader(r)
	// Editors on some systems start UTF-8 files with a byte order mark.
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked in Next, with a clearer message
	rows := &CSVRows{name: name, currency: currency, cr: cr, index: make(map[string]int, len(columns))}
	fail := func(line int, field, format string, args ...any) error {
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
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch _, dup := rows.index[h]; {
		case h == "":
			return nil, fail(headerLine, fmt.Sprintf("column %d", i+1), "empty column name in header: want the columns %s", strings.Join(columns, ","))
		case !slices.Contains(columns, h):
			return nil, fail(headerLine, h, "unknown column in header: want the columns %s", strings.Join(columns, ","))
		case dup:
			return nil, fail(headerLine, h, "column appears twice in header")
		}
		rows.index[h] = i
	}
	for _, c := range columns {
		if _, ok := rows.index[c]; !ok && c != "id" { // without ids, an import assigns them
			return nil, fail(headerLine, c, "column missing from header: want the columns %s", strings.Join(columns, ","))
		}
	}
	rows.header = header
	return rows, nil
}

// Next returns the next row. The error is io.EOF at the end, or a
// *ParseError when the file cannot be read further; a row that breaks a
// rule comes back with Row.Err set, and reading can go on.
func (r *CSVRows) Next() (Row, error) {
	rec, err := r.cr.Read()
	if errors.Is(err, io.EOF) {
		return Row{}, io.EOF
	}
	if pe, ok := errors.AsType[*csv.ParseError](err); ok && !errors.Is(err, csv.ErrFieldCount) {
		// A quoting error spoils this record only: report it on the row.
		return Row{Line: pe.StartLine, Err: &ParseError{File: r.name, Line: pe.Line, Err: pe.Err}}, nil
	}
	if err != nil && !errors.Is(err, csv.ErrFieldCount) {
		return Row{}, csvError(r.name, err)
	}
	line, _ := r.cr.FieldPos(0)
	row := Row{Line: line}
	if len(rec) != len(r.header) {
		row.Err = &ParseError{File: r.name, Line: line, Err: fmt.Errorf("line has %d fields, want %d (%s)", len(rec), len(r.header), strings.Join(columns, ","))}
		return row, nil
	}
	row.fieldLines = make(map[string]int, len(columns))
	for c, i := range r.index {
		row.fieldLines[c], _ = r.cr.FieldPos(i)
	}
	field := func(col string) string {
		i, ok := r.index[col]
		if !ok {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	fail := func(col, format string, args ...any) (Row, error) {
		row.Err = &ParseError{File: r.name, Line: row.FieldLine(col), Field: col, Err: fmt.Errorf(format, args...)}
		return row, nil
	}

	if s := field("id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 32)
		if err != nil || id < 1 {
			return fail("id", "%q is not a whole number from 1 to 2147483647", s)
		}
		row.Book.ID = int32(id)
	}
	cat, err := bookshop.ParseCategory(field("category"))
	if err != nil {
		return fail("category", "%q is not a category: use %s", field("category"), bookshop.CategoryNames())
	}
	row.Book.Category = cat
	row.Book.Title = field("title")
	row.Book.Author = field("author")
	year, err := strconv.Atoi(field("year"))
	if err != nil {
		return fail("year", "%q is not a year from %d to %d", field("year"), bookshop.MinYear, bookshop.MaxYear)
	}
	row.Book.Year = year
	if s := field("price"); s != "" { // an empty price is Validate's "missing"
		if row.Book.Price, err = bookshop.ParseMoney(s, r.currency); err != nil {
			return fail("price", "%s", bookshop.ErrorMessage(err))
		}
	}
	if p, ok := errors.AsType[*bookshop.FieldError](row.Book.Validate()); ok {
		if p.Field == "year" {
			return fail("year", "%q is not a year from %d to %d", field("year"), bookshop.MinYear, bookshop.MaxYear)
		}
		return fail(p.Field, "%s", p.Message)
	}
	return row, nil
}

// csvError turns an error of encoding/csv, such as a stray quote, into a
// *ParseError with its line.
func csvError(name string, err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return &ParseError{File: name, Line: pe.Line, Err: pe.Err}
	}
	return &ParseError{File: name, Err: err}
}

// MaxJSONFileSize is the largest JSON file JSONRows reads: it holds the
// file in memory to tell each book's line.
const MaxJSONFileSize = 512 << 20

// JSONRows reads the rows of a catalog JSON file: an array of objects with
// the keys id (optional), category, title, author, year and price, for
// example
//
//	[
//	{"id":1,"category":"mystery","title":"The Maltese Falcon","author":"Dashiell Hammett","year":1930,"price":"12.99"}
//	]
//
// The price is a JSON string holding a decimal, as in CSV: a JSON number
// is refused, because most JSON readers hold numbers as floats.
type JSONRows struct {
	name     string
	currency string // of the prices
	data     []byte
	dec      *json.Decoder
	line     int // the line of data[lineOff]
	off      int
}

// NewJSONRows reads a catalog JSON file from r, whose prices are amounts of
// currency (the shop's). It returns a *ParseError if the file does not
// start a JSON array, or for a bad currency; name is used in error
// messages.
func NewJSONRows(r io.Reader, name, currency string) (*JSONRows, error) {
	if err := bookshop.CheckCurrency(currency); err != nil {
		return nil, &ParseError{File: name, Err: err}
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxJSONFileSize+1))
	if err != nil {
		return nil, &ParseError{File: name, Err: err}
	}
	if len(data) > MaxJSONFileSize {
		return nil, &ParseError{File: name, Err: fmt.Errorf("the file is larger than %d MiB: split it", MaxJSONFileSize>>20)}
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	rows := &JSONRows{name: name, currency: currency, data: data, dec: json.NewDecoder(bytes.NewReader(data)), line: 1}
	tok, err := rows.dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '[' {
		return nil, &ParseError{File: name, Line: rows.lineAt(int(rows.dec.InputOffset())), Err: errors.New("a JSON catalog is an array of books: it must start with [")}
	}
	return rows, nil
}

// lineAt returns the line of byte offset off, counting on from the last
// call (offsets only grow).
func (r *JSONRows) lineAt(off int) int {
	off = min(off, len(r.data))
	if off > r.off {
		r.line += bytes.Count(r.data[r.off:off], []byte("\n"))
		r.off = off
	}
	return r.line
}

// jsonBook is a book as JSON files hold it.
type jsonBook struct {
	ID       int32  `json:"id"`
	Category string `json:"category"`
	Title    string `json:"title"`
	// Author and Year are omitted for a book without them, which an
	// import refuses.
	Author string `json:"author,omitempty"`
	Year   int    `json:"year,omitempty"`
	// Price is a decimal in a string, "12.99"; omitted for a book without
	// a price, which an import refuses.
	Price string `json:"price,omitempty"`
}

// Next returns the next row, as CSVRows.Next does.
func (r *JSONRows) Next() (Row, error) {
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil {
			return Row{}, &ParseError{File: r.name, Line: r.lineAt(int(r.dec.InputOffset())), Err: fmt.Errorf("the array of books is not closed: %v", err)}
		}
		// Only spaces may follow the array: two files put together, or a
		// file cut and pasted, would otherwise import only their first
		// part, and say nothing of the rest.
		end := int(r.dec.InputOffset())
		if rest := bytes.TrimLeft(r.data[end:], " \t\r\n"); len(rest) > 0 {
			return Row{}, &ParseError{File: r.name, Line: r.lineAt(len(r.data) - len(rest)), Err: errors.New("text after the array of books: a JSON catalog is one array")}
		}
		return Row{}, io.EOF
	}
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return Row{}, &ParseError{File: r.name, Line: r.lineAt(int(r.dec.InputOffset())), Err: fmt.Errorf("not valid JSON: %v", err)}
	}
	// The element ends at InputOffset; it starts len(raw) bytes before,
	// give or take the spaces Decode skipped before it.
	end := int(r.dec.InputOffset())
	start := end - len(raw)
	row := Row{Line: r.lineAt(start)}
	r.lineAt(end)

	var jb jsonBook
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jb); err != nil {
		field := ""
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			field = te.Field
			err = fmt.Errorf("want a %s, got a JSON %s", te.Type, te.Value)
			if field == "price" {
				err = fmt.Errorf(`want a decimal in a string, such as "12.99", got a JSON %s`, te.Value)
			}
		} else if _, ok := err.(*json.SyntaxError); !ok && strings.HasPrefix(err.Error(), "json: unknown field ") {
			field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			err = errors.New("unknown field: the fields are id, category, title, author, year and price")
		} else if raw[0] != '{' {
			err = errors.New("each book is a JSON object")
		}
		row.Err = &ParseError{File: r.name, Line: row.Line, Field: field, Err: err}
		return row, nil
	}
	cat, err := bookshop.ParseCategory(strings.TrimSpace(jb.Category))
	if err != nil {
		row.Err = &ParseError{File: r.name, Line: row.Line, Field: "category", Err: fmt.Errorf("%q is not a category: use %s", jb.Category, bookshop.CategoryNames())}
		return row, nil
	}
	row.Book = bookshop.Book{ID: jb.ID, Category: cat, Title: strings.TrimSpace(jb.Title), Author: strings.TrimSpace(jb.Author), Year: jb.Year}
	if s := strings.TrimSpace(jb.Price); s != "" { // an empty price is Validate's "missing"
		if row.Book.Price, err = bookshop.ParseMoney(s, r.currency); err != nil {
			row.Err = &ParseError{File: r.name, Line: row.Line, Field: "price", Err: errors.New(bookshop.ErrorMessage(err))}
			return row, nil
		}
	}
	if p, ok := errors.AsType[*bookshop.FieldError](row.Book.Validate()); ok {
		row.Err = &ParseError{File: r.name, Line: row.Line, Field: p.Field, Err: errors.New(p.Message)}
	}
	return row, nil
}
