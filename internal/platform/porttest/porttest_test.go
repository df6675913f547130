package porttest_test

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/platform/porttest"
)

func TestPickIsFreeAndOutsideTheEphemeralRange(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		port := porttest.Pick(t)
		if first := ephemeralFirst(t); port < 20000 || port >= first {
			t.Fatalf("Pick = %d, want a port from 20000 below the kernel's ephemeral range (from %d)", port, first)
		}
		if seen[port] {
			t.Fatalf("Pick handed out %d twice", port)
		}
		seen[port] = true
		lis, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("listen on the picked port %d: %v", port, err)
		}
		lis.Close()
	}
}

// ephemeralFirst returns the first port the kernel gives outgoing
// connections: 32768 where it cannot be read.
func ephemeralFirst(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	n, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatalf("ip_local_port_range %q: %v", b, err)
	}
	return n
}
