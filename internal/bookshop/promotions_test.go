package bookshop_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func eur(units int64) bookshop.Money { return bookshop.Money{Units: units, Currency: "EUR"} }

func pl(id int32, price bookshop.Money, quantity int) bookshop.PromoLine {
	return bookshop.PromoLine{BookID: id, UnitPrice: price, Quantity: quantity}
}

func TestCampaignActive(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		c    bookshop.Campaign
		at   time.Time
		want bool
	}{
		{"before the start", bookshop.Campaign{Starts: start, Ends: end}, start.Add(-time.Millisecond), false},
		{"at the start", bookshop.Campaign{Starts: start, Ends: end}, start, true},
		{"during", bookshop.Campaign{Starts: start, Ends: end}, start.Add(10 * 24 * time.Hour), true},
		{"just before the end", bookshop.Campaign{Starts: start, Ends: end}, end.Add(-time.Nanosecond), true},
		{"at the end", bookshop.Campaign{Starts: start, Ends: end}, end, false},
		{"after the end", bookshop.Campaign{Starts: start, Ends: end}, end.Add(time.Hour), false},
		{"no end, long after", bookshop.Campaign{Starts: start}, start.AddDate(10, 0, 0), true},
		{"no end, before the start", bookshop.Campaign{Starts: start}, start.Add(-time.Second), false},
		{"at the start in another zone", bookshop.Campaign{Starts: start, Ends: end}, start.In(time.FixedZone("CET", 3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Active(tt.at); got != tt.want {
				t.Errorf("%+v.Active(%v) = %v, want %v", tt.c, tt.at, got, tt.want)
			}
		})
	}
}

func TestPromoLinesOf(t *testing.T) {
	cart := []bookshop.CartLine{
		{Book: bookshop.Book{ID: 3, Title: "Dune", Price: eur(1299)}, Quantity: 2, Total: eur(2598)},
		{Book: bookshop.Book{ID: 1, Title: "Emma"}, Quantity: 1},
	}
	want := []bookshop.PromoLine{
		{BookID: 3, UnitPrice: eur(1299), Quantity: 2, Title: "Dune"},
		{BookID: 1, Quantity: 1, Title: "Emma"},
	}
	if got := bookshop.PromoLinesOfCart(cart); !slices.Equal(got, want) {
		t.Errorf("PromoLinesOfCart(%v) = %v, want %v", cart, got, want)
	}
	order := []bookshop.OrderLine{
		{BookID: 3, Title: "Dune", UnitPrice: eur(1299), Quantity: 2, Total: eur(2598)},
		{BookID: 1, Title: "Emma", Quantity: 1},
	}
	if got := bookshop.PromoLinesOfOrder(order); !slices.Equal(got, want) {
		t.Errorf("PromoLinesOfOrder(%v) = %v, want %v", order, got, want)
	}
}

func TestOfferMayEarn(t *testing.T) {
	lines := []bookshop.PromoLine{pl(1, eur(1000), 2), pl(2, bookshop.Money{}, 1), pl(3, eur(500), -4)}
	if got := bookshop.Copies(lines); got != 3 {
		t.Errorf("Copies(%v) = %d, want 3: a negative quantity counts for nothing", lines, got)
	}
	tests := []struct {
		minBooks int
		want     bool
	}{
		{0, true}, // no bound: every cart may
		{3, true},
		{4, false},
	}
	for _, tt := range tests {
		if got := (bookshop.Offer{MinBooks: tt.minBooks}).MayEarn(lines); got != tt.want {
			t.Errorf("Offer{MinBooks: %d}.MayEarn(3 copies) = %v, want %v", tt.minBooks, got, tt.want)
		}
	}
	if !(bookshop.Offer{}).MayEarn(nil) {
		t.Error("Offer{}.MayEarn(no lines) = false, want true: an offer without a bound says nothing")
	}
}

// TestCopiesSaturates checks that Copies never wraps: quantities that
// add up past math.MaxInt count as math.MaxInt, so that a cart claiming
// huge quantities is not taken for a small one.
func TestCopiesSaturates(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lines []bookshop.PromoLine
		want  int
	}{
		{"two of the largest", []bookshop.PromoLine{pl(1, eur(100), math.MaxInt), pl(2, eur(100), math.MaxInt)}, math.MaxInt},
		{"the largest and one more", []bookshop.PromoLine{pl(1, eur(100), math.MaxInt), pl(2, eur(100), 1)}, math.MaxInt},
		{"the largest exactly", []bookshop.PromoLine{pl(1, eur(100), math.MaxInt-1), pl(2, eur(100), 1)}, math.MaxInt},
		{"a negative one after the largest", []bookshop.PromoLine{pl(1, eur(100), math.MaxInt), pl(2, eur(100), math.MinInt)}, math.MaxInt},
	} {
		if got := bookshop.Copies(tt.lines); got != tt.want {
			t.Errorf("%s: Copies = %d, want %d", tt.name, got, tt.want)
		}
	}
	huge := []bookshop.PromoLine{pl(1, eur(100), math.MaxInt), pl(2, eur(100), math.MaxInt)}
	if (bookshop.Offer{MinBooks: 3}).MayEarn(huge) != true {
		t.Error("Offer{MinBooks: 3}.MayEarn(huge quantities) = false, want true: the sum must not wrap")
	}
}
