package report_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/tool/report"
)

// eur returns cents of a euro.
func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// at parses a moment in UTC, such as "2025-06-10 09:00:00.000".
func at(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse("2006-01-02 15:04:05.000", s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// day parses a date.
func day(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// order returns a placed order recorded at created, of one copy of each
// price in prices (cents of a euro); with promo, the cheapest is free and
// the order records the promotion.
func order(tb testing.TB, id, created string, promo bool, prices ...int64) bookshop.Order {
	tb.Helper()
	o := bookshop.Order{ID: id, CustomerID: 1, State: ordersclient.StatePlaced, Created: at(tb, created)}
	var subtotal, cheapest int64
	for i, p := range prices {
		o.Lines = append(o.Lines, bookshop.OrderLine{BookID: int32(i + 1), Title: "A book", UnitPrice: eur(p), Quantity: 1, Total: eur(p)})
		subtotal += p
		if i == 0 || p < cheapest {
			cheapest = p
		}
	}
	o.Subtotal, o.Discount, o.Total = eur(subtotal), eur(0), eur(subtotal)
	if promo {
		o.Promotions = []string{"another_one", promotionsclient.BuyTwoGetOneFreeCode}
		o.Discount, o.Total = eur(cheapest), eur(subtotal-cheapest)
	}
	return o
}

// knownOrders are orders whose figures the tests work out by hand: three
// before a campaign that starts on 2025-06-10 at 09:00 UTC, three during
// it, one cancelled and two outside the period 2025-06-08 to 2025-06-12.
func knownOrders(tb testing.TB) []bookshop.Order {
	tb.Helper()
	cancelled := order(tb, "o_g", "2025-06-12 08:00:00.000", true, 500, 500, 500, 500, 500)
	cancelled.State = ordersclient.StateCancelled
	twice := order(tb, "o_e", "2025-06-11 12:00:00.000", true, 999, 499)
	twice.Lines[0].Quantity, twice.Lines[0].Total = 2, eur(1998)
	twice.Subtotal, twice.Total = eur(2497), eur(2497-499)
	return []bookshop.Order{
		order(tb, "o_h", "2025-06-07 23:59:59.999", false, 10000), // before the period
		order(tb, "o_a", "2025-06-08 10:00:00.000", false, 1299),
		order(tb, "o_b", "2025-06-09 23:59:59.999", false, 1000, 550),
		order(tb, "o_c", "2025-06-10 08:59:59.999", false, 725),           // just before the start
		order(tb, "o_d", "2025-06-10 09:00:00.000", true, 1000, 800, 600), // at the start: during
		twice, // 2 × 9.99 and 4.99, the 4.99 free: 19.98
		order(tb, "o_f", "2025-06-11 13:00:00.000", false, 1),
		cancelled,
		order(tb, "o_i", "2025-06-13 00:00:00.000", false, 10000), // after the period
	}
}

// knownOptions are the options of the report of knownOrders.
func knownOptions(tb testing.TB) report.Options {
	return report.Options{
		Promotion: promotionsclient.BuyTwoGetOneFreeCode,
		From:      day(tb, "2025-06-08"),
		To:        day(tb, "2025-06-12"),
		Campaign:  bookshop.Campaign{Starts: at(tb, "2025-06-10 09:00:00.000")},
	}
}

// figures is what a test expects of a report's Figures, amounts in
// cents and averages as printed ("" without orders).
type figures struct {
	with, without     int
	books             int64
	revenue, discount int64
	perOrder, average string
}

// check compares f with want.
func (want figures) check(tb testing.TB, what string, f report.Figures) {
	tb.Helper()
	perOrder, average := "", ""
	if h, ok := f.BooksPerOrder(); ok {
		perOrder = fmt.Sprintf("%d.%02d", h/100, h%100)
	}
	if m, ok := f.AverageOrderValue(); ok {
		average = m.Decimal()
		if m.Currency != f.Revenue.Currency {
			tb.Errorf("%s: average order value in %q, revenue in %q", what, m.Currency, f.Revenue.Currency)
		}
	}
	got := figures{f.WithPromotion, f.WithoutPromotion, f.Books, f.Revenue.Units, f.Discount.Units, perOrder, average}
	if got != want {
		tb.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// TestCompute checks the figures of known orders, to the cent, by phase,
// by day and for the period: where the campaign's start and end put
// orders, days in another time zone, and the orders left out.
func TestCompute(t *testing.T) {
	withEnd := knownOptions(t)
	withEnd.Campaign = bookshop.Campaign{Starts: at(t, "2025-06-09 00:00:00.000"), Ends: at(t, "2025-06-11 12:00:00.000")}
	zoned := knownOptions(t)
	zoned.Location = time.FixedZone("UTC+2", 2*60*60)
	later := knownOptions(t)
	later.Campaign.Starts = at(t, "2025-07-01 00:00:00.000")

	type dayWant struct {
		date  string
		phase report.Phase
		figures
	}
	for _, tc := range []struct {
		name      string
		opts      report.Options
		phases    []figures // Before, During, and After with an end
		empty     []bool    // whether each phase is outside the period
		total     figures
		days      []dayWant
		cancelled int
	}{{
		name: "a campaign without an end, starting at 09:00 of the third day",
		opts: knownOptions(t),
		phases: []figures{
			{0, 3, 4, 3574, 0, "1.33", "11.91"},    // 12.99 + 15.50 + 7.25 = 35.74; / 3 = 11.913
			{2, 1, 7, 3799, 1099, "2.33", "12.66"}, // 18.00 + 19.98 + 0.01 = 37.99; / 3 = 12.663
		},
		empty: []bool{false, false},
		total: figures{2, 4, 11, 7373, 1099, "1.83", "12.29"}, // 73.73 / 6 = 12.288
		days: []dayWant{
			{"2025-06-08", report.Before, figures{0, 1, 1, 1299, 0, "1.00", "12.99"}},
			{"2025-06-09", report.Before, figures{0, 1, 2, 1550, 0, "2.00", "15.50"}},
			{"2025-06-10", report.Before, figures{0, 1, 1, 725, 0, "1.00", "7.25"}},
			{"2025-06-10", report.During, figures{1, 0, 3, 1800, 600, "3.00", "18.00"}},
			{"2025-06-11", report.During, figures{1, 1, 4, 1999, 499, "2.00", "10.00"}}, // 19.99 / 2 = 9.995: half up
			{"2025-06-12", report.During, figures{0, 0, 0, 0, 0, "", ""}},
		},
		cancelled: 1,
	}, {
		name: "a campaign from the second day's midnight until noon of the fourth",
		opts: withEnd,
		phases: []figures{
			{0, 1, 1, 1299, 0, "1.00", "12.99"},
			{1, 2, 6, 4075, 600, "2.00", "13.58"}, // 15.50 + 7.25 + 18.00 = 40.75; / 3 = 13.583
			{1, 1, 4, 1999, 499, "2.00", "10.00"},
		},
		empty: []bool{false, false, false},
		total: figures{2, 4, 11, 7373, 1099, "1.83", "12.29"},
		days: []dayWant{
			{"2025-06-08", report.Before, figures{0, 1, 1, 1299, 0, "1.00", "12.99"}},
			{"2025-06-09", report.During, figures{0, 1, 2, 1550, 0, "2.00", "15.50"}},
			{"2025-06-10", report.During, figures{1, 1, 4, 2525, 600, "2.00", "12.63"}}, // 25.25 / 2 = 12.625: half up
			{"2025-06-11", report.During, figures{0, 0, 0, 0, 0, "", ""}},
			{"2025-06-11", report.After, figures{1, 1, 4, 1999, 499, "2.00", "10.00"}}, // o_e at the end itself: after
			{"2025-06-12", report.After, figures{0, 0, 0, 0, 0, "", ""}},
		},
		cancelled: 1,
	}, {
		name: "days in UTC+2: the last minute of 06-07 UTC is on 06-08 and in the period, the first of 06-13 UTC is not",
		opts: zoned,
		phases: []figures{
			{0, 4, 5, 13574, 0, "1.25", "33.94"}, // 100.00 + 12.99 + 15.50 + 7.25 = 135.74; / 4 = 33.935: half up
			{2, 1, 7, 3799, 1099, "2.33", "12.66"},
		},
		empty: []bool{false, false},
		total: figures{2, 5, 12, 17373, 1099, "1.71", "24.82"}, // 173.73 / 7 = 24.818
		days: []dayWant{
			{"2025-06-08", report.Before, figures{0, 2, 2, 11299, 0, "1.00", "56.50"}}, // 112.99 / 2 = 56.495: half up
			{"2025-06-09", report.Before, figures{0, 0, 0, 0, 0, "", ""}},
			{"2025-06-10", report.Before, figures{0, 2, 3, 2275, 0, "1.50", "11.38"}}, // o_b at 01:59 local
			{"2025-06-10", report.During, figures{1, 0, 3, 1800, 600, "3.00", "18.00"}},
			{"2025-06-11", report.During, figures{1, 1, 4, 1999, 499, "2.00", "10.00"}},
			{"2025-06-12", report.During, figures{0, 0, 0, 0, 0, "", ""}},
		},
		cancelled: 1,
	}, {
		name:   "a campaign that starts after the period: every order is before it",
		opts:   later,
		phases: []figures{{2, 4, 11, 7373, 1099, "1.83", "12.29"}, {}},
		empty:  []bool{false, true},
		total:  figures{2, 4, 11, 7373, 1099, "1.83", "12.29"},
		days: []dayWant{
			{"2025-06-08", report.Before, figures{0, 1, 1, 1299, 0, "1.00", "12.99"}},
			{"2025-06-09", report.Before, figures{0, 1, 2, 1550, 0, "2.00", "15.50"}},
			{"2025-06-10", report.Before, figures{1, 1, 4, 2525, 600, "2.00", "12.63"}},
			{"2025-06-11", report.Before, figures{1, 1, 4, 1999, 499, "2.00", "10.00"}},
			{"2025-06-12", report.Before, figures{0, 0, 0, 0, 0, "", ""}},
		},
		cancelled: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := report.Compute(knownOrders(t), tc.opts)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if r.Currency != "EUR" || r.Cancelled != tc.cancelled {
				t.Errorf("Currency, Cancelled = %q, %d; want EUR, %d", r.Currency, r.Cancelled, tc.cancelled)
			}
			if len(r.Phases) != len(tc.phases) {
				t.Fatalf("%d phases, want %d", len(r.Phases), len(tc.phases))
			}
			for i, p := range r.Phases {
				if p.Phase != report.Phase(i) || p.Empty() != tc.empty[i] {
					t.Errorf("phase %d is %v, empty %v; want %v, empty %v", i, p.Phase, p.Empty(), report.Phase(i), tc.empty[i])
				}
				tc.phases[i].check(t, p.Phase.String(), p.Figures)
			}
			tc.total.check(t, "the period", r.Total)
			if len(r.Days) != len(tc.days) {
				t.Fatalf("%d days, want %d", len(r.Days), len(tc.days))
			}
			for i, d := range r.Days {
				w := tc.days[i]
				if got := d.Date.Format(time.DateOnly); got != w.date || d.Phase != w.phase {
					t.Errorf("day %d is %s %v, want %s %v", i, got, d.Phase, w.date, w.phase)
				}
				w.check(t, w.date+" "+w.phase.String(), d.Figures)
			}
		})
	}
}

// TestAverages checks the rounding of the averages: half-up, to the cent
// and to hundredths of a book.
func TestAverages(t *testing.T) {
	for _, tc := range []struct {
		orders         int
		books, revenue int64
		perOrder       int64
		average        int64
	}{
		{1, 1, 1299, 100, 1299},
		{3, 4, 1, 133, 0},        // 0.0033 EUR: down
		{3, 5, 2, 167, 1},        // 0.0067 EUR: up; 1.666 books: up
		{2, 3, 201, 150, 101},    // 1.005 EUR: half up
		{40, 67, 4020, 168, 101}, // 1.675 books: half up; 1.005 EUR: half up
		{8, 13, 7, 163, 1},       // 1.625 books: half up to 1.63; 0.00875 EUR: up
		{7, 0, 0, 0, 0},
		{1 << 30, 1 << 40, 1<<62 - 1, 102400, 4294967296}, // large sums, no overflow
	} {
		f := report.Figures{WithoutPromotion: tc.orders, Books: tc.books, Revenue: eur(tc.revenue)}
		perOrder, ok1 := f.BooksPerOrder()
		average, ok2 := f.AverageOrderValue()
		if !ok1 || !ok2 || perOrder != tc.perOrder || average != eur(tc.average) {
			t.Errorf("%d orders, %d books, %d cents: BooksPerOrder() = %d, %v, AverageOrderValue() = %v, %v; want %d, %s",
				tc.orders, tc.books, tc.revenue, perOrder, ok1, average, ok2, tc.perOrder, eur(tc.average))
		}
	}
	if _, ok := (report.Figures{}).BooksPerOrder(); ok {
		t.Error("BooksPerOrder of no orders is ok, want false")
	}
	if _, ok := (report.Figures{}).AverageOrderValue(); ok {
		t.Error("AverageOrderValue of no orders is ok, want false")
	}
}

// TestComputeRefuses checks the options and orders that make no report,
// and that each error says why.
func TestComputeRefuses(t *testing.T) {
	usd := order(t, "o_usd", "2025-06-11 10:00:00.000", false, 500)
	usd.Lines[0].UnitPrice.Currency, usd.Lines[0].Total.Currency = "USD", "USD"
	usd.Subtotal.Currency, usd.Discount.Currency, usd.Total.Currency = "USD", "USD", "USD"
	oddDiscount := order(t, "o_odd", "2025-06-11 10:00:00.000", true, 500, 500, 500)
	oddDiscount.Discount.Currency = "USD"
	huge := order(t, "o_huge", "2025-06-11 10:00:00.000", false, 1<<62)

	opts := func(change func(*report.Options)) report.Options {
		o := knownOptions(t)
		change(&o)
		return o
	}
	for _, tc := range []struct {
		name   string
		opts   report.Options
		orders []bookshop.Order
		want   string
	}{
		{"no promotion", opts(func(o *report.Options) { o.Promotion = "" }), nil, "the promotion's code is empty"},
		{"from after to", opts(func(o *report.Options) { o.From = day(t, "2025-06-13") }), nil, "first day 2025-06-13 is after its last day 2025-06-12"},
		{"too long", opts(func(o *report.Options) { o.From = day(t, "2024-06-11") }), nil, "is more than 366 days, the most a report covers"},
		{"far too long", opts(func(o *report.Options) { o.From = day(t, "1900-01-01") }), nil, "the period from 1900-01-01 to 2025-06-12 is more than 366 days, the most a report covers"},
		{"no start", opts(func(o *report.Options) { o.Campaign.Starts = time.Time{} }), nil, "the campaign's start is not known"},
		{"end at start", opts(func(o *report.Options) { o.Campaign.Ends = o.Campaign.Starts }), nil, "the campaign's end 2025-06-10 09:00 UTC is not after its start"},
		{"two currencies", knownOptions(t), append(knownOrders(t), usd), "order o_usd is in USD, others of the period in EUR"},
		{"a discount in another currency", knownOptions(t), []bookshop.Order{oddDiscount}, "order o_odd has a discount in USD and a total in EUR"},
		{"sums too large", knownOptions(t), []bookshop.Order{huge, huge}, "do not fit"},
	} {
		r, err := report.Compute(tc.orders, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Compute = %v, %v; want an error with %q", tc.name, r, err, tc.want)
		}
	}
	// A year, leap day and all, is not too long; another currency outside
	// the period does not count.
	usd.Created = at(t, "2025-06-13 10:00:00.000")
	if _, err := report.Compute(append(knownOrders(t), usd), opts(func(o *report.Options) { o.From = day(t, "2024-06-12") })); err != nil {
		t.Errorf("Compute over 366 days with another currency after them = %v, want nil", err)
	}
}

// pager is a report.Lister over orders held newest first, in pages of
// at most size: the Orders service's ListAllOrders, by hand. It counts
// the pages asked for.
type pager struct {
	orders []bookshop.Order
	size   int
	asked  int
	fail   error
	stuck  bool // gives the same token forever
}

func (p *pager) ListAll(ctx context.Context, page string, limit int) (bookshop.OrderPage, error) {
	p.asked++
	if p.fail != nil {
		return bookshop.OrderPage{}, p.fail
	}
	if limit != report.PageSize {
		return bookshop.OrderPage{}, fmt.Errorf("limit %d, want %d", limit, report.PageSize)
	}
	from := 0
	if page != "" {
		fmt.Sscanf(page, "p%d", &from)
	}
	to := min(from+p.size, len(p.orders))
	out := bookshop.OrderPage{Orders: p.orders[from:to]}
	switch {
	case p.stuck:
		out.Next = "p0"
	case to < len(p.orders):
		out.Next = fmt.Sprintf("p%d", to)
	}
	return out, nil
}

// newestFirst returns orders sorted as ListAll lists them.
func newestFirst(orders []bookshop.Order) []bookshop.Order {
	out := slices.Clone(orders)
	slices.SortFunc(out, func(a, b bookshop.Order) int { return b.Created.Compare(a.Created) })
	return out
}

// TestCollect checks that Collect pages through the orders, newest first,
// stops at the first order older than the period, and makes the report
// that Compute makes of the same orders.
func TestCollect(t *testing.T) {
	ctx := context.Background()
	orders := newestFirst(knownOrders(t))
	// Older orders than the period, which Collect must not ask for.
	for i := range 10 {
		orders = append(orders, order(t, fmt.Sprintf("o_old%d", i), fmt.Sprintf("2025-05-%02d 10:00:00.000", 20-i), false, 100))
	}
	want, err := report.Compute(orders, knownOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	p := &pager{orders: orders, size: 3}
	got, err := report.Collect(ctx, p, knownOptions(t))
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Collect = %+v\nwant Compute's %+v", got, want)
	}
	// o_h, the first order before the period, is the 9th, on the 3rd
	// page of 3: no page after it.
	if p.asked != 3 {
		t.Errorf("Collect asked for %d pages, want 3", p.asked)
	}

	unavailable := bookshop.Errorf(bookshop.Unavailable, "the orders are not there")
	if _, err := report.Collect(ctx, &pager{fail: unavailable}, knownOptions(t)); !errors.Is(err, unavailable) || !strings.HasPrefix(err.Error(), "list the orders: ") {
		t.Errorf("Collect from a failing Lister = %v, want its error, wrapped", err)
	}
	if _, err := report.Collect(ctx, &pager{orders: orders[:2], size: 1, stuck: true}, knownOptions(t)); err == nil || !strings.Contains(err.Error(), `gave page "p0" again`) {
		t.Errorf("Collect from a Lister that gives its page again = %v, want an error", err)
	}
	if _, err := report.Collect(ctx, &pager{}, report.Options{}); err == nil || !strings.Contains(err.Error(), "the promotion's code is empty") {
		t.Errorf("Collect with no options = %v, want Validate's error", err)
	}
}
