package bookshop_test

import (
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// TestCheckKey checks the one rule of idempotency keys: what it takes,
// what it refuses, and that the message names the field and shows a key
// too long only in part.
func TestCheckKey(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		want      string // the message; "" for a key taken
	}{
		{"letters, digits, '-' and '_'", "co-7f3a_Order-1", ""},
		{"one character", "k", ""},
		{"64 characters", strings.Repeat("k", 64), ""},
		{"a key of NewID's", bookshop.NewID(), ""},
		{"empty", "", `idempotency key "": want 1 to 64 characters`},
		{"65 characters", strings.Repeat("k", 65), `idempotency key "` + strings.Repeat("k", 65) + `": want 1 to 64 characters`},
		{"far too long", strings.Repeat("k", 200), `idempotency key "` + strings.Repeat("k", 64) + `...": want 1 to 64 characters`},
		{"a space", "k 1", `idempotency key "k 1": only letters A to Z, digits, '-' and '_' are allowed`},
		{"a slash", "k/1", "only letters"},
		{"a dot", "k.1", "only letters"},
		{"a colon", "k:1", "only letters"},
		{"a letter not A to Z", "kä", "only letters"},
		{"a control character", "k\n", `idempotency key "k\n": only letters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := bookshop.CheckKey("idempotency key", tc.key)
			if tc.want == "" {
				if err != nil {
					t.Errorf("CheckKey(%q) = %v, want nil", tc.key, err)
				}
				return
			}
			if bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tc.want) {
				t.Errorf("CheckKey(%q) = %v, want Invalid %q", tc.key, err, tc.want)
			}
		})
	}
}
