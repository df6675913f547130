//go:build linux

package loadgen

import (
	"testing"
	"time"
)

func TestStatCPU(t *testing.T) {
	for _, tt := range []struct {
		stat string
		want time.Duration
		ok   bool
	}{
		{"4242 (bookshop) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 31 0 0 20 0 9 0 100 0 0", 281 * clockTick, true},
		{"4242 (a (b) c) R 1 4242 4242 0 -1 4194560 1234 0 0 0 7 3 0 0 20 0 9 0 100 0 0", 10 * clockTick, true},
		{"4242 (short) S 1 2 3", 0, false},
		{"no parentheses", 0, false},
		{"4242 (x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 abc 3 0", 0, false},
	} {
		got, err := statCPU([]byte(tt.stat))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("statCPU(%q) = %v, %v; want %v, ok %v", tt.stat, got, err, tt.want, tt.ok)
		}
	}
}
