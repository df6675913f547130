package pgtest

import (
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Proxy stands between a service and the test server, on a port of its
// own, so that a test can take the database away (Down) and give it back
// (Up) as a restart or a network fault would, without stopping the server
// that other tests use.
type Proxy struct {
	tb     testing.TB
	target string // the server's host:port
	addr   string // the proxy's host:port, kept across Down and Up

	mu       sync.Mutex
	lis      net.Listener  // nil while down
	down     chan struct{} // closed by Down: the connections accepted before it end
	conns    map[net.Conn]bool
	delay    time.Duration // before a new connection reaches the server
	accepted int           // connections accepted
	wg       sync.WaitGroup
}

// NewProxy returns a proxy to the server of u, a postgres:// URL on TCP,
// already up, and closed when the test ends.
func NewProxy(tb testing.TB, u string) *Proxy {
	tb.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		tb.Fatalf("NewProxy: the URL does not parse")
	}
	p := &Proxy{tb: tb, target: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), conns: make(map[net.Conn]bool)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = lis.Addr().String()
	p.serve(lis)
	tb.Cleanup(func() {
		p.Down()
		p.wg.Wait()
	})
	return p
}

// URL returns u with its host and port those of the proxy.
func (p *Proxy) URL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || !strings.HasPrefix(parsed.Scheme, "postgres") {
		p.tb.Fatalf("Proxy.URL: want a postgres:// URL")
	}
	parsed.Host = p.addr
	return parsed.String()
}

// Down closes the proxy's port and every connection through it: the
// database is unreachable until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lis != nil {
		p.lis.Close()
		p.lis = nil
		close(p.down)
	}
	for c := range p.conns {
		c.Close()
	}
}

// Delay makes every connection accepted from now on wait d before it
// reaches the server, as it waits for a busy server to start its
// process; the connections already open are not slowed. Down ends the
// wait, and the connection.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Up opens the proxy's port again, the same one.
func (p *Proxy) Up() {
	p.tb.Helper()
	lis, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.tb.Fatalf("Proxy.Up: %v", err)
	}
	p.serve(lis)
}

// serve accepts on lis until it is closed, piping each connection to the
// server.
func (p *Proxy) serve(lis net.Listener) {
	p.mu.Lock()
	p.lis, p.down = lis, make(chan struct{})
	down := p.down
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.accepted++
			delay := p.delay
			p.mu.Unlock()
			if delay == 0 {
				p.pipe(c, down)
				continue
			}
			p.wg.Go(func() {
				wait := time.NewTimer(delay)
				defer wait.Stop()
				select {
				case <-wait.C:
					p.pipe(c, down)
				case <-down:
					c.Close()
				}
			})
		}
	})
}

// pipe copies between c and a new connection to the server, both ways,
// until either side closes, or down is closed.
func (p *Proxy) pipe(c net.Conn, down <-chan struct{}) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	select {
	case <-down: // went down meanwhile
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	default:
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	copyThenClose := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src) // either side closing, or Down, ends both
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}
	p.wg.Go(func() { copyThenClose(s, c) })
	p.wg.Go(func() { copyThenClose(c, s) })
}
