package catalogfile

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Writer writes books in one of the catalog file formats. What it writes,
// the matching Rows reader reads back unchanged, in the currency of the
// books' prices: a file holds no currency, only decimals (see the package
// documentation). A book without a price is written with an empty price,
// and one without an author or a year (as the tutorial's Recommendations
// server sends them) with an empty author or year, or in JSON without
// them: an import refuses all three.
type Writer interface {
	// Write writes one book.
	Write(b bookshop.Book) error
	// Close ends the file and flushes it; it does not close the underlying
	// io.Writer.
	Close() error
}

// NewCSVWriter returns a Writer of the CSV format, header first.
func NewCSVWriter(w io.Writer) Writer {
	return &csvWriter{w: csv.NewWriter(w)}
}

type csvWriter struct {
	w       *csv.Writer
	started bool
	rec     [6]string
}

func (c *csvWriter) Write(b bookshop.Book) error {
	if !c.started {
		c.started = true
		if err := c.w.Write(columns); err != nil {
			return err
		}
	}
	c.rec = [6]string{strconv.Itoa(int(b.ID)), b.Category.String(), b.Title, b.Author, year(b.Year), price(b.Price)}
	return c.w.Write(c.rec[:])
}

func (c *csvWriter) Close() error {
	if !c.started {
		c.started = true
		if err := c.w.Write(columns); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

// NewJSONWriter returns a Writer of the JSON format: an array with one book
// a line.
func NewJSONWriter(w io.Writer) Writer {
	return &jsonWriter{w: bufio.NewWriter(w)}
}

type jsonWriter struct {
	w     *bufio.Writer
	count int
}

func (j *jsonWriter) Write(b bookshop.Book) error {
	sep := ",\n"
	if j.count == 0 {
		sep = "[\n"
	}
	j.count++
	data, err := json.Marshal(jsonBook{ID: b.ID, Category: b.Category.String(), Title: b.Title, Author: b.Author, Year: b.Year, Price: price(b.Price)})
	if err != nil {
		return fmt.Errorf("encode book %d: %w", b.ID, err)
	}
	j.w.WriteString(sep)
	_, err = j.w.Write(data)
	return err
}

// year writes a book's year as CSV files hold it: "" for a book without
// one.
func year(y int) string {
	if y == 0 {
		return ""
	}
	return strconv.Itoa(y)
}

// price writes a book's price as the files hold it: a decimal, "12.99",
// in the currency of the catalog; "" for a book without one.
func price(m bookshop.Money) string {
	if m == (bookshop.Money{}) {
		return ""
	}
	return m.Decimal()
}

func (j *jsonWriter) Close() error {
	if j.count == 0 {
		j.w.WriteString("[")
	}
	j.w.WriteString("\n]\n")
	return j.w.Flush()
}
