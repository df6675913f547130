package accountsclient_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// startAccounts serves an Accounts service, in memory, with cheap hashes
// and limits, on loopback until the test ends, and returns a client of
// it.
func startAccounts(tb testing.TB, limits accounts.Limits) *accountsclient.Client {
	tb.Helper()
	ctx := rpctest.Context(tb)
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	svc, err := accounts.NewService(ctx, db, accounts.Options{Hash: accounts.HashParams{Memory: 64, Time: 1, Threads: 1}, Limits: limits})
	if err != nil {
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := accounts.NewGRPCServer(svc, process.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis})
	if err != nil {
		tb.Fatal(err)
	}
	serving, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(serving, lis) }()
	tb.Cleanup(func() { stop(); <-done })
	return accountsclient.New(rpctest.Dial(tb, lis.Addr().String()), 5*time.Second)
}

// TestClient drives the real service through the client, in the kernel's
// types: the sessions it returns and the errors, with their codes, that
// the Marketplace acts on.
func TestClient(t *testing.T) {
	var c bookshop.Accounts = startAccounts(t, accounts.Limits{PerAccount: 2, PerClient: 100, Window: time.Hour})
	ctx := rpctest.Context(t)
	const pw = "difference-engine-1822"
	up, err := c.SignUp(ctx, bookshop.NewAccount{Email: "Charles@Example.com", Name: "Charles Babbage", Password: pw}, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	if up.Customer.ID != 1 || up.Customer.Email != "charles@example.com" || up.Customer.Name != "Charles Babbage" || up.Customer.Created.IsZero() || up.Token == "" || !up.Expires.After(up.Customer.Created) {
		t.Errorf("SignUp = %+v, want customer 1, charles@example.com, with a token and an expiry", up)
	}
	got, err := c.Session(ctx, up.Token)
	if err != nil || got != up {
		t.Errorf("Session(sign-up token) = %+v, %v; want %+v", got, err, up)
	}
	in, err := c.SignIn(ctx, "charles@example.com", pw, "192.0.2.7")
	if err != nil || in.Token == up.Token || in.Customer != up.Customer {
		t.Errorf("SignIn = %+v, %v; want Charles with a new token", in, err)
	}
	if err := c.SignOut(ctx, up.Token); err != nil {
		t.Errorf("SignOut = %v", err)
	}

	for _, tt := range []struct {
		name string
		call func() error
		want bookshop.Code
	}{
		{"session signed out", func() error { _, err := c.Session(ctx, up.Token); return err }, bookshop.NotFound},
		{"unknown token", func() error { _, err := c.Session(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); return err }, bookshop.NotFound},
		{"empty token", func() error { _, err := c.Session(ctx, ""); return err }, bookshop.NotFound},
		{"sign out of no session", func() error { return c.SignOut(ctx, "") }, ""},
		{"email taken", func() error {
			// Another password: the same one would be the sign-up again.
			_, err := c.SignUp(ctx, bookshop.NewAccount{Email: "charles@example.com", Name: "C", Password: "analytical-engine-1843"}, "192.0.2.8")
			return err
		}, bookshop.Exists},
		{"short password", func() error {
			_, err := c.SignUp(ctx, bookshop.NewAccount{Email: "d@example.com", Name: "D", Password: "short"}, "192.0.2.8")
			return err
		}, bookshop.Invalid},
		{"wrong password", func() error {
			_, err := c.SignIn(ctx, "charles@example.com", "wrong-password", "192.0.2.9")
			return err
		}, bookshop.Unauthenticated},
		{"unknown email", func() error { _, err := c.SignIn(ctx, "nobody@example.com", "wrong-password", "192.0.2.9"); return err }, bookshop.Unauthenticated},
		{"wrong again", func() error {
			_, err := c.SignIn(ctx, "charles@example.com", "wrong-password", "192.0.2.9")
			return err
		}, bookshop.Unauthenticated},
		{"throttled", func() error { _, err := c.SignIn(ctx, "charles@example.com", pw, "192.0.2.9"); return err }, bookshop.Exhausted},
	} {
		if err := tt.call(); bookshop.ErrorCode(err) != tt.want {
			t.Errorf("%s: %v, want code %q", tt.name, err, tt.want)
		}
	}
	_, err = c.SignIn(ctx, "charles@example.com", pw, "192.0.2.9")
	if after := bookshop.RetryAfter(err); after <= 59*time.Minute || after > time.Hour {
		t.Errorf("RetryAfter of a throttled sign-in = %v, want about an hour", after)
	}
}

// TestClientSessionEndedIsNotARefusedCaller checks the two answers a
// caller must tell apart: a session that has ended is NotFound (the
// shopper is signed out), while a service that refuses the caller itself,
// as its authorization does for a caller without a verified certificate,
// is Unauthenticated, which says nothing of the session.
func TestClientSessionEndedIsNotARefusedCaller(t *testing.T) {
	c := startAccounts(t, accounts.Limits{})
	ctx := rpctest.Context(t)
	sess, err := c.SignUp(ctx, bookshop.NewAccount{Email: "grace@example.com", Name: "Grace", Password: "compiler-a0-1952"}, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SignOut(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Session(ctx, sess.Token); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Session of an ended session = %v, want NotFound", err)
	}

	// The same service behind its authorization, which sees no
	// certificate on a plaintext connection.
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc, err := accounts.NewService(ctx, db, accounts.Options{Hash: accounts.HashParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		accountsv1.RegisterAccountsServiceServer(srv, accounts.NewServer(svc, logger))
	}, grpc.ChainUnaryInterceptor(rpc.AuthorizeUnary(accounts.Policy(), certs.SPIFFEOnly)))
	refused := accountsclient.New(rpctest.Dial(t, addr), 5*time.Second)
	if _, err := refused.Session(ctx, sess.Token); bookshop.ErrorCode(err) != bookshop.Unauthenticated {
		t.Errorf("Session from a caller without a certificate = %v, want Unauthenticated", err)
	}
}

// TestClientServiceDown checks that a call to an Accounts service that
// cannot be reached is Unavailable, within the client's timeout.
func TestClientServiceDown(t *testing.T) {
	c := accountsclient.New(rpctest.Dial(t, rpctest.ClosedAddr(t)), 2*time.Second)
	_, err := c.Session(context.Background(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Session with the service down = %v, want Unavailable", err)
	}
}
