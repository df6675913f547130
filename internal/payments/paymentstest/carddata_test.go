package paymentstest_test

import (
	"testing"

	"github.com/bookshop-go/bookshop/internal/payments/paymentstest"
)

func TestHoldsValue(t *testing.T) {
	for _, tt := range []struct {
		s, v string
		want bool
	}{
		{"826", "826", true},
		{"cvc=826,", "826", true},
		{`{"cvc":"826"}`, "826", true},
		{"1796178265534", "826", false},
		{"1796178265534 and 826", "826", true},
		{"8264", "826", false},
		{"duration=826.4µs", "826", false},
		{"0.826", "826", false},
		{"", "826", false},
	} {
		if got := paymentstest.HoldsValue(tt.s, tt.v); got != tt.want {
			t.Errorf("paymentstest.HoldsValue(%q, %q) = %v, want %v", tt.s, tt.v, got, tt.want)
		}
	}
}
