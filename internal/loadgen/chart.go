package loadgen

import (
	"bufio"
	"cmp"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
)

// The size of a chart, in SVG pixels, and its margins.
const (
	chartWidth  = 800
	chartHeight = 440
	marginLeft  = 64
	marginRight = 210 // the legend
	marginTop   = 44
	marginBot   = 52
)

// seriesColors are the colors of the chart's series, in turn: dark enough
// on white, and told apart by the color-blind.
var seriesColors = []string{"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00"}

// WriteChart draws the records of target as an SVG chart of latency
// against load: for each label, a line through its runs in order of
// concurrency, calls per second across and latency up, p99 solid and p50
// dashed, each point marked with its concurrency. The records of other
// targets are left out. It fails when no record is of target.
func WriteChart(w io.Writer, title, target string, records []Record) error {
	var labels []string
	series := make(map[string][]Record)
	for _, r := range records {
		if r.Target != target {
			continue
		}
		if _, ok := series[r.Label]; !ok {
			labels = append(labels, r.Label)
		}
		series[r.Label] = append(series[r.Label], r)
	}
	if len(labels) == 0 {
		return fmt.Errorf("chart: no record of target %q", target)
	}
	var maxRate, maxLatency float64
	for _, l := range labels {
		slices.SortStableFunc(series[l], func(a, b Record) int { return cmp.Compare(a.Concurrency, b.Concurrency) })
		for _, r := range series[l] {
			maxRate = max(maxRate, r.Rate)
			maxLatency = max(maxLatency, r.P99, r.P50)
		}
	}
	xStep, xMax := niceAxis(maxRate)
	yStep, yMax := niceAxis(maxLatency)
	plotW := float64(chartWidth - marginLeft - marginRight)
	plotH := float64(chartHeight - marginTop - marginBot)
	x := func(rate float64) float64 { return marginLeft + rate/xMax*plotW }
	y := func(ms float64) float64 { return marginTop + plotH - ms/yMax*plotH }

	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	p(`<rect width="100%%" height="100%%" fill="#fff"/>` + "\n")
	p(`<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", marginLeft, html.EscapeString(title))

	// Grid and axes.
	for v := 0.0; v <= xMax+xStep/2; v += xStep {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x(v), marginTop, x(v), y(0))
		p(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(v), y(0)+16, formatTick(v, xStep))
	}
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		p(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", marginLeft, y(v), x(xMax), y(v))
		p(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginLeft-6, y(v)+4, formatTick(v, yStep))
	}
	p(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", marginLeft, y(0), x(xMax), y(0))
	p(`<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", marginLeft, marginTop, marginLeft, y(0))
	p(`<text x="%.1f" y="%d" text-anchor="middle">calls per second</text>`+"\n", x(xMax/2), chartHeight-12)
	p(`<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">latency (ms)</text>`+"\n", y(yMax/2))

	// One color per label; p99 solid with the concurrency at each point,
	// p50 dashed.
	for i, l := range labels {
		color := seriesColors[i%len(seriesColors)]
		line := func(v func(Record) float64, dash string) {
			p(`<polyline fill="none" stroke="%s" stroke-width="2"%s points="`, color, dash)
			for j, r := range series[l] {
				if j > 0 {
					p(" ")
				}
				p("%.1f,%.1f", x(r.Rate), y(v(r)))
			}
			p(`"/>` + "\n")
		}
		line(func(r Record) float64 { return r.P99 }, "")
		line(func(r Record) float64 { return r.P50 }, ` stroke-dasharray="5 4"`)
		for _, r := range series[l] {
			p(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(r.Rate), y(r.P99), color)
			p(`<text x="%.1f" y="%.1f" font-size="10" fill="%s">%d</text>`+"\n", x(r.Rate)+4, y(r.P99)-5, color, r.Concurrency)
			p(`<circle cx="%.1f" cy="%.1f" r="2.5" fill="#fff" stroke="%s"/>`+"\n", x(r.Rate), y(r.P50), color)
		}
		ly := marginTop + 8 + i*40
		lx := chartWidth - marginRight + 16
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", lx, ly, lx+24, ly, color)
		p(`<text x="%d" y="%d">%s p99</text>`+"\n", lx+30, ly+4, html.EscapeString(l))
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="5 4"/>`+"\n", lx, ly+16, lx+24, ly+16, color)
		p(`<text x="%d" y="%d">%s p50</text>`+"\n", lx+30, ly+20, html.EscapeString(l))
	}
	p(`<text x="%d" y="%d" font-size="10" fill="#555">Numbers at the points: calls in flight.</text>`+"\n",
		chartWidth-marginRight+16, marginTop+8+len(labels)*40+8)
	p("</svg>\n")
	return b.Flush()
}

// niceAxis returns a tick step of 1, 2 or 5 times a power of ten that cuts
// 0 to top in at most about six steps, and the axis's end: the first tick
// at or past top.
func niceAxis(top float64) (step, end float64) {
	if top <= 0 || math.IsNaN(top) || math.IsInf(top, 0) {
		return 1, 1
	}
	raw := top / 6
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

// formatTick prints a tick value with as many decimals as its step needs.
func formatTick(v, step float64) string {
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step)))
	}
	if v >= 1000 && decimals == 0 {
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}
