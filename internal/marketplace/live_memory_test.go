package marketplace_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// serveLiveEnv, set in its environment, makes the test binary a child
// process that serves live recommendations over the built-in catalog (see
// startLiveChild).
const serveLiveEnv = "MARKETPLACE_TEST_SERVE_LIVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveLiveEnv) != "" {
		os.Exit(rpctest.ServeChild(func(ctx context.Context, lis net.Listener) error {
			books, err := catalogfile.Builtin()
			if err != nil {
				return err
			}
			logger := slog.New(slog.DiscardHandler)
			// As Recommendations does, a connection may hold more streams
			// than other calls: the Marketplace's every session.
			srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second, MaxConcurrentStreams: 10_000})
			recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, recommendations.NewLiveServer(
				func() *recommendations.Session { return recommendations.NewSession(books, nil) }, logger))
			return srv.Run(ctx, lis)
		}))
	}
	os.Exit(m.Run())
}

// startLiveChild serves live recommendations in a child process, so that
// their memory is not the Marketplace's, and returns a client of them.
func startLiveChild(tb testing.TB) *recommendationsclient.LiveClient {
	tb.Helper()
	_, addr := rpctest.StartChild(tb, serveLiveEnv+"=1")
	return recommendationsclient.NewLiveClient(mustDial(tb, addr))
}

// startSessionSite serves the Marketplace with live recommendations from
// a child process, behind one trusted proxy (so that each request names
// its client in X-Forwarded-For), without rate limits or logs, and with
// the given caps.
func startSessionSite(tb testing.TB, max, perClient, perNetwork int) *httptest.Server {
	tb.Helper()
	return startSite(tb, marketplace.Options{
		Logger:                    slog.New(slog.DiscardHandler),
		Recommender:               grpcRecommender(tb, recommendations.New(builtinCatalog(tb), seededRand())),
		Live:                      startLiveChild(tb),
		RateLimit:                 rate.Inf,
		TrustedProxies:            1,
		MaxLiveSessions:           max,
		MaxLiveSessionsPerClient:  perClient,
		MaxLiveSessionsPerNetwork: perNetwork,
	})
}

// openSession opens GET /live on srv as client (an address, in
// X-Forwarded-For) over a connection of its own, as a browser's event
// source does, and returns the connection, open, and the response's
// status. It reads the response up to the session event, and no further:
// the connection costs the test little more than its socket. The caller
// closes it.
func openSession(tb testing.TB, srv *httptest.Server, client string) (net.Conn, int) {
	tb.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /live HTTP/1.1\r\nHost: shop\r\nAccept: text/event-stream\r\nX-Forwarded-For: %s\r\n\r\n", client)
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		tb.Fatalf("GET /live as %s: %v", client, err)
	}
	var status int
	if _, err := fmt.Sscanf(line, "HTTP/1.1 %d", &status); err != nil {
		tb.Fatalf("GET /live as %s: status line %q", client, line)
	}
	for status == 200 {
		line, err := r.ReadString('\n')
		if err != nil {
			tb.Fatalf("GET /live as %s: no session event: %v", client, err)
		}
		if strings.HasPrefix(line, "event: session") {
			break
		}
	}
	conn.SetDeadline(time.Time{})
	return conn, status
}

