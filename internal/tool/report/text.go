package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// columns are the figures' columns of the text table, after the label.
var columns = []string{"Orders", "Promo", "No promo", "Books", "Revenue", "Discount", "Books/order", "Avg order"}

// cells returns f's figures as the text table and the CSV show them:
// amounts as decimals in minor units, an average as "" when there are no
// orders.
func cells(f Figures) []string {
	perOrder, avg := "", ""
	if h, ok := f.BooksPerOrder(); ok {
		perOrder = fmt.Sprintf("%d.%02d", h/100, h%100)
	}
	if m, ok := f.AverageOrderValue(); ok {
		avg = m.Decimal()
	}
	return []string{
		strconv.Itoa(f.Orders()), strconv.Itoa(f.WithPromotion), strconv.Itoa(f.WithoutPromotion),
		strconv.FormatInt(f.Books, 10), f.Revenue.Decimal(), f.Discount.Decimal(), perOrder, avg,
	}
}

// phaseTitle is a phase's row label in the text table.
func phaseTitle(p Phase) string {
	return map[Phase]string{Before: "Before the campaign", During: "During the campaign", After: "After the campaign"}[p]
}

// WriteText writes r as text for a terminal: what it covers, a table of
// the figures by phase and for the whole period, a table day by day (a
// day the campaign starts or ends in has a row for each phase), and a
// footer with how the figures are counted and the averages rounded.
// Numbers are aligned on the right.
func WriteText(w io.Writer, r *Report) error {
	b := bufio.NewWriter(w)
	o := r.Options
	loc := o.Location
	fmt.Fprintf(b, "Promotion %s: its campaign's impact on sales\n", o.Promotion)
	fmt.Fprintf(b, "Period:   %s to %s, days in %s\n", date(o.From), date(o.To), loc)
	fmt.Fprintf(b, "Campaign: %s\n", campaignText(o))
	if r.Currency == "" {
		fmt.Fprintf(b, "Amounts:  none: no order was placed in the period\n")
	} else {
		fmt.Fprintf(b, "Amounts:  %s\n", r.Currency)
	}

	fmt.Fprintln(b)
	var rows [][]string
	for _, p := range r.Phases {
		span := "not in the period"
		if !p.Empty() {
			span = spanText(p.Span, loc)
		}
		rows = append(rows, append([]string{phaseTitle(p.Phase), span}, cells(p.Figures)...))
	}
	rows = append(rows, append([]string{"Whole period", spanText(Span{From: o.From, Until: next(o.To)}, loc)}, cells(r.Total)...))
	writeTable(b, append([]string{"By phase", "From - until"}, columns...), 2, rows)

	fmt.Fprintln(b)
	rows = rows[:0]
	for _, d := range r.Days {
		rows = append(rows, append([]string{date(d.Date), d.Phase.String()}, cells(d.Figures)...))
	}
	writeTable(b, append([]string{"By day", "Phase"}, columns...), 2, rows)

	fmt.Fprintln(b)
	for _, line := range footer(r) {
		fmt.Fprintln(b, line)
	}
	return b.Flush()
}

// campaignText says when the campaign runs.
func campaignText(o Options) string {
	c := o.Campaign
	if c.Ends.IsZero() {
		return fmt.Sprintf("from %s, no end", stamp(c.Starts, o.Location))
	}
	return fmt.Sprintf("from %s until %s", stamp(c.Starts, o.Location), stamp(c.Ends, o.Location))
}

// spanText is a span's times, to the minute, without the zone (the
// header names it).
func spanText(s Span, loc *time.Location) string {
	return clock(s.From, loc) + " - " + clock(s.Until, loc)
}

// footer returns the lines that say how the figures are counted and
// rounded.
func footer(r *Report) []string {
	unit := "the cent"
	if r.Currency != "" && bookshop.MinorDigits(r.Currency) != 2 {
		unit = "the minor unit of " + r.Currency
	}
	cancelled := "none was cancelled"
	switch {
	case r.Cancelled == 1:
		cancelled = "1 cancelled order is not counted"
	case r.Cancelled > 1:
		cancelled = fmt.Sprintf("%d cancelled orders are not counted", r.Cancelled)
	}
	return []string{
		fmt.Sprintf("Orders placed, each in the day and phase of when it was recorded; %s.", cancelled),
		fmt.Sprintf("Promo: orders that used %s; No promo: the others.", r.Options.Promotion),
		"Revenue: what was charged, after discounts. Discount: what promotions took off.",
		fmt.Sprintf("Averages are rounded half-up: Avg order (revenue per order) to %s, 0.005 up to 0.01;", unit),
		"Books/order to two decimals; blank where there is no order.",
	}
}

// writeTable writes rows under head, aligned: the first left columns on
// the left, the others on the right, two spaces apart.
func writeTable(w io.Writer, head []string, left int, rows [][]string) {
	widths := make([]int, len(head))
	for _, row := range append([][]string{head}, rows...) {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range append([][]string{head}, rows...) {
		var line strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if i < left {
				line.WriteString(c + pad)
			} else {
				line.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(line.String(), " "))
	}
}
