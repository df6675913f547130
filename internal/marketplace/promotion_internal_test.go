package marketplace

import "testing"

// TestLineOf checks where a discount's line marks the free book's
// title: where the label names it once past the promotion's name, and
// nowhere when the label names it more than once (a title that is one of
// the label's own words) or not at all, so that it never marks a word
// that is not the title.
func TestLineOf(t *testing.T) {
	const name = "Buy two, get one free"
	for _, tt := range []struct {
		label, name, title string
		want               discountLine
	}{
		{"Buy two, get one free: one Dune free", name, "Dune", discountLine{Before: "Buy two, get one free: one ", Title: "Dune", After: " free"}},
		{"Buy two, get one free: one free free", name, "free", discountLine{Before: "Buy two, get one free: one free free"}},
		{"Buy two, get one free: one one free", name, "one", discountLine{Before: "Buy two, get one free: one one free"}},
		{"Buy two, get one free: one get free", name, "get", discountLine{Before: "Buy two, get one free: one ", Title: "get", After: " free"}},
		{"Buy two, get one free: one Get Shorty free", name, "Get Shorty", discountLine{Before: "Buy two, get one free: one ", Title: "Get Shorty", After: " free"}},
		{"Buy two, get one free: one book free", name, "Dune", discountLine{Before: "Buy two, get one free: one book free"}},
		{"Ten percent off: 10% off your order", "Ten percent off", "", discountLine{Before: "Ten percent off: 10% off your order"}},
		{"Dune for free", "", "Dune", discountLine{Title: "Dune", After: " for free"}},
		{"Special offer", "Buy two, get one free", "Emma", discountLine{Before: "Special offer"}},
	} {
		if got := lineOf(tt.label, tt.name, tt.title); got != tt.want {
			t.Errorf("lineOf(%q, %q, %q) = %+v, want %+v", tt.label, tt.name, tt.title, got, tt.want)
		}
	}
}
