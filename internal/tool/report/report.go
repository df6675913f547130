// Package report computes a promotion's impact on sales from the shop's
// orders, as `bookshop report promotion` prints it: for a period of days,
// the orders placed with and without the promotion, the books sold, the
// revenue, the discount given, the average books per order and the
// average order value, before the campaign, during it and after it, and
// day by day; then writes it as an aligned text table (WriteText), CSV
// for a spreadsheet (WriteCSV) or an SVG chart of daily orders and
// revenue with the campaign marked (WriteSVG).
//
// It reads orders only as the Orders service's contract gives them
// (Collect pages through ListAll; ordersclient.Client is a Lister), never
// the service's database. Money stays in integer minor units; the two
// averages are the only divisions, rounded half-up (see Figures).
package report

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// MaxDays is the most days a report covers: a year, leap or not.
const MaxDays = 366

// PageSize is how many orders Collect asks for a page: the most
// ListAllOrders gives.
const PageSize = 100

// Options say what a report covers.
type Options struct {
	// Promotion is the code that an order's Promotions holds when the
	// order used the promotion, such as
	// promotionsclient.BuyTwoGetOneFreeCode.
	Promotion string
	// From and To are the first and the last day of the period, both
	// counted: only their year, month and day matter, read in Location.
	From, To time.Time
	// Location is the time zone in which days start and end; UTC when
	// nil.
	Location *time.Location
	// Campaign is when the promotion ran: an order recorded at its
	// Starts is during it, one recorded at its Ends (unless zero) after
	// it.
	Campaign bookshop.Campaign
}

// Validate returns an error that says what is wrong with o, or nil: a
// promotion code is needed, From must not be after To, the period is
// MaxDays at most, and the campaign has a start, and an end after it if
// any.
func (o Options) Validate() error {
	o = o.normal()
	switch days := o.days(); {
	case o.Promotion == "":
		return fmt.Errorf("the promotion's code is empty: name the code that orders record, such as %s", promotionsclient.LatestCode)
	case o.From.After(o.To):
		return fmt.Errorf("the period's first day %s is after its last day %s", date(o.From), date(o.To))
	case days > MaxDays:
		return fmt.Errorf("the period from %s to %s is more than %d days, the most a report covers", date(o.From), date(o.To), MaxDays)
	case o.Campaign.Starts.IsZero():
		return fmt.Errorf("the campaign's start is not known: it is needed to tell orders before the campaign from those during it")
	case !o.Campaign.Ends.IsZero() && !o.Campaign.Ends.After(o.Campaign.Starts):
		return fmt.Errorf("the campaign's end %s is not after its start %s", stamp(o.Campaign.Ends, o.Location), stamp(o.Campaign.Starts, o.Location))
	}
	return nil
}

// normal returns o with a Location, and From and To at the midnights
// that start their days in it.
func (o Options) normal() Options {
	if o.Location == nil {
		o.Location = time.UTC
	}
	o.From = midnight(o.From, o.Location)
	o.To = midnight(o.To, o.Location)
	return o
}

// days returns how many days the normal period has, 1 when From is To,
// counted up to MaxDays+1: any number past MaxDays is too many.
func (o Options) days() int {
	n := 0
	for d := o.From; !d.After(o.To) && n <= MaxDays; d = next(d) {
		n++
	}
	return n
}

// midnight returns the start of t's day, reading t's year, month and day
// as they are and placing them in loc.
func midnight(t time.Time, loc *time.Location) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// next returns the midnight of the day after the midnight d.
func next(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, d.Location())
}

// date formats a day as 2025-06-10.
func date(d time.Time) string { return d.Format(time.DateOnly) }

// stamp formats a moment in loc as clock does, with the zone's name:
// 2025-06-10 09:30 UTC.
func stamp(t time.Time, loc *time.Location) string {
	return clock(t, loc) + " " + t.In(loc).Format("MST")
}

