// Package porttest picks TCP ports for tests that must name a port before
// the server that listens on it starts: a child process, or a command
// given its port by a flag.
//
// A port the kernel handed out for ":0" and then freed is the wrong
// choice: the kernel hands the same range out again as the local port of
// every outgoing connection, so that any test running at the same time
// may take it between the pick and the listen ("address already in use").
// Pick chooses below that range instead, where only listeners go.
package porttest

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The ports Pick chooses from when the kernel's ephemeral range cannot
// be read: below Linux's default range, 32768 to 60999.
const (
	low          = 20000
	defaultFirst = 32768
)

var (
	mu     sync.Mutex
	picked = map[int]bool{} // handed out by this process: never twice
)

// Pick returns a TCP port that nothing listens on, on any address, and
// that the kernel does not hand out to outgoing connections. It fails
// the test when no such port is found. Two test processes may still pick
// the same port at the same instant, one chance in thousands.
func Pick(tb testing.TB) int {
	tb.Helper()
	first := ephemeralFirst()
	if first <= low+100 {
		first = defaultFirst
	}
	mu.Lock()
	defer mu.Unlock()
	for range 100 {
		port := low + rand.IntN(first-low)
		if picked[port] {
			continue
		}
		lis, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			continue // in use
		}
		lis.Close()
		picked[port] = true
		return port
	}
	tb.Fatalf("porttest: no free port between %d and %d after 100 tries", low, first)
	return 0
}

// ephemeralFirst returns the first port of the kernel's ephemeral range,
// or 0 when it cannot be read (not Linux).
func ephemeralFirst() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil {
		return 0
	}
	return n
}
