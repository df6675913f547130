package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/tool/report"
)

// knownReport returns the report of knownOrders, changed by change.
func knownReport(tb testing.TB, change func(*report.Options)) *report.Report {
	tb.Helper()
	opts := knownOptions(tb)
	if change != nil {
		change(&opts)
	}
	r, err := report.Compute(knownOrders(tb), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestWriteText checks the text of the report of known orders: aligned,
// with the figures worked out in TestCompute and the rules in the footer.
func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteText(&b, knownReport(t, nil)); err != nil {
		t.Fatal(err)
	}
	want := `Promotion buy_two_get_one_free: its campaign's impact on sales
Period:   2025-06-08 to 2025-06-12, days in UTC
Campaign: from 2025-06-10 09:00 UTC, no end
Amounts:  EUR

By phase             From - until                         Orders  Promo  No promo  Books  Revenue  Discount  Books/order  Avg order
Before the campaign  2025-06-08 00:00 - 2025-06-10 09:00       3      0         3      4    35.74      0.00         1.33      11.91
During the campaign  2025-06-10 09:00 - 2025-06-13 00:00       3      2         1      7    37.99     10.99         2.33      12.66
Whole period         2025-06-08 00:00 - 2025-06-13 00:00       6      2         4     11    73.73     10.99         1.83      12.29

By day      Phase   Orders  Promo  No promo  Books  Revenue  Discount  Books/order  Avg order
2025-06-08  before       1      0         1      1    12.99      0.00         1.00      12.99
2025-06-09  before       1      0         1      2    15.50      0.00         2.00      15.50
2025-06-10  before       1      0         1      1     7.25      0.00         1.00       7.25
2025-06-10  during       1      1         0      3    18.00      6.00         3.00      18.00
2025-06-11  during       2      1         1      4    19.99      4.99         2.00      10.00
2025-06-12  during       0      0         0      0     0.00      0.00

Orders placed, each in the day and phase of when it was recorded; 1 cancelled order is not counted.
Promo: orders that used buy_two_get_one_free; No promo: the others.
Revenue: what was charged, after discounts. Discount: what promotions took off.
Averages are rounded half-up: Avg order (revenue per order) to the cent, 0.005 up to 0.01;
Books/order to two decimals; blank where there is no order.
`
	if got := b.String(); got != want {
		t.Errorf("WriteText wrote\n%s\nwant\n%s", got, want)
	}

	// With an end, the After phase; without orders, no currency.
	b.Reset()
	r, err := report.Compute(nil, report.Options{Promotion: "p", From: day(t, "2025-06-08"), To: day(t, "2025-06-08"),
		Campaign: bookshop.Campaign{Starts: at(t, "2025-06-01 00:00:00.000"), Ends: at(t, "2025-06-02 00:00:00.000")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := report.WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Campaign: from 2025-06-01 00:00 UTC until 2025-06-02 00:00 UTC\n",
		"Amounts:  none: no order was placed in the period\n",
		"Before the campaign  not in the period                         0      0         0      0     0.00      0.00\n",
		"After the campaign   2025-06-08 00:00 - 2025-06-09 00:00       0",
		"2025-06-08  after       0      0         0      0     0.00      0.00\n",
		"none was cancelled.",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WriteText of an empty report wrote\n%s\nwant it to hold %q", b.String(), want)
		}
	}
}

// TestWriteCSV reads the CSV of the report of known orders back: a header
// and a record for each day, phase and the period, the days' figures
// adding up to the period's to the cent.
func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteCSV(&b, knownReport(t, nil)); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV back: %v", err)
	}
	if len(records) != 1+6+2+1 {
		t.Fatalf("%d records, want a header, 6 days, 2 phases and the period", len(records))
	}
	if !slices.Equal(records[0], report.CSVHeader) {
		t.Errorf("header %q, want %q", records[0], report.CSVHeader)
	}
	for i, want := range map[int]string{
		4: "day,2025-06-10,during,2025-06-10T09:00:00Z,2025-06-11T00:00:00Z,1,1,0,3,18.00,6.00,3.00,18.00,EUR",
		6: "day,2025-06-12,during,2025-06-12T00:00:00Z,2025-06-13T00:00:00Z,0,0,0,0,0.00,0.00,,,EUR",
		7: "phase,,before,2025-06-08T00:00:00Z,2025-06-10T09:00:00Z,3,0,3,4,35.74,0.00,1.33,11.91,EUR",
		8: "phase,,during,2025-06-10T09:00:00Z,2025-06-13T00:00:00Z,3,2,1,7,37.99,10.99,2.33,12.66,EUR",
		9: "period,,,2025-06-08T00:00:00Z,2025-06-13T00:00:00Z,6,2,4,11,73.73,10.99,1.83,12.29,EUR",
	} {
		if got := strings.Join(records[i], ","); got != want {
			t.Errorf("record %d = %s, want %s", i, got, want)
		}
	}
	// The days' revenue and discount, read as money, add up to the
	// period's.
	col := func(name string) int { return slices.Index(report.CSVHeader, name) }
	var revenue, discount bookshop.Money = bookshop.Money{Currency: "EUR"}, bookshop.Money{Currency: "EUR"}
	for _, rec := range records[1:7] {
		if rec[0] != "day" {
			t.Fatalf("record %q is not a day's", rec)
		}
		for _, sum := range []struct {
			total *bookshop.Money
			field string
		}{{&revenue, "revenue"}, {&discount, "discount"}} {
			m, err := bookshop.ParseMoney(rec[col(sum.field)], rec[col("currency")])
			if err != nil {
				t.Fatalf("%s %q: %v", sum.field, rec[col(sum.field)], err)
			}
			*sum.total, _ = sum.total.Add(m)
		}
	}
	period := records[9]
	if revenue.Decimal() != period[col("revenue")] || discount.Decimal() != period[col("discount")] {
		t.Errorf("the days add up to revenue %s and discount %s; the period says %s and %s",
			revenue.Decimal(), discount.Decimal(), period[col("revenue")], period[col("discount")])
	}
}

