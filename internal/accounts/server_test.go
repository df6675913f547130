package accounts_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/accounts"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// syncBuffer is a bytes.Buffer that a logger and a test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer serves svc as AccountsService, as Run does (its request
// rules included), on loopback until the test ends, and returns a client
// of it.
func startServer(tb testing.TB, svc *accounts.Service) accountsv1.AccountsServiceClient {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := accounts.NewGRPCServer(svc, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("gRPC server: %v", err)
		}
	})
	return accountsv1.NewAccountsServiceClient(dial(tb, lis.Addr().String()))
}

func TestServerSignUpSignInSignOut(t *testing.T) {
	c := newClock()
	client := startServer(t, newService(t, openDB(t), c, accounts.Options{}))
	ctx := testContext(t)

	up, err := client.SignUp(ctx, &accountsv1.SignUpRequest{Email: " Ada@Example.com", Name: "Ada Lovelace", Password: adaPassword, Client: client1})
	if err != nil {
		t.Fatal(err)
	}
	s := up.GetSession()
	cu := s.GetCustomer()
	if cu.GetId() != 1 || cu.GetEmail() != adaEmail || cu.GetName() != "Ada Lovelace" || !cu.GetCreateTime().AsTime().Equal(c.Now()) {
		t.Errorf("SignUp customer = %v, want 1, %s, Ada Lovelace, created %v", cu, adaEmail, c.Now())
	}
	if len(s.GetToken()) != 43 || !s.GetExpireTime().AsTime().Equal(c.Now().Add(accounts.DefaultSessionTTL)) {
		t.Errorf("SignUp session = token of %d characters, expires %v; want 43, %v", len(s.GetToken()), s.GetExpireTime().AsTime(), c.Now().Add(accounts.DefaultSessionTTL))
	}

	in, err := client.SignIn(ctx, &accountsv1.SignInRequest{Email: adaEmail, Password: adaPassword, Client: client1})
	if err != nil {
		t.Fatal(err)
	}
	if in.GetSession().GetToken() == s.GetToken() || in.GetSession().GetCustomer().GetId() != 1 {
		t.Errorf("SignIn = %v, want customer 1 with a new token", in.GetSession().GetCustomer())
	}
	got, err := client.GetSession(ctx, &accountsv1.GetSessionRequest{Token: in.GetSession().GetToken()})
	if err != nil || got.GetSession().GetToken() != in.GetSession().GetToken() || got.GetSession().GetCustomer().GetEmail() != adaEmail {
		t.Errorf("GetSession = %v, %v; want Ada's session", got, err)
	}
	if _, err := client.SignOut(ctx, &accountsv1.SignOutRequest{Token: in.GetSession().GetToken()}); err != nil {
		t.Fatal(err)
	}
	_, err = client.GetSession(ctx, &accountsv1.GetSessionRequest{Token: in.GetSession().GetToken()})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetSession after SignOut = %v, want NOT_FOUND", err)
	}
	if _, err := client.SignOut(ctx, &accountsv1.SignOutRequest{Token: in.GetSession().GetToken()}); err != nil {
		t.Errorf("SignOut again = %v, want OK", err)
	}
}

