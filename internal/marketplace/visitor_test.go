package marketplace_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// The visitor: who is asking for a page, as the header and the sign-out
// know it, when the services that say so are up, down, or back.

// restartableAccounts is an Accounts service, run as its command runs it,
// with its database in a file, that a test stops and starts again on the
// same address: a service that goes down and comes back.
type restartableAccounts struct {
	tb     testing.TB
	addr   string
	db     string
	client *accountsclient.Client
	stop   func()
}

// startRestartableAccounts starts Accounts until the test ends.
func startRestartableAccounts(tb testing.TB) *restartableAccounts {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	a := &restartableAccounts{tb: tb, addr: lis.Addr().String(), db: filepath.Join(tb.TempDir(), "accounts.db")}
	a.run(lis)
	// A client that tries again soon after a failed connection, so that
	// the service is reached as soon as it is back.
	a.client = accountsclient.New(rpctest.Dial(tb, a.addr, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1, MaxDelay: 10 * time.Millisecond},
		MinConnectTimeout: time.Second,
	})), 10*time.Second)
	tb.Cleanup(func() { a.stop() })
	return a
}

// run serves Accounts on lis until stop.
func (a *restartableAccounts) run(lis net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cfg := accounts.DefaultConfig()
		cfg.DB = a.db
		done <- accounts.Run(ctx, cfg, process.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DrainTimeout: time.Second, Listener: lis})
	}()
	stopped := false
	a.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			a.tb.Errorf("accounts: %v", err)
		}
	}
}

// restart starts Accounts again on its address, after stop.
func (a *restartableAccounts) restart() {
	a.tb.Helper()
	var lis net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if lis, err = net.Listen("tcp", a.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		a.tb.Fatalf("listen on %s again: %v", a.addr, err)
	}
	a.run(lis)
}

// A shopper who signs up and, with no page in between, signs out while
// Accounts is down is told that they are still signed in, and keeps the
// cookie: the Marketplace never checked the session, but it must not drop
// the cookie of a session it could not end. Once Accounts is back, the
// sign-out ends the session.
func TestSignOutRightAfterSignUpWithAccountsDown(t *testing.T) {
	acc := startRestartableAccounts(t)
	shop := startShop(t, func(o *marketplace.Options) { o.Accounts = acc.client })
	b := newShopper(t, shop.site)
	b.signUp("fresh@example.com", "Fresh")
	token := b.cookie("bookshop_session")
	acc.stop()

	r := b.post("/signout", nil)
	wantHTML(t, "POST", "/signout", r, http.StatusServiceUnavailable)
	if !strings.Contains(r.body, "still signed in") {
		t.Errorf("a sign-out that could not reach Accounts does not say so:\n%s", r.body)
	}
	if got := b.cookie("bookshop_session"); got != token {
		t.Fatalf("a sign-out that could not revoke the session changed its cookie to %q", got)
	}

	acc.restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = b.post("/signout", nil)
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("POST /signout with Accounts back: status %d, Location %q, want 303 to /; body:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if b.cookie("bookshop_session") != "" {
		t.Error("POST /signout with Accounts back: the session cookie stays")
	}
	if _, err := acc.client.Session(testContext(t), token); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Session(signed-out token) = %v, want NotFound: the sign-out did not revoke it", err)
	}
}

