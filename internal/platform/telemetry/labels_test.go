package telemetry_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

func TestCappedValues(t *testing.T) {
	c := telemetry.NewCappedValues(3, "EUR")
	for _, step := range []struct{ in, want string }{
		{"EUR", "EUR"},
		{"USD", "USD"},
		{"GBP", "GBP"},
		{"JPY", telemetry.OtherValue}, // the fourth
		{"USD", "USD"},                // let through before: still its own
		{"EUR", "EUR"},
	} {
		if got := c.Value(step.in); got != step.want {
			t.Errorf("Value(%q) = %q, want %q", step.in, got, step.want)
		}
	}
	distinct := map[string]bool{}
	for i := range 1000 {
		distinct[c.Value("X"+strconv.Itoa(i))] = true
	}
	if len(distinct) != 1 || !distinct[telemetry.OtherValue] {
		t.Errorf("1,000 new values past the cap gave %v, want only %q", distinct, telemetry.OtherValue)
	}
}

func ExampleCappedValues() {
	currencies := telemetry.NewCappedValues(2, "EUR")
	for _, c := range []string{"EUR", "USD", "GBP", "USD"} {
		fmt.Println(c, "->", currencies.Value(c))
	}
	// Output:
	// EUR -> EUR
	// USD -> USD
	// GBP -> other
	// USD -> USD
}
