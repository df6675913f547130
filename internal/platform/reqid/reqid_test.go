package reqid_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/platform/reqid"
)

func TestWithFrom(t *testing.T) {
	ctx := context.Background()
	if got := reqid.From(ctx); got != "" {
		t.Errorf("From(empty context) = %q, want \"\"", got)
	}
	id := reqid.New()
	if !reqid.Valid(id) {
		t.Errorf("New() = %q, which Valid refuses", id)
	}
	if got := reqid.From(reqid.With(ctx, id)); got != id {
		t.Errorf("From(With(ctx, %q)) = %q", id, got)
	}
	if a, b := reqid.New(), reqid.New(); a == b {
		t.Errorf("New() twice gave %q both times", a)
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"abc-123_DEF.9", true},
		{strings.Repeat("a", reqid.MaxLen), true},
		{"", false},
		{strings.Repeat("a", reqid.MaxLen+1), false},
		{"has space", false},
		{"line\nbreak", false},
		{"quote\"", false},
		{"ünïcode", false},
	}
	for _, tt := range tests {
		if got := reqid.Valid(tt.id); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

// TestNewShape checks that ids have crypto/rand.Text's shape, and that
// every character of the alphabet turns up in every position: no bits are
// stuck.
func TestNewShape(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	seen := make([]map[rune]bool, 26)
	for i := range seen {
		seen[i] = make(map[rune]bool)
	}
	for range 5000 {
		id := reqid.New()
		if len(id) != 26 || strings.Trim(id, alphabet) != "" {
			t.Fatalf("New() = %q, want 26 characters of %s", id, alphabet)
		}
		for i, c := range id {
			seen[i][c] = true
		}
	}
	for i, s := range seen {
		if len(s) != len(alphabet) {
			t.Errorf("position %d had %d of the %d characters in 5,000 ids", i, len(s), len(alphabet))
		}
	}
}

// BenchmarkNew measures making a request id, which the services do for
// every call and page that arrives without one.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = reqid.New()
	}
}
