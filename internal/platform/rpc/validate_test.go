package rpc_test

import (
	"errors"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestCheck checks that Check says what the first broken rule says, in
// the domain's words, and nothing of an error that is not the domain's.
func TestCheck(t *testing.T) {
	first := bookshop.Errorf(bookshop.Invalid, "customer id 0: want 1 or more")
	second := bookshop.Errorf(bookshop.Invalid, "page size 51: want 0 to 50")
	for _, tc := range []struct {
		name string
		errs []error
		want string
	}{
		{"none", nil, ""},
		{"all nil", []error{nil, nil}, ""},
		{"one", []error{first}, first.Message},
		{"the first broken", []error{nil, first, second}, first.Message},
		{"wrapped", []error{nil, errors.Join(second)}, second.Message},
		{"not the domain's", []error{errors.New("disk on fire")}, "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rpc.Check(tc.errs...); got != tc.want {
				t.Errorf("Check(%v) = %q, want %q", tc.errs, got, tc.want)
			}
		})
	}
}