// TestServerErrors checks the status of each refusal, over the wire.
func TestServerErrors(t *testing.T) {
	client := startServer(t, newService(t, openDB(t), newClock(), accounts.Options{Limits: accounts.Limits{PerAccount: 2, PerClient: 100}}))
	ctx := testContext(t)
	if _, err := client.SignUp(ctx, &accountsv1.SignUpRequest{Email: adaEmail, Name: "Ada", Password: adaPassword, Client: client1}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 2000)
	tests := []struct {
		name     string
		call     func() error
		code     codes.Code
		contains string
	}{
		{"sign-up without email", func() error {
			_, err := client.SignUp(ctx, &accountsv1.SignUpRequest{Name: "A", Password: adaPassword, Client: client1})
			return err
		}, codes.InvalidArgument, "email: required"},
		{"sign-up without client", func() error {
			_, err := client.SignUp(ctx, &accountsv1.SignUpRequest{Email: "b@example.com", Name: "B", Password: adaPassword})
			return err
		}, codes.InvalidArgument, "client: required"},
		{"sign-up with a huge password", func() error {
			_, err := client.SignUp(ctx, &accountsv1.SignUpRequest{Email: "b@example.com", Name: "B", Password: long, Client: client1})
			return err
		}, codes.InvalidArgument, "password: too long, at most 1024 bytes"},
		{"sign-up with a bad email", func() error {
			_, err := client.SignUp(ctx, &accountsv1.SignUpRequest{Email: "b@localhost", Name: "B", Password: adaPassword, Client: client1})
			return err
		}, codes.InvalidArgument, "email: want a domain with a dot"},
		{"sign-up with a common password", func() error {
			_, err := client.SignUp(ctx, &accountsv1.SignUpRequest{Email: "b@example.com", Name: "B", Password: "qwertyuiop", Client: client1})
			return err
		}, codes.InvalidArgument, "most common passwords"},
		{"sign-up for a taken email", func() error {
			_, err := client.SignUp(ctx, &accountsv1.SignUpRequest{Email: adaEmail, Name: "B", Password: otherPassword, Client: client1})
			return err
		}, codes.AlreadyExists, "already exists"},
		{"sign-in without password", func() error {
			_, err := client.SignIn(ctx, &accountsv1.SignInRequest{Email: adaEmail, Client: client1})
			return err
		}, codes.InvalidArgument, "password: required"},
		{"sign-in with a wrong password", func() error {
			_, err := client.SignIn(ctx, &accountsv1.SignInRequest{Email: adaEmail, Password: "wrong-password", Client: client1})
			return err
		}, codes.Unauthenticated, "wrong email or password"},
		{"sign-in for an unknown email", func() error {
			_, err := client.SignIn(ctx, &accountsv1.SignInRequest{Email: "nobody@example.com", Password: "wrong-password", Client: client1})
			return err
		}, codes.Unauthenticated, "wrong email or password"},
		{"get-session without token", func() error {
			_, err := client.GetSession(ctx, &accountsv1.GetSessionRequest{})
			return err
		}, codes.InvalidArgument, "token: required"},
		{"get-session with an unknown token", func() error {
			_, err := client.GetSession(ctx, &accountsv1.GetSessionRequest{Token: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
			return err
		}, codes.NotFound, "no such session"},
		{"get-session with a malformed token", func() error {
			_, err := client.GetSession(ctx, &accountsv1.GetSessionRequest{Token: "not a token"})
			return err
		}, codes.NotFound, "no such session"},
		{"sign-out with an over-long token", func() error {
			_, err := client.SignOut(ctx, &accountsv1.SignOutRequest{Token: long})
			return err
		}, codes.InvalidArgument, "token: too long, at most 128 bytes"},
	}
	for _, tt := range tests {
		err := tt.call()
		if status.Code(err) != tt.code || !strings.Contains(status.Convert(err).Message(), tt.contains) {
			t.Errorf("%s: %v, want %s with %q", tt.name, err, tt.code, tt.contains)
		}
	}
}

// TestServerThrottleCarriesRetryInfo checks that a throttled sign-in, and
// a throttled sign-up, is RESOURCE_EXHAUSTED with a RetryInfo detail that
// says when to retry.
func TestServerThrottleCarriesRetryInfo(t *testing.T) {
	client := startServer(t, newService(t, openDB(t), newClock(), accounts.Options{Limits: accounts.Limits{
		Window: 15 * time.Minute, PerAccount: 1, PerClient: 100, SignUpWindow: time.Hour, SignUpsPerClient: 1}}))
	ctx := testContext(t)
	signIn := func() error {
		_, err := client.SignIn(ctx, &accountsv1.SignInRequest{Email: adaEmail, Password: "wrong-password", Client: client1})
		return err
	}
	signUp := func() error {
		_, err := client.SignUp(ctx, &accountsv1.SignUpRequest{Email: "new@example.com", Name: "New", Password: adaPassword, Client: client2})
		return err
	}
	for _, tt := range []struct {
		name  string
		call  func() error
		first codes.Code // the answer within the limit
		delay time.Duration
	}{
		{"sign-in", signIn, codes.Unauthenticated, 15 * time.Minute},
		{"sign-up", signUp, codes.OK, time.Hour},
	} {
		if err := tt.call(); status.Code(err) != tt.first {
			t.Fatalf("first %s = %v, want %s", tt.name, err, tt.first)
		}
		st := status.Convert(tt.call())
		if st.Code() != codes.ResourceExhausted {
			t.Errorf("%s past the limit = %v, want RESOURCE_EXHAUSTED", tt.name, st.Err())
			continue
		}
		var delay time.Duration
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.RetryInfo); ok {
				delay = info.GetRetryDelay().AsDuration()
			}
		}
		if delay != tt.delay {
			t.Errorf("%s: RetryInfo delay = %v, want %v", tt.name, delay, tt.delay)
		}
	}
}