// TestLiveSessionCaps checks the caps on live sessions: of one client,
// of the clients of one network (an IPv6 /48, an IPv4 /24) and of all,
// each refused past its cap with 503, and a place freed when a session
// ends.
func TestLiveSessionCaps(t *testing.T) {
	srv := startSessionSite(t, 12, 3, 5)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	opened := 0
	open := func(client string, want int) net.Conn {
		t.Helper()
		conn, status := openSession(t, srv, client)
		conns = append(conns, conn)
		if status != want {
			t.Fatalf("GET /live as %s, with %d sessions open = %d, want %d", client, opened, status, want)
		}
		if status == 200 {
			opened++
		}
		return conn
	}
	// One client: three, then no more.
	first := open("2001:db8:1:1::1", 200)
	open("2001:db8:1:1::2", 200) // the same /64: the same client
	open("2001:db8:1:1::3", 200)
	open("2001:db8:1:1::4", 503)
	// Its network, a /48, holds five.
	open("2001:db8:1:2::1", 200)
	open("2001:db8:1:ffff::1", 200)
	open("2001:db8:1:3::1", 503)
	// So does an IPv4 /24.
	for i := range 5 {
		open(fmt.Sprintf("192.0.2.%d", i+1), 200)
	}
	open("192.0.2.200", 503)
	// Another network may open more, up to the cap on all.
	open("2001:db8:2::1", 200)
	open("198.51.100.1", 200)
	open("203.0.113.1", 503) // 12 open
	// A session that ends gives its place back.
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, status := openSession(t, srv, "2001:db8:1:3::1")
		if status == 200 {
			conns = append(conns, conn)
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("GET /live after a session ended = %d, want 200 once its place is free", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveSessionMemory opens live sessions as browsers do, each from its
// own network, and checks what each holds in the Marketplace's memory,
// with its stream of live recommendations (served by a child process,
// whose memory is not counted): at most marketplace.LiveSessionBytes,
// the figure docs/capacity.md budgets with. The cap on all sessions
// refuses one more.
func TestLiveSessionMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("opens 2,000 connections")
	}
	const n = 2000
	srv := startSessionSite(t, n, 0, 0)
	client := func(i int) string { return fmt.Sprintf("2001:db8:%x::1", i) }
	// A first session, so that what every session shares (the connection
	// to Recommendations, the pools) is there before the count starts.
	warm, _ := openSession(t, srv, client(n))
	warm.Close()
	time.Sleep(100 * time.Millisecond)

	before := memtest.Held()
	rssBefore, _ := memtest.RSS(0)
	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		var status int
		if conns[i], status = openSession(t, srv, client(i)); status != 200 {
			t.Fatalf("GET /live number %d = %d, want 200", i+1, status)
		}
	}
	refused, status := openSession(t, srv, client(n+1))
	refused.Close()
	if status != 503 {
		t.Errorf("GET /live with %d sessions open, the cap = %d, want 503", n, status)
	}
	held := memtest.Held()
	rss, _ := memtest.RSS(0)
	each := (held - before) / n
	t.Logf("%d live sessions: %d bytes each in the heap and stacks (%s in all); the process's RSS grew by %d bytes each",
		n, each, memtest.MiB(held-before), (int64(rss)-int64(rssBefore))/n)
	if each > marketplace.LiveSessionBytes {
		t.Errorf("a live session holds %d bytes, more than the %d the budget allows (marketplace.LiveSessionBytes)", each, marketplace.LiveSessionBytes)
	}
	if count, bytes := memtest.Documented(t, "Marketplace", "live sessions"); count != marketplace.DefaultMaxLiveSessions || bytes != marketplace.LiveSessionBytes {
		t.Errorf("docs/capacity.md budgets %d live sessions of %d bytes, want the default cap, %d, of marketplace.LiveSessionBytes, %d", count, bytes, marketplace.DefaultMaxLiveSessions, marketplace.LiveSessionBytes)
	}
}

// TestLiveOverHTTP2 checks a live session where the connection cannot be
// taken over from net/http (HTTP/2, here over TLS): the handler serves the
// session itself, events come as over HTTP/1.1, and the session's stream
// is closed once the browser goes away.
func TestLiveOverHTTP2(t *testing.T) {
	plain, svc := startLiveSite(t, marketplace.Options{})
	srv := httptest.NewUnstartedServer(plain.Config.Handler)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the test's server speaks %s, want HTTP/2", resp.Proto)
	}

	stream := openLive(t, srv)
	session := stream.session(t)
	svc.streams.waitOpen(t, 1)
	if r := postEvent(t, srv, session, `{"type": "viewed", "book_id": 6}`); r.status != http.StatusNoContent {
		t.Fatalf("POST an event over HTTP/2 = %d %s, want 204", r.status, r.body)
	}
	if list, id := stream.books(t); len(list) != 4 || id != "1" {
		t.Fatalf("the first list over HTTP/2 = %+v (id %q), want 4 books, id 1", list, id)
	}
	stream.cancel() // the browser goes away
	svc.streams.waitOpen(t, 0)
}