// svgChart is what TestWriteSVG reads of a chart: the text of the legend,
// of the rest, the bars of the orders and the points of the revenue.
type svgChart struct {
	legend, texts []string
	bars, points  int
	title         string
}

// readSVG parses an SVG strictly, failing the test if it is not
// well-formed XML with an svg root in the SVG namespace.
func readSVG(tb testing.TB, data []byte) svgChart {
	tb.Helper()
	var (
		c     svgChart
		stack []string // the ids of the open groups, "" for those without
		root  bool
		text  *strings.Builder
		intro bool
	)
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("the SVG is not well-formed XML: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if !root {
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					tb.Fatalf("root element %v, want svg in the SVG namespace", tok.Name)
				}
				root = true
			}
			id := ""
			for _, a := range tok.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
				if a.Name.Local == "href" {
					tb.Errorf("the SVG links to %q: want it self-contained", a.Value)
				}
			}
			in := func(group string) bool { return slices.Contains(stack, group) }
			switch tok.Name.Local {
			case "rect":
				if in("orders") {
					c.bars++
				}
			case "circle":
				if in("revenue") {
					c.points++
				}
			case "text", "title":
				text = &strings.Builder{}
				intro = tok.Name.Local == "title" && len(stack) == 1
			case "script", "style", "image", "foreignObject":
				tb.Errorf("the SVG has a %s element: want it self-contained and static", tok.Name.Local)
			}
			stack = append(stack, id)
		case xml.CharData:
			if text != nil {
				text.Write(tok)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if text != nil && (tok.Name.Local == "text" || tok.Name.Local == "title") {
				switch {
				case intro:
					c.title = text.String()
				case tok.Name.Local == "text" && slices.Contains(stack, "legend"):
					c.legend = append(c.legend, text.String())
				case tok.Name.Local == "text":
					c.texts = append(c.texts, text.String())
				}
				text, intro = nil, false
			}
		}
	}
	if !root {
		tb.Fatal("the SVG has no root element")
	}
	return c
}

// TestWriteSVG parses the chart of known orders with encoding/xml: it is
// well-formed and self-contained, its legend names both series, it has a
// bar for each day with orders and a point of revenue for each day, and
// it marks the campaign's start (and end).
func TestWriteSVG(t *testing.T) {
	for _, tc := range []struct {
		name         string
		change       func(*report.Options)
		legend       []string
		marks, title string
		bars, points int
	}{
		{"a campaign without an end", nil,
			[]string{report.OrdersSeries, report.RevenueSeries + " (EUR)", "Campaign"},
			"Campaign starts 2025-06-10 09:00", "Promotion buy_two_get_one_free: orders and revenue a day, 2025-06-08 to 2025-06-12", 4, 5},
		{"a campaign with an end, and a code to escape", func(o *report.Options) {
			o.Promotion = `b2g1<"&">`
			o.Campaign.Ends = at(t, "2025-06-11 12:00:00.000")
		}, []string{report.OrdersSeries, report.RevenueSeries + " (EUR)", "Campaign"},
			"Campaign starts 2025-06-10 09:00|Campaign ends 2025-06-11 12:00", `Promotion b2g1<"&">: orders and revenue a day, 2025-06-08 to 2025-06-12`, 4, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			r := knownReport(t, tc.change)
			if err := report.WriteSVG(&b, r); err != nil {
				t.Fatal(err)
			}
			c := readSVG(t, b.Bytes())
			if !slices.Equal(c.legend, tc.legend) {
				t.Errorf("legend %q, want %q", c.legend, tc.legend)
			}
			if c.title != tc.title {
				t.Errorf("title %q, want %q", c.title, tc.title)
			}
			for _, mark := range strings.Split(tc.marks, "|") {
				if !slices.Contains(c.texts, mark) {
					t.Errorf("no text %q among %q", mark, c.texts)
				}
			}
			if c.bars != tc.bars || c.points != tc.points {
				t.Errorf("%d bars and %d points, want %d and %d", c.bars, c.points, tc.bars, tc.points)
			}
		})
	}

	// A report without orders is a chart too, with a legend.
	r, err := report.Compute(nil, knownOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.WriteSVG(&b, r); err != nil {
		t.Fatal(err)
	}
	if c := readSVG(t, b.Bytes()); !slices.Equal(c.legend, []string{report.OrdersSeries, report.RevenueSeries, "Campaign"}) || c.bars != 0 || c.points != 5 {
		t.Errorf("chart without orders: legend %q, %d bars, %d points; want both series named, 0 bars and 5 points", c.legend, c.bars, c.points)
	}
}
