package rpc

import (
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// cappedListener is a listener that holds at most max connections open at
// once. It never refuses a new connection: at the cap, it closes the
// oldest connection of the peer (a client address) that holds the most,
// and accepts the new one. So a client that opens connections without end
// costs the server nothing past the cap, and it cannot keep others out:
// a client that holds every place makes room for each newcomer from its
// own, and a probe, whose connection lives for a few milliseconds and
// whose address holds one or two at a time, is served as before. (A
// listener that refused connections past the cap let anyone who held the
// cap's worth of idle connections keep the kubelet's probes out, and the
// pod restarted again and again.) A connection gives its place back when
// it is closed, by the server (its idle timeout, its maximum age,
// shutdown) or by its client.
type cappedListener struct {
	net.Listener
	max    int
	logger *slog.Logger
	// warned is when the last eviction was logged (unix nanoseconds): at
	// most one a minute, however many there are.
	warned atomic.Int64

	mu     sync.Mutex
	open   int                      // connections held, all peers
	byPeer map[string][]*cappedConn // each peer's, oldest first
	next   uint64                   // the order of the next accepted
}

// capConns returns lis capped at max connections open at once; it logs
// evictions to logger, at most one a minute.
func capConns(lis net.Listener, max int, logger *slog.Logger) *cappedListener {
	return &cappedListener{Listener: lis, max: max, logger: logger, byPeer: make(map[string][]*cappedConn)}
}

// Accept returns the next connection; at the cap, it closes one held (see
// cappedListener) first. Errors: the listener's.
func (l *cappedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &cappedConn{Conn: c, l: l, peer: peerOf(c.RemoteAddr())}
	var victim *cappedConn
	var victimHeld int
	l.mu.Lock()
	if l.open >= l.max {
		victim = l.victimLocked()
		victimHeld = len(l.byPeer[victim.peer])
		l.removeLocked(victim)
	}
	cc.order = l.next
	l.next++
	l.byPeer[cc.peer] = append(l.byPeer[cc.peer], cc)
	l.open++
	l.mu.Unlock()
	if victim != nil {
		victim.Conn.Close() // the server's reads fail, and it lets the connection go
		l.evicted(victim.peer, victimHeld, cc.peer)
	}
	return cc, nil
}

// victimLocked returns the connection to close at the cap: the oldest of
// the peer that holds the most, and, among peers that hold as many, the
// oldest of their oldest. Called with l.mu held and a connection open.
func (l *cappedListener) victimLocked() *cappedConn {
	var victim *cappedConn
	most := 0
	for _, conns := range l.byPeer {
		if len(conns) > most || (len(conns) == most && conns[0].order < victim.order) {
			victim, most = conns[0], len(conns)
		}
	}
	return victim
}

// removeLocked forgets c, unless it is forgotten already, and gives its
// place back. Called with l.mu held.
func (l *cappedListener) removeLocked(c *cappedConn) {
	conns := l.byPeer[c.peer]
	i := slices.Index(conns, c)
	if i < 0 {
		return
	}
	if len(conns) == 1 {
		delete(l.byPeer, c.peer)
	} else {
		l.byPeer[c.peer] = slices.Delete(conns, i, i+1)
	}
	l.open--
}

// evicted logs that the oldest connection of victim, which held held, was
// closed to take one of peer, unless one was logged in the last minute.
func (l *cappedListener) evicted(victim string, held int, peer string) {
	now, last := time.Now().UnixNano(), l.warned.Load()
	if now-last < int64(time.Minute) || !l.warned.CompareAndSwap(last, now) {
		return
	}
	l.logger.Warn("the port holds as many connections as it may: closed the oldest connection of the client that holds the most, to take a new one (logged at most once a minute)",
		"addr", l.Addr().String(), "max_connections", l.max, "closed_peer", victim, "closed_peer_connections", held, "new_peer", peer)
}

// peerOf returns the client a connection comes from: its IP address
// without the port, or the whole address where it has none.
func peerOf(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		return host
	}
	return addr.String()
}

// cappedConn is a connection of a cappedListener, which gives its place
// back once closed.
type cappedConn struct {
	net.Conn
	l     *cappedListener
	peer  string // see peerOf
	order uint64 // accepted after those of lower order
}

// Close closes the connection and gives its place back (once, however
// many times it is called).
func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.l.mu.Lock()
	c.l.removeLocked(c)
	c.l.mu.Unlock()
	return err
}
