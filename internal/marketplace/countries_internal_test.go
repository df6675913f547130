package marketplace

import (
	"slices"
	"strings"
	"testing"
)

// TestAssignedCountries checks the list of codes: 249 of two capitals,
// in order, each once; and that assignedCountry finds each of them and
// nothing else, not a code made of the end of one and the start of the
// next.
func TestAssignedCountries(t *testing.T) {
	codes := strings.Fields(assignedCountries)
	if len(codes) != 249 || !slices.IsSorted(codes) || len(slices.Compact(slices.Clone(codes))) != len(codes) {
		t.Errorf("assignedCountries holds %d codes (sorted %v), want the 249 assigned, sorted, each once", len(codes), slices.IsSorted(codes))
	}
	if strings.Join(codes, " ")+" " != assignedCountries {
		t.Error("assignedCountries is not its codes, each followed by one space")
	}
	for _, c := range codes {
		if !assignedCountry(c) {
			t.Errorf("assignedCountry(%q) = false, want true", c)
		}
	}
	for _, c := range []string{"ZZ", "UK", "EU", "XK", "AA", "QM", "XA", "DD", "YU", "de", "D", "DEU", "", "D ", " D", "EA", "EB", "E ", "\u017fE"} {
		if assignedCountry(c) {
			t.Errorf("assignedCountry(%q) = true, want false", c)
		}
		if want := c == "XK"; shippingCountry(c) != want {
			t.Errorf("shippingCountry(%q) = %v, want %v", c, !want, want)
		}
	}
}
