package rpc

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// cappedListener is a listener that holds at most max connections open at
// once: past it, it closes each new connection as soon as it accepts it,
// before the server reads or sends a byte, and accepts the next. So a
// client that opens connections without end costs the server nothing
// past the cap, and the clients within it are served as before. A
// connection gives its place back when it is closed, by the server (its
// idle timeout, its maximum age, shutdown) or by its client.
type cappedListener struct {
	net.Listener
	max    int64
	open   atomic.Int64
	logger *slog.Logger
	// warned is when the last refusal was logged (unix nanoseconds): at
	// most one a minute, however many there are.
	warned atomic.Int64
}

// capConns returns lis capped at max connections open at once; it logs
// refusals to logger, at most one a minute.
func capConns(lis net.Listener, max int, logger *slog.Logger) *cappedListener {
	return &cappedListener{Listener: lis, max: int64(max), logger: logger}
}

// Accept returns the next connection within the cap; those past it are
// closed. Errors: the listener's.
func (l *cappedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &cappedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		c.Close()
		l.refused(c.RemoteAddr())
	}
}

// refused logs that a connection from addr was closed at the cap, unless
// one was logged in the last minute.
func (l *cappedListener) refused(addr net.Addr) {
	now, last := time.Now().UnixNano(), l.warned.Load()
	if now-last < int64(time.Minute) || !l.warned.CompareAndSwap(last, now) {
		return
	}
	l.logger.Warn("connection refused: the port holds as many connections as it may; closing new ones until some end (logged at most once a minute)",
		"addr", l.Addr().String(), "max_connections", l.max, "peer", addr.String())
}

// cappedConn is a connection of a cappedListener, which gives its place
// back once closed.
type cappedConn struct {
	net.Conn
	l    *cappedListener
	once sync.Once
}

// Close closes the connection and gives its place back (once, however
// many times it is called).
func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
