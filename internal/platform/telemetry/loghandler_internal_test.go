package telemetry

import (
	"math"
	"testing"
	"time"
)

// FuzzAppendDuration checks appendDuration against time.Duration.String,
// which the standard text handler writes.
func FuzzAppendDuration(f *testing.F) {
	for _, d := range []int64{0, 1, -1, 999, 1000, 1001, 1500, 999_999, 1_000_000, 1_234_567, 999_999_999,
		1e9, 1e9 + 1, 61e9, 3600e9, 3600e9 + 5e8, 100 * 3600e9, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		d := time.Duration(n)
		if got, want := string(appendDuration(nil, d)), d.String(); got != want {
			t.Errorf("appendDuration(%d) = %q, want %q", n, got, want)
		}
	})
}
