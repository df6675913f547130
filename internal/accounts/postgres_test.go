package accounts_test

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/accounts"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

var discard = slog.New(slog.DiscardHandler)

// runAccounts runs the Accounts service as `bookshop accounts` does
// (accounts.Run) with cfg and logger, until the test ends, and returns
// the address it serves on.
func runAccounts(tb testing.TB, cfg accounts.Config, logger *slog.Logger) string {
	tb.Helper()
	return rpctest.Run(tb, "accounts.Run", func(ctx context.Context, deps process.Deps) error { return accounts.Run(ctx, cfg, deps) }, logger)
}

// waitHealth waits until the health of AccountsService at addr is want,
// and fails the test if it is not within 10 seconds.
func waitHealth(tb testing.TB, addr string, want healthpb.HealthCheckResponse_ServingStatus, when string) {
	tb.Helper()
	rpctest.WaitHealth(tb, addr, accountsv1.AccountsService_ServiceDesc.ServiceName, want, when)
}

// TestRunOnPostgres runs two Accounts services, as `bookshop accounts`
// with a database URL, on one PostgreSQL database, which the first
// reaches through a proxy: an account opened on one signs in on the
// other, its email is taken on both, and a session started on one is
// known to the other and ended for both; while the proxy is down the
// first's health is NOT_SERVING and its calls fail with UNAVAILABLE, and
// once it is back, SERVING, and it signs in again.
func TestRunOnPostgres(t *testing.T) {
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	cfg := accounts.DefaultConfig()
	cfg.ReadyInterval = 50 * time.Millisecond
	cfg.Database = st
	cfg.Database.URL, cfg.Database.ConnectTimeout = proxy.URL(st.URL), time.Second
	firstAddr := runAccounts(t, cfg, discard)
	cfg.Database = st
	secondAddr := runAccounts(t, cfg, discard)
	first := accountsv1.NewAccountsServiceClient(dial(t, firstAddr))
	second := accountsv1.NewAccountsServiceClient(dial(t, secondAddr))

	ctx := testContext(t)
	up, err := first.SignUp(ctx, &accountsv1.SignUpRequest{Email: adaEmail, Name: "Ada", Password: adaPassword, Client: client1})
	if err != nil {
		t.Fatalf("SignUp on the first: %v", err)
	}
	if _, err := second.SignUp(ctx, &accountsv1.SignUpRequest{Email: adaEmail, Name: "Other Ada", Password: otherPassword, Client: client2}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("SignUp of the same email on the second = %v, want ALREADY_EXISTS", err)
	}
	in, err := second.SignIn(ctx, &accountsv1.SignInRequest{Email: adaEmail, Password: adaPassword, Client: client2})
	if err != nil {
		t.Fatalf("SignIn on the second: %v", err)
	}
	// An email with a NUL, which PostgreSQL's text cannot hold: a wrong
	// email, as on SQLite, not an internal error.
	if _, err := second.SignIn(ctx, &accountsv1.SignInRequest{Email: "a\x00da@example.com", Password: adaPassword, Client: client2}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("SignIn with a NUL in the email = %v, want UNAUTHENTICATED", err)
	}
	if got, err := first.GetSession(ctx, &accountsv1.GetSessionRequest{Token: in.GetSession().GetToken()}); err != nil || got.GetSession().GetCustomer().GetEmail() != adaEmail {
		t.Errorf("GetSession on the first of a session started on the second = %v, %v; want Ada's", got, err)
	}
	if _, err := second.SignOut(ctx, &accountsv1.SignOutRequest{Token: up.GetSession().GetToken()}); err != nil {
		t.Fatalf("SignOut on the second: %v", err)
	}
	if _, err := first.GetSession(ctx, &accountsv1.GetSessionRequest{Token: up.GetSession().GetToken()}); status.Code(err) != codes.NotFound {
		t.Errorf("GetSession on the first of a session ended on the second = %v, want NOT_FOUND", err)
	}

	waitHealth(t, firstAddr, healthpb.HealthCheckResponse_SERVING, "with the database")
	proxy.Down()
	waitHealth(t, firstAddr, healthpb.HealthCheckResponse_NOT_SERVING, "without the database")
	if _, err := first.GetSession(ctx, &accountsv1.GetSessionRequest{Token: in.GetSession().GetToken()}); status.Code(err) != codes.Unavailable {
		t.Errorf("GetSession on the first without its database = %v, want UNAVAILABLE, which a caller retries", err)
	}
	waitHealth(t, secondAddr, healthpb.HealthCheckResponse_SERVING, "of the other replica")
	proxy.Up()
	waitHealth(t, firstAddr, healthpb.HealthCheckResponse_SERVING, "once the database is back")
	if _, err := first.SignIn(ctx, &accountsv1.SignInRequest{Email: adaEmail, Password: adaPassword, Client: client1}); err != nil {
		t.Errorf("SignIn on the first once the database is back: %v", err)
	}
}

// TestRunHidesPassword runs the Accounts service on a database URL with
// a password: the log names the database with the password hidden, and
// so does the error of a start whose database cannot be reached.
func TestRunHidesPassword(t *testing.T) {
	const password = "S3cret-Pa55word"
	st := pgtest.Settings(t)
	parsed, err := url.Parse(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password) // the test server trusts any
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	cfg := accounts.DefaultConfig()
	cfg.Database = st
	cfg.Database.URL = parsed.String()
	addr := runAccounts(t, cfg, logger)
	waitHealth(t, addr, healthpb.HealthCheckResponse_SERVING, "on its database")
	if !strings.Contains(logs.String(), "xxxxx@") || strings.Contains(logs.String(), password) {
		t.Errorf("the log does not hide the password as xxxxx:\n%s", logs)
	}

	parsed.Host = rpctest.ClosedAddr(t)
	cfg.Database.URL, cfg.Database.ConnectTimeout = parsed.String(), time.Second
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = accounts.Run(testContext(t), cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "xxxxx@") {
		t.Errorf("Run without its database = %v, want an error that hides the password as xxxxx", err)
	}
}
