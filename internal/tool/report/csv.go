package report

import (
	"encoding/csv"
	"io"
	"time"
)

// CSVHeader is the first record WriteCSV writes: the names of its
// columns.
var CSVHeader = []string{
	"row", "date", "phase", "from", "until",
	"orders", "orders_with_promotion", "orders_without_promotion", "books_sold",
	"revenue", "discount", "average_books_per_order", "average_order_value", "currency",
}

// WriteCSV writes r as CSV for a spreadsheet: CSVHeader, then a record
// for each Day (row "day", its date and phase), one for each phase (row
// "phase", no date) and one for the whole period (row "period", no date
// and no phase). from and until are the row's times in RFC 3339, in the
// report's Location. Amounts are decimals in the currency's minor units
// ("12.99"), in the last column's currency; an average is empty for a
// row without orders, and rounded half-up otherwise (see Figures).
func WriteCSV(w io.Writer, r *Report) error {
	c := csv.NewWriter(w)
	loc := r.Options.Location
	record := func(row, day, phase string, s Span, f Figures) []string {
		from, until := "", ""
		if !s.Empty() {
			from, until = s.From.In(loc).Format(time.RFC3339Nano), s.Until.In(loc).Format(time.RFC3339Nano)
		}
		return append(append([]string{row, day, phase, from, until}, cells(f)...), r.Currency)
	}
	records := [][]string{CSVHeader}
	for _, d := range r.Days {
		records = append(records, record("day", date(d.Date), d.Phase.String(), d.Span, d.Figures))
	}
	for _, p := range r.Phases {
		records = append(records, record("phase", "", p.Phase.String(), p.Span, p.Figures))
	}
	records = append(records, record("period", "", "", Span{From: r.Options.From, Until: next(r.Options.To)}, r.Total))
	return c.WriteAll(records)
}
