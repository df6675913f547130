package reqid_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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

// TestWithIsAContext checks that a context carrying a request id is a
// context like any other: it passes other values, deadlines and
// cancellation through, and contexts made from it carry its id.
func TestWithIsAContext(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx := reqid.With(parent, "ABC")
	if got := ctx.Value(key{}); got != "v" {
		t.Errorf("Value of the parent's key = %v, want v", got)
	}
	child, cancelChild := context.WithTimeout(ctx, time.Hour)
	defer cancelChild()
	if got := reqid.From(child); got != "ABC" {
		t.Errorf("From(a context made from With(ctx, ABC)) = %q", got)
	}
	if got := reqid.From(reqid.With(child, "DEF")); got != "DEF" {
		t.Errorf("From(With(With(ctx, ABC), DEF)) = %q, want the inner DEF", got)
	}
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the parent did not end a context made from With")
	}
	if !errors.Is(child.Err(), context.Canceled) || !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err() = %v and %v, want context.Canceled", child.Err(), ctx.Err())
	}
	if s := fmt.Sprint(ctx); !strings.Contains(s, "ABC") {
		t.Errorf("the context describes itself as %q, without its id", s)
	}
}

// TestWithAllocatesOnce checks that carrying a request id costs one small
// allocation.
func TestWithAllocatesOnce(t *testing.T) {
	ctx := context.Background()
	id := reqid.New()
	var sink context.Context
	if n := testing.AllocsPerRun(100, func() { sink = reqid.With(ctx, id) }); n != 1 {
		t.Errorf("With: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = reqid.From(sink) }); n != 0 {
		t.Errorf("From: %v allocations, want 0", n)
	}
}
