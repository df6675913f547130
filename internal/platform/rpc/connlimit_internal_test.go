package rpc

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
)

// TestCappedListenerEvicts checks whom a capped listener closes at its cap
// to take a new connection, with connections from several addresses: the
// oldest of the client that holds the most, so that a client holding
// nearly every place makes room from its own, even for a newcomer from an
// address whose connection is older; among clients that hold as many,
// the oldest connection; and a connection closed gives its place back,
// once however often it is closed. Before, the listener closed every new
// connection past its cap, whoever held the places.
func TestCappedListenerEvicts(t *testing.T) {
	const (
		node     = "10.0.0.1" // where the kubelet's probes come from
		attacker = "10.0.0.2"
		other    = "10.0.0.3"
	)
	fake := &fakeListener{conns: make(chan net.Conn)}
	lis := capConns(fake, 4, slog.New(slog.DiscardHandler))
	// dial opens a connection from peer and returns its client's end and
	// the server's.
	dial := func(peer string) (client, server net.Conn) {
		t.Helper()
		client, server = net.Pipe()
		t.Cleanup(func() { client.Close(); server.Close() })
		go func() {
			fake.conns <- remoteConn{Conn: server, remote: &net.TCPAddr{IP: net.ParseIP(peer), Port: 40000}}
		}()
		accepted, err := lis.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return client, accepted
	}
	// open reports whether the server still holds the connection of client.
	open := func(client net.Conn) bool {
		t.Helper()
		client.SetReadDeadline(time.Now().Add(20 * time.Millisecond)) //nolint:errcheck // a pipe
		_, err := client.Read(make([]byte, 1))
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, io.EOF) {
			t.Fatalf("read a pipe: %v", err)
		}
		return errors.Is(err, os.ErrDeadlineExceeded)
	}

	probe1, _ := dial(node)
	a1, _ := dial(attacker)
	a2, _ := dial(attacker)
	a3, a3server := dial(attacker)
	a4, _ := dial(attacker) // the port is full: the attacker's oldest goes, not the older probe
	if open(a1) || !open(probe1) || !open(a2) {
		t.Errorf("a fifth connection, from the client holding 3 of 4: closed are a1 %v, the node's older one %v, a2 %v; want a1 alone", !open(a1), !open(probe1), !open(a2))
	}
	probe2, _ := dial(node) // the node holds 1, the attacker 3
	if open(a2) || !open(probe1) || !open(probe2) {
		t.Errorf("a probe with the port full: closed are a2 %v, the node's %v and %v; want a2 alone", !open(a2), !open(probe1), !open(probe2))
	}
	// The node and the attacker hold two each: the oldest of all goes.
	o1, _ := dial(other)
	if open(probe1) || !open(probe2) || !open(a3) || !open(a4) || !open(o1) {
		t.Errorf("with two clients holding as many: closed are the oldest %v, the others %v %v %v %v; want the oldest alone", !open(probe1), !open(probe2), !open(a3), !open(a4), !open(o1))
	}
	// A connection that ends gives its place back, once.
	a3server.Close()
	a3server.Close()
	o2, _ := dial(other)
	if !open(probe2) || !open(a4) || !open(o1) || !open(o2) {
		t.Errorf("a connection into the place of one closed: closed are %v %v %v %v; want none", !open(probe2), !open(a4), !open(o1), !open(o2))
	}
	if lis.open != 4 {
		t.Errorf("the listener counts %d connections open, want 4", lis.open)
	}
}

// fakeListener accepts the connections sent on conns.
type fakeListener struct{ conns chan net.Conn }

func (f *fakeListener) Accept() (net.Conn, error) { return <-f.conns, nil }
func (f *fakeListener) Close() error              { return nil }
func (f *fakeListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(10, 0, 0, 9), Port: 8086} }

// remoteConn is a connection from remote.
type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }
