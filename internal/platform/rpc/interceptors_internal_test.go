package rpc

import (
	"net"
	"testing"
)

// TestAddrNames checks the names the access log gives peers: each
// address's own, for TCP addresses kept (at most maxAddrNames), for
// others made each time.
func TestAddrNames(t *testing.T) {
	var c addrNames
	addrs := make([]*net.TCPAddr, maxAddrNames+10)
	for i := range addrs {
		addrs[i] = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10000 + i}
	}
	for range 2 {
		for _, a := range addrs {
			if got, want := c.name(a), a.String(); got != want {
				t.Fatalf("name(%v) = %q, want %q", a, got, want)
			}
		}
	}
	if n := c.n.Load(); n < 1 || n > maxAddrNames {
		t.Errorf("keeps %d names, want 1 to %d", n, maxAddrNames)
	}
	unix := &net.UnixAddr{Name: "/run/bookshop.sock", Net: "unix"}
	if got := c.name(unix); got != unix.String() {
		t.Errorf("name(%v) = %q, want %q", unix, got, unix.String())
	}
}
