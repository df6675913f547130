package report

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The size of the chart, in SVG pixels, and its margins: the title and
// the legend above, the axes' labels around.
const (
	svgWidth     = 900
	svgHeight    = 480
	svgLeft      = 64
	svgRight     = 84
	svgTop       = 92
	svgBottom    = 56
	ordersColor  = "#0072b2" // blue and vermilion: told apart by the color-blind
	outsideColor = "#56b4e9" // the orders outside the campaign: a lighter blue
	revenueColor = "#d55e00"
	campaignFill = "#fbeccb"
	campaignLine = "#8a6d00"
)

// The names of the chart's two series, as its legend shows them (the
// revenue's with its currency).
const (
	OrdersSeries  = "Orders"
	RevenueSeries = "Revenue"
)

// OutsideLegend is the legend's words for the lighter blue of the orders
// outside the campaign, beside the orders' own.
const OutsideLegend = "outside the campaign"

// WriteSVG writes r as a chart of its days, self-contained SVG (no
// script, no style sheet, no font or image from elsewhere): the day's
// orders as bars against the left axis, its revenue as a line against
// the right axis, the campaign's days shaded, its start marked with a
// line (and its end, if it has one, in the period). The orders during
// the campaign are blue, those outside it a lighter blue (the legend's
// OutsideLegend); the bar of a day that the campaign starts or ends in
// is stacked, a part for each phase, the earliest at the bottom, so that
// the orders before the start are not drawn as the campaign's. A legend
// names both series; each bar, part and point has a title with its
// figures, which browsers show on hover. The text is escaped, so that
// the file is well-formed XML.
func WriteSVG(w io.Writer, r *Report) error {
	days := r.Daily()
	o := r.Options
	loc := o.Location
	plotW := float64(svgWidth - svgLeft - svgRight)
	plotH := float64(svgHeight - svgTop - svgBottom)
	band := plotW / float64(len(days))
	bottom := float64(svgTop) + plotH

	var maxOrders int
	var maxRevenue float64
	for _, d := range days {
		maxOrders = max(maxOrders, d.Orders())
		maxRevenue = max(maxRevenue, major(d.Revenue))
	}
	oStep, oTop := niceAxis(float64(maxOrders))
	oStep = math.Max(oStep, 1)
	oTop = math.Max(oTop, oStep)
	rStep, rTop := niceAxis(maxRevenue)
	yOrders := func(n float64) float64 { return bottom - n/oTop*plotH }
	yRevenue := func(v float64) float64 { return bottom - v/rTop*plotH }
	// x returns where the moment t is across: its day's band, and as far
	// into it as t is into its day.
	x := func(t time.Time) float64 {
		if !t.After(days[0].Date) {
			return svgLeft
		}
		for i, d := range days {
			end := next(d.Date)
			if t.Before(end) {
				return svgLeft + band*(float64(i)+float64(t.Sub(d.Date))/float64(end.Sub(d.Date)))
			}
		}
		return svgLeft + plotW
	}

	revenueName := RevenueSeries
	if r.Currency != "" {
		revenueName += " (" + r.Currency + ")"
	}
	title := fmt.Sprintf("Promotion %s: orders and revenue a day, %s to %s", o.Promotion, date(o.From), date(o.To))

	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12" role="img" aria-labelledby="title desc">`+"\n",
		svgWidth, svgHeight, svgWidth, svgHeight)
	p(`<title id="title">%s</title>`+"\n", escape(title))
	p(`<desc id="desc">%s</desc>`+"\n", escape(fmt.Sprintf("Bars: %s a day (left axis). Line: %s a day (right axis). Campaign %s; days in %s.",
		OrdersSeries, revenueName, campaignText(o), loc)))
	p(`<rect width="100%%" height="100%%" fill="#fff"/>` + "\n")
	p(`<text x="%d" y="26" font-size="16" font-weight="bold">%s</text>`+"\n", svgLeft, escape(title))
	p(`<text x="%d" y="46" fill="#444">%s</text>`+"\n", svgLeft, escape(fmt.Sprintf("Campaign %s. Days in %s. Placed orders; revenue is what was charged.", campaignText(o), loc)))

	// The campaign's days, shaded, under everything else.
	for _, ph := range r.Phases {
		if ph.Phase == During && !ph.Empty() {
			p(`<rect x="%.1f" y="%d" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n",
				x(ph.From), svgTop, x(ph.Until)-x(ph.From), plotH, campaignFill, escape("Campaign: "+spanText(ph.Span, loc)))
		}
	}

	// The grid, on the orders' ticks; the revenue's ticks at their own
	// heights on the right.
	for v := 0.0; v <= oTop+oStep/2; v += oStep {
		p(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", svgLeft, yOrders(v), svgLeft+plotW, yOrders(v))
		p(`<text x="%d" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", svgLeft-6, yOrders(v)+4, ordersColor, tick(v, oStep))
	}
	for v := 0.0; v <= rTop+rStep/2; v += rStep {
		p(`<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", svgLeft+plotW+6, yRevenue(v)+4, revenueColor, tick(v, rStep))
	}
	p(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", svgLeft, bottom, svgLeft+plotW, bottom)
	p(`<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle" fill="%s">orders a day</text>`+"\n", bottom-plotH/2, ordersColor)
	p(`<text transform="translate(%d %.1f) rotate(90)" text-anchor="middle" fill="%s">%s</text>`+"\n",
		svgWidth-16, bottom-plotH/2, revenueColor, escape(strings.TrimSuffix("revenue a day ("+r.Currency+")", " ()")))

	// The days across: a label every few days, as many as fit.
	every := max(1, int(math.Ceil(float64(len(days))*56/plotW)))
	for i, d := range days {
		if i%every == 0 {
			p(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", svgLeft+band*(float64(i)+0.5), bottom+18, d.Date.Format("Jan 2"))
		}
	}
	p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#444">%s</text>`+"\n", svgLeft+plotW/2, svgHeight-12, escape("day ("+loc.String()+")"))

	// The orders, as bars: a day's parts, one for each phase of a day that
	// the campaign starts or ends in, stacked in the order they come.
	p(`<g id="orders">` + "\n")
	i := -1
	var top float64 // the top of the day's bar so far
	for k, d := range r.Days {
		if k == 0 || !d.Date.Equal(r.Days[k-1].Date) {
			i, top = i+1, bottom
		}
		n := d.Orders()
		if n == 0 {
			continue
		}
		fill, what := outsideColor, date(d.Date)
		if d.Phase == During {
			fill = ordersColor
		}
		if d.From.After(d.Date) || d.Until.Before(next(d.Date)) { // a part of its day
			what = fmt.Sprintf("%s, %s the campaign", spanText(d.Span, loc), d.Phase)
		}
		h := bottom - yOrders(float64(n))
		top -= h
		p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n",
			svgLeft+band*(float64(i)+0.15), top, band*0.7, h, fill,
			escape(fmt.Sprintf("%s: %d orders, %d with the promotion", what, n, d.WithPromotion)))
	}
	p("</g>\n")

	// The revenue, as a line with a point a day.
	p(`<g id="revenue">` + "\n")
	p(`<polyline fill="none" stroke="%s" stroke-width="2" points="`, revenueColor)
	for i, d := range days {
		if i > 0 {
			p(" ")
		}
		p("%.1f,%.1f", svgLeft+band*(float64(i)+0.5), yRevenue(major(d.Revenue)))
	}
	p(`"/>` + "\n")
	for i, d := range days {
		p(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s</title></circle>`+"\n",
			svgLeft+band*(float64(i)+0.5), yRevenue(major(d.Revenue)), revenueColor,
			escape(fmt.Sprintf("%s: revenue %s%s", date(d.Date), d.Revenue.Decimal(), currencySuffix(r.Currency))))
	}
	p("</g>\n")

	// The campaign's start and end, where they are in the period.
	periodEnd := next(o.To)
	for _, m := range []struct {
		at   time.Time
		what string
	}{{o.Campaign.Starts, "Campaign starts"}, {o.Campaign.Ends, "Campaign ends"}} {
		if m.at.Before(o.From) || !m.at.Before(periodEnd) {
			continue
		}
		at := x(m.at)
		anchor, dx := "start", 4.0
		if at > svgLeft+plotW*0.7 {
			anchor, dx = "end", -4
		}
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="6 4"/>`+"\n", at, svgTop-4, at, bottom, campaignLine)
		p(`<text x="%.1f" y="%d" text-anchor="%s" fill="%s">%s</text>`+"\n", at+dx, svgTop-8, anchor, campaignLine, escape(m.what+" "+clock(m.at, loc)))
	}

	// The legend: both series (the orders' lighter blue, outside the
	// campaign, beside them), and the campaign's shade.
	p(`<g id="legend">` + "\n")
	p(`<rect x="%d" y="58" width="14" height="10" fill="%s"/>`+"\n", svgLeft, ordersColor)
	p(`<text x="%d" y="67">%s</text>`+"\n", svgLeft+20, OrdersSeries)
	p(`<rect x="%d" y="58" width="14" height="10" fill="%s"/>`+"\n", svgLeft+75, outsideColor)
	p(`<text x="%d" y="67">%s</text>`+"\n", svgLeft+95, OutsideLegend)
	p(`<line x1="%d" y1="63" x2="%d" y2="63" stroke="%s" stroke-width="2"/>`+"\n", svgLeft+240, svgLeft+264, revenueColor)
	p(`<text x="%d" y="67">%s</text>`+"\n", svgLeft+270, escape(revenueName))
	p(`<rect x="%d" y="58" width="14" height="10" fill="%s" stroke="%s" stroke-width="0.5"/>`+"\n", svgLeft+390, campaignFill, campaignLine)
	p(`<text x="%d" y="67">Campaign</text>`+"\n", svgLeft+410)
	p("</g>\n")
	p("</svg>\n")
	return b.Flush()
}

// major returns an amount in the currency's major unit, as a float, for
// drawing only: the figures themselves stay in minor units.
func major(m bookshop.Money) float64 {
	return float64(m.Units) / math.Pow10(bookshop.MinorDigits(m.Currency))
}

// currencySuffix is " EUR", or "" without a currency.
func currencySuffix(currency string) string {
	if currency == "" {
		return ""
	}
	return " " + currency
}

// escape returns s as XML character data.
func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // writes to a buffer: no error
	return b.String()
}

// niceAxis returns a step of 1, 2 or 5 times a power of ten that cuts 0
// to top in at most about five steps, and the axis's end: the first step
// at or past top (one step for a top of 0).
func niceAxis(top float64) (step, end float64) {
	if top <= 0 || math.IsNaN(top) || math.IsInf(top, 0) {
		return 1, 1
	}
	raw := top / 5
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * pow
	for _, m := range []float64{1, 2, 5} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	return step, math.Ceil(top/step) * step
}

// tick prints an axis's value with the decimals its step needs.
func tick(v, step float64) string {
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}
