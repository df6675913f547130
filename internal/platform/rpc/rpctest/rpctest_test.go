package rpctest_test

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// ClosedAddr's port refuses connections, and no server can be given it
// while the test runs.
func TestClosedAddr(t *testing.T) {
	addr := rpctest.ClosedAddr(t)
	if conn, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		if conn != nil {
			conn.Close()
		}
		t.Errorf("Dial(%s) = %v, want connection refused", addr, err)
	}
	if lis, err := net.Listen("tcp", addr); err == nil {
		lis.Close()
		t.Errorf("Listen(%s) succeeded: the port is free for any server to take", addr)
	}
}
