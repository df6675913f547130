package rpc_test

import (
	"math"
	"testing"

	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestInt32 checks that Int32 keeps what fits and stops at the bounds.
func TestInt32(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want int32
	}{
		{0, 0},
		{-7, -7},
		{math.MaxInt32, math.MaxInt32},
		{math.MinInt32, math.MinInt32},
		{math.MaxInt32 + 1, math.MaxInt32},
		{math.MinInt32 - 1, math.MinInt32},
		{math.MaxInt, math.MaxInt32},
		{math.MinInt, math.MinInt32},
	} {
		if got := rpc.Int32(tc.n); got != tc.want {
			t.Errorf("Int32(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}
