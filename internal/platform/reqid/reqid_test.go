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