// clock formats a moment in loc to the minute (2025-06-10 09:30), or to
// the second or beyond when it has them (09:30:15.25).
func clock(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	switch {
	case t.Nanosecond() != 0:
		return t.Format("2006-01-02 15:04:05.999999999")
	case t.Second() != 0:
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

// Phase is a part of the period: before the campaign, during it, or
// after it.
type Phase int

// The phases, in the order they come.
const (
	// Before is before the campaign's start.
	Before Phase = iota
	// During is from the campaign's start to its end, if any.
	During
	// After is from the campaign's end on.
	After
)

// String returns "before", "during" or "after".
func (p Phase) String() string {
	switch p {
	case Before:
		return "before"
	case During:
		return "during"
	case After:
		return "after"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Figures are the sales of a part of the period: placed orders only.
// Revenue and Discount are in the report's currency.
type Figures struct {
	// WithPromotion are the orders whose promotions hold the report's
	// code; WithoutPromotion the others.
	WithPromotion, WithoutPromotion int
	// Books are the copies sold: the sum of the orders' quantities.
	Books int64
	// Revenue is what was charged: the sum of the orders' totals, after
	// their discounts.
	Revenue bookshop.Money
	// Discount is what promotions took off: the sum of the orders'
	// discounts.
	Discount bookshop.Money
}

// Orders returns how many orders the figures count.
func (f Figures) Orders() int { return f.WithPromotion + f.WithoutPromotion }

// BooksPerOrder returns the average books per order in hundredths,
// rounded half-up (1.675 is 168, that is 1.68), and false when there are
// no orders.
func (f Figures) BooksPerOrder() (hundredths int64, ok bool) {
	if f.Orders() == 0 {
		return 0, false
	}
	return divideHalfUp(f.Books*100, int64(f.Orders())), true
}

// AverageOrderValue returns the revenue per order, rounded half-up to
// the minor unit of its currency (1.005 EUR is 1.01 EUR), and false when
// there are no orders.
func (f Figures) AverageOrderValue() (bookshop.Money, bool) {
	if f.Orders() == 0 {
		return bookshop.Money{}, false
	}
	return bookshop.Money{Units: divideHalfUp(f.Revenue.Units, int64(f.Orders())), Currency: f.Revenue.Currency}, true
}

// divideHalfUp returns n/d rounded half-up, for n ≥ 0 and d > 0, without
// overflow.
func divideHalfUp(n, d int64) int64 {
	q, r := n/d, n%d
	if r >= d-r {
		q++
	}
	return q
}

// Span is a part of the period in one phase: from From, up to Until.
type Span struct {
	Phase       Phase
	From, Until time.Time
}

// Empty reports whether the span holds no time: a phase that is not in
// the period.
func (s Span) Empty() bool { return !s.Until.After(s.From) }

// Day is one day's figures in one phase. A day that the campaign starts
// or ends in has a Day for each of its phases.
type Day struct {
	// Date is the midnight that starts the day, in the report's Location.
	Date time.Time
	Span
	Figures
}

// PhaseTotal is one phase's figures over the whole period.
type PhaseTotal struct {
	Span
	Figures
}

// Report is a promotion's impact on sales over a period.
type Report struct {
	// Options are those the report was made with; From and To are
	// midnights in Location, which is set.
	Options Options
	// Currency is the currency of every amount: that of the orders, or
	// "" when the period has none.
	Currency string
	// Days are the figures of each day of the period, in order, and of
	// each phase of a day that the campaign starts or ends in.
	Days []Day
	// Phases are the figures before the campaign and during it, and after
	// it when it has an end, in that order; a phase not in the period is
	// Empty, with no orders.
	Phases []PhaseTotal
	// Total are the figures of the whole period.
	Total Figures
	// Cancelled are the orders of the period that were cancelled, and
	// are not counted.
	Cancelled int
}

// Lister lists every customer's orders, newest first, a page at a time,
// as the Orders service's ListAllOrders does; *ordersclient.Client is
// one.
type Lister interface {
	ListAll(ctx context.Context, page string, limit int) (bookshop.OrderPage, error)
}

var _ Lister = (*ordersclient.Client)(nil)

// Collect makes the report of opts from the orders that orders lists:
// it asks for pages, newest first, until an order is older than the
// period or no page is left, adding each order of the period as it
// comes, so that it holds no more than a page. Errors: what Validate
// says of opts; the Lister's, wrapped; an order in another currency than
// the others; a sum that does not fit.
func Collect(ctx context.Context, orders Lister, opts Options) (*Report, error) {
	t, err := newTally(opts)
	if err != nil {
		return nil, err
	}
	page := ""
	for {
		p, err := orders.ListAll(ctx, page, PageSize)
		if err != nil {
			return nil, fmt.Errorf("list the orders: %w", err)
		}
		older := false
		for _, o := range p.Orders {
			if o.Created.Before(t.from) {
				older = true // newest first: the rest are older still
				break
			}
			if err := t.add(o); err != nil {
				return nil, err
			}
		}
		switch {
		case older || p.Next == "":
			return t.report()
		case p.Next == page:
			return nil, fmt.Errorf("list the orders: the Orders service gave page %q again", page)
		}
		page = p.Next
	}
}

// Compute makes the report of opts from orders, in any order; those
// recorded outside the period are left out. Errors: as Collect's, but
// the Lister's.
func Compute(orders []bookshop.Order, opts Options) (*Report, error) {
	t, err := newTally(opts)
	if err != nil {
		return nil, err
	}
	for _, o := range orders {
		if err := t.add(o); err != nil {
			return nil, err
		}
	}
	return t.report()
}

// tally adds orders up, day by day and phase by phase, in minor units.
type tally struct {
	opts      Options
	from, end time.Time // the period: from its first midnight up to the midnight after its last day
	days      []Day     // their Figures' amounts are kept in units, below, until report
	units     []sums    // days[i]'s amounts
	index     map[string]int
	currency  string
	cancelled int
}

// sums are the amounts of a Day while the tally adds up.
type sums struct{ revenue, discount int64 }

// newTally lays the period out in days, split where the campaign starts
// and ends.
func newTally(opts Options) (*tally, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.normal()
	t := &tally{opts: opts, from: opts.From, end: next(opts.To), index: make(map[string]int)}
	for d := opts.From; d.Before(t.end); d = next(d) {
		t.index[date(d)] = len(t.days)
		for _, s := range t.spans(d, next(d)) {
			t.days = append(t.days, Day{Date: d, Span: s})
		}
	}
	t.units = make([]sums, len(t.days))
	return t, nil
}

// spans returns the parts of from to until in each phase, in order,
// leaving out those that are empty.
func (t *tally) spans(from, until time.Time) []Span {
	var out []Span
	for _, s := range t.phases(from, until) {
		if !s.Empty() {
			out = append(out, s)
		}
	}
	return out
}

// phases returns the parts of from to until in each phase: Before and
// During, and After when the campaign has an end. A phase that is not
// in from to until is Empty, at its edge.
func (t *tally) phases(from, until time.Time) []Span {
	clip := func(p Phase, a, b time.Time) Span {
		a, b = later(a, from), earlier(b, until)
		if !b.After(a) {
			a, b = from, from
		}
		return Span{Phase: p, From: a, Until: b}
	}
	start, end := t.opts.Campaign.Starts, t.opts.Campaign.Ends
	if end.IsZero() {
		return []Span{clip(Before, from, start), clip(During, start, until)}
	}
	return []Span{clip(Before, from, start), clip(During, start, end), clip(After, end, until)}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// phaseAt returns the phase of the moment at.
func (t *tally) phaseAt(at time.Time) Phase {
	switch c := t.opts.Campaign; {
	case at.Before(c.Starts):
		return Before
	case c.Active(at):
		return During
	}
	return After
}

// add counts o if it was recorded in the period: in its day and phase if
// it was placed, among the cancelled if it was cancelled.
func (t *tally) add(o bookshop.Order) error {
	if o.Created.Before(t.from) || !o.Created.Before(t.end) {
		return nil
	}
	if o.State == ordersclient.StateCancelled {
		t.cancelled++
		return nil
	}
	currency := o.Total.Currency
	switch {
	case t.currency == "":
		t.currency = currency
	case currency != t.currency:
		return fmt.Errorf("order %s is in %s, others of the period in %s: a report adds up one currency; ask for a period whose orders are in one", o.ID, currency, t.currency)
	}
	if o.Discount.Units != 0 && o.Discount.Currency != currency {
		return fmt.Errorf("order %s has a discount in %s and a total in %s: a report adds up one currency", o.ID, o.Discount.Currency, currency)
	}
	i := t.row(o.Created)
	d, u := &t.days[i], &t.units[i]
	if o.Used(t.opts.Promotion) {
		d.WithPromotion++
	} else {
		d.WithoutPromotion++
	}
	for _, l := range o.Lines {
		d.Books += int64(l.Quantity)
	}
	var err1, err2 error
	u.revenue, err1 = addUnits(u.revenue, o.Total.Units)
	u.discount, err2 = addUnits(u.discount, o.Discount.Units)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("order %s: the amounts of %s do not fit in a sum", o.ID, date(d.Date))
	}
	return nil
}

// row returns the index of the Day of the moment at, in the period.
func (t *tally) row(at time.Time) int {
	i := t.index[date(at.In(t.opts.Location))]
	p := t.phaseAt(at)
	for t.days[i].Phase != p {
		i++
	}
	return i
}

// addUnits returns a + b, or an error if it does not fit in an int64.
func addUnits(a, b int64) (int64, error) {
	if b > 0 && a > math.MaxInt64-b || b < 0 && a < math.MinInt64-b {
		return 0, fmt.Errorf("%d + %d does not fit", a, b)
	}
	return a + b, nil
}

// report returns the report: the days with their amounts in the
// currency, and their sums by phase and in all.
func (t *tally) report() (*Report, error) {
	r := &Report{Options: t.opts, Currency: t.currency, Cancelled: t.cancelled, Days: t.days}
	money := func(units int64) bookshop.Money { return bookshop.Money{Units: units, Currency: t.currency} }
	for _, s := range t.phases(t.from, t.end) {
		r.Phases = append(r.Phases, PhaseTotal{Span: s})
	}
	var total sums
	phase := make([]sums, len(r.Phases))
	for i := range r.Days {
		d, u := &r.Days[i], t.units[i]
		d.Revenue, d.Discount = money(u.revenue), money(u.discount)
		p := &r.Phases[d.Phase].Figures
		for _, f := range []*Figures{p, &r.Total} {
			f.WithPromotion += d.WithPromotion
			f.WithoutPromotion += d.WithoutPromotion
			f.Books += d.Books
		}
		for _, s := range []*sums{&phase[d.Phase], &total} {
			var err1, err2 error
			s.revenue, err1 = addUnits(s.revenue, u.revenue)
			s.discount, err2 = addUnits(s.discount, u.discount)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("the amounts of the period do not fit in a sum")
			}
		}
	}
	for i := range r.Phases {
		r.Phases[i].Revenue, r.Phases[i].Discount = money(phase[i].revenue), money(phase[i].discount)
	}
	r.Total.Revenue, r.Total.Discount = money(total.revenue), money(total.discount)
	return r, nil
}

// Daily returns the figures of each day of the period, its phases added
// together, in order: what the chart's line of revenue draws (its bars
// draw each phase of a day apart: see WriteSVG). Each Day's Span is the
// whole day, and its Phase that of the day's start.
func (r *Report) Daily() []Day {
	var out []Day
	for _, d := range r.Days {
		if n := len(out); n > 0 && out[n-1].Date.Equal(d.Date) {
			last := &out[n-1]
			last.Until = d.Until
			last.WithPromotion += d.WithPromotion
			last.WithoutPromotion += d.WithoutPromotion
			last.Books += d.Books
			last.Revenue.Units += d.Revenue.Units // fits: the period's sum did
			last.Discount.Units += d.Discount.Units
			continue
		}
		out = append(out, d)
	}
	return out
}