// TestRunKeepsNoSecrets runs the service as its command does, with a
// database file, a log at debug level and every span traced, drives every
// method with a password and its tokens, then reads the whole log, every
// span (names, attributes, events, status) and every byte of the
// database's files: the password and the tokens appear in none of them.
// (The email appears in the database, which shows that the search would
// find what is there.)
func TestRunKeepsNoSecrets(t *testing.T) {
	const password = "Zanzibar-Quokka-7431"
	dir := t.TempDir()
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	health, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metrics := telemetry.NewMetrics()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	cfg := accounts.DefaultConfig()
	cfg.DB = filepath.Join(dir, "accounts.db")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- accounts.Run(ctx, cfg, process.Deps{Logger: logger, Metrics: metrics, Tracing: telemetry.NewTracing(tp),
			DrainTimeout: time.Second, Listener: lis, HealthListener: health})
	}()
	// stop stops Run, once, and returns its error.
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	defer stop()
	waitServing(t, health.Addr().String())

	client := accountsv1.NewAccountsServiceClient(dial(t, lis.Addr().String()))
	call := testContext(t)
	up, err := client.SignUp(call, &accountsv1.SignUpRequest{Email: "quokka@example.com", Name: "Quokka", Password: password, Client: client1})
	if err != nil {
		t.Fatal(err)
	}
	// A refused sign-up, whose message must not repeat the password.
	_, err = client.SignUp(call, &accountsv1.SignUpRequest{Email: "other@example.com", Name: password, Password: password, Client: client1})
	if status.Code(err) != codes.InvalidArgument || strings.Contains(err.Error(), password) {
		t.Errorf("SignUp with the password as name = %v, want INVALID_ARGUMENT that does not repeat it", err)
	}
	if _, err := client.SignIn(call, &accountsv1.SignInRequest{Email: "quokka@example.com", Password: password + "!", Client: client1}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("SignIn with a wrong password = %v", err)
	}
	in, err := client.SignIn(call, &accountsv1.SignInRequest{Email: "quokka@example.com", Password: password, Client: client1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetSession(call, &accountsv1.GetSessionRequest{Token: in.GetSession().GetToken()}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SignOut(call, &accountsv1.SignOutRequest{Token: up.GetSession().GetToken()}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetSession(call, &accountsv1.GetSessionRequest{Token: up.GetSession().GetToken()}); status.Code(err) != codes.NotFound {
		t.Errorf("GetSession after SignOut = %v, want NOT_FOUND", err)
	}

	// The metrics count what happened.
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		"bookshop_accounts_signups_total 1",
		`bookshop_accounts_signins_total{result="ok"} 1`,
		`bookshop_accounts_signins_total{result="wrong"} 1`,
		`bookshop_accounts_signins_total{result="throttled"} 0`,
		"bookshop_accounts_sessions 1",
	} {
		if !strings.Contains(rec.Body.String(), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}

	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}

	secrets := map[string]string{"password": password, "sign-up token": up.GetSession().GetToken(), "sign-in token": in.GetSession().GetToken()}
	if !strings.Contains(logs.String(), "AccountsService/SignIn") {
		t.Fatalf("the log has no line of the calls:\n%s", logs.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var db []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		db = append(db, b...)
		for what, s := range secrets {
			if bytes.Contains(b, []byte(s)) || bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(s))) {
				t.Errorf("%s holds the %s", filepath.Base(f), what)
			}
		}
	}
	if !bytes.Contains(db, []byte("quokka@example.com")) {
		t.Errorf("the database files (%v) do not hold the email: the search for secrets in them proves nothing", files)
	}
	for what, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds the %s", what)
		}
	}
	traced := fmt.Sprintf("%+v", spans.GetSpans())
	// The spans' names and attributes' values are in the text searched.
	if !strings.Contains(traced, "Name:bookshop.accounts.v1.AccountsService/SignUp") || !strings.Contains(traced, `"rpc.response.status_code":"UNAUTHENTICATED"`) {
		t.Fatalf("no span of SignUp, or no attribute of the failed SignIn, among %d spans:\n%s", len(spans.GetSpans()), traced)
	}
	for what, s := range secrets {
		if strings.Contains(traced, s) {
			t.Errorf("a span holds the %s", what)
		}
	}
}

// waitServing waits until the health service at addr says that
// AccountsService is SERVING.
func waitServing(tb testing.TB, addr string) {
	tb.Helper()
	health := healthpb.NewHealthClient(dial(tb, addr))
	ctx := testContext(tb)
	for {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: accountsv1.AccountsService_ServiceDesc.ServiceName})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("AccountsService at %s never SERVING: %v", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
