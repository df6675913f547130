package tool

import (
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// TestNotThere checks when a client command says plainly that nothing
// answers at a service's address: an UNAVAILABLE call whose connection was
// refused, or whose host has no address; not another error that happens
// to say so.
func TestNotThere(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{bookshop.Errorf(bookshop.Unavailable, "connection error: dial tcp 127.0.0.1:1: connect: connection refused"),
			"no Inventory answers at h:1 (connection refused): start it (bookshop up starts them all), or say where it runs with -inventory-host"},
		{bookshop.Errorf(bookshop.Unavailable, "dial tcp: lookup nowhere: no such host"), "no Inventory answers at h:1 (no such host)"},
		{bookshop.Errorf(bookshop.Unavailable, "the service is unavailable right now"), ""},
		{bookshop.Errorf(bookshop.Invalid, "book 1: connection refused is not a title"), ""},
		{nil, ""},
	} {
		got := notThere(tt.err, "Inventory", "h:1", "inventory-host")
		if (got == nil) != (tt.want == "") || got != nil && !strings.HasPrefix(got.Error(), tt.want) {
			t.Errorf("notThere(%v) = %v, want %q", tt.err, got, tt.want)
		}
	}
}
