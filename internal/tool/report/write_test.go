package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
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
// of the rest, the bars of the orders (each part of a stacked bar is one)
// and the points of the revenue.
type svgChart struct {
	legend, texts []string
	bars, points  int
	title         string
	parts         []svgBar
}

// svgBar is a rect of the orders' bars: where it is, its fill, and its
// title.
type svgBar struct {
	x, y, width, height float64
	fill, title         string
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
					c.parts = append(c.parts, barOf(tb, tok))
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
				case tok.Name.Local == "title" && slices.Contains(stack, "orders") && len(c.parts) > 0:
					c.parts[len(c.parts)-1].title = text.String()
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

// barOf returns the bar that rect draws, without its title.
func barOf(tb testing.TB, rect xml.StartElement) svgBar {
	tb.Helper()
	var b svgBar
	for _, a := range rect.Attr {
		var err error
		switch a.Name.Local {
		case "x":
			b.x, err = strconv.ParseFloat(a.Value, 64)
		case "y":
			b.y, err = strconv.ParseFloat(a.Value, 64)
		case "width":
			b.width, err = strconv.ParseFloat(a.Value, 64)
		case "height":
			b.height, err = strconv.ParseFloat(a.Value, 64)
		case "fill":
			b.fill = a.Value
		}
		if err != nil {
			tb.Fatalf("a bar's %s: %v", a.Name.Local, err)
		}
	}
	return b
}

// TestWriteSVG parses the chart of known orders with encoding/xml: it is
// well-formed and self-contained, its legend names both series, it has a
// bar for each day with orders (a part for each phase of a day that the
// campaign starts or ends in) and a point of revenue for each day, and
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
			[]string{report.OrdersSeries, report.OutsideLegend, report.RevenueSeries + " (EUR)", "Campaign"},
			"Campaign starts 2025-06-10 09:00", "Promotion buy_two_get_one_free: orders and revenue a day, 2025-06-08 to 2025-06-12", 5, 5},
		{"a campaign with an end, and a code to escape", func(o *report.Options) {
			o.Promotion = `b2g1<"&">`
			o.Campaign.Ends = at(t, "2025-06-11 12:00:00.000")
		}, []string{report.OrdersSeries, report.OutsideLegend, report.RevenueSeries + " (EUR)", "Campaign"},
			"Campaign starts 2025-06-10 09:00|Campaign ends 2025-06-11 12:00", `Promotion b2g1<"&">: orders and revenue a day, 2025-06-08 to 2025-06-12`, 5, 5},
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
	if c := readSVG(t, b.Bytes()); !slices.Equal(c.legend, []string{report.OrdersSeries, report.OutsideLegend, report.RevenueSeries, "Campaign"}) || c.bars != 0 || c.points != 5 {
		t.Errorf("chart without orders: legend %q, %d bars, %d points; want both series named, 0 bars and 5 points", c.legend, c.bars, c.points)
	}
}

// TestWriteSVGSplitDay checks the bar of the day the campaign of the
// known orders starts in, 2025-06-10 at 09:00, with an order before the
// start and one during the campaign: it is stacked, a part for each
// phase, each saying in its title which part of the day it counts. The
// part before the start stands on the axis, in the lighter blue of the
// days before the campaign; the part during it is on top of it, in the
// blue of the days of the campaign. (It was one bar of two orders, in the
// campaign's colour and shade.)
func TestWriteSVGSplitDay(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteSVG(&b, knownReport(t, nil)); err != nil {
		t.Fatal(err)
	}
	c := readSVG(t, b.Bytes())
	byDay := make(map[string][]svgBar)
	for _, bar := range c.parts {
		byDay[bar.title[:len("2025-06-10")]] = append(byDay[bar.title[:len("2025-06-10")]], bar)
	}
	split := byDay["2025-06-10"]
	var titles []string
	for _, bar := range split {
		titles = append(titles, bar.title)
	}
	want := []string{
		"2025-06-10 00:00 - 2025-06-10 09:00, before the campaign: 1 orders, 0 with the promotion",
		"2025-06-10 09:00 - 2025-06-11 00:00, during the campaign: 1 orders, 1 with the promotion",
	}
	if !slices.Equal(titles, want) {
		t.Fatalf("the bar of 2025-06-10 has parts %q, want %q", titles, want)
	}
	whole := byDay["2025-06-08"] // a day before the campaign, of one order
	if len(whole) != 1 || len(byDay["2025-06-11"]) != 1 {
		t.Fatalf("the bars of 2025-06-08 and 2025-06-11 have %d and %d parts, want 1 each", len(whole), len(byDay["2025-06-11"]))
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.15 } // the coordinates are rounded to 0.1
	before, during, axis := split[0], split[1], whole[0].y+whole[0].height
	switch {
	case !near(before.y+before.height, axis):
		t.Errorf("the part before the campaign ends at %.1f, want it on the axis, at %.1f", before.y+before.height, axis)
	case !near(during.y+during.height, before.y):
		t.Errorf("the part during the campaign ends at %.1f, want it on top of the part before, at %.1f", during.y+during.height, before.y)
	case before.x != during.x || before.width != during.width:
		t.Errorf("the parts are at x %.1f and %.1f, %.1f and %.1f wide; want one bar", before.x, during.x, before.width, during.width)
	case !near(before.height, whole[0].height) || !near(during.height, whole[0].height):
		t.Errorf("the parts of one order each are %.1f and %.1f high, a day of one order %.1f", before.height, during.height, whole[0].height)
	}
	if before.fill != whole[0].fill || during.fill != byDay["2025-06-11"][0].fill || before.fill == during.fill {
		t.Errorf("the parts are filled %s and %s, the days before and during the campaign %s and %s; want the colours of their phases, which differ",
			before.fill, during.fill, whole[0].fill, byDay["2025-06-11"][0].fill)
	}
}
