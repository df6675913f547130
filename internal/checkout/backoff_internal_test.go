package checkout

import (
	"testing"
	"time"
)

// TestRetryDelay checks the recoverer's backoff: a second after the
// first stall, doubling at each, up to five minutes.
func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{9, 256 * time.Second},
		{10, 5 * time.Minute},
		{1000, 5 * time.Minute},
	} {
		if got := retryDelay(tc.attempts); got != tc.want {
			t.Errorf("retryDelay(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
	}
}
