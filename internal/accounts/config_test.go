package accounts_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/accounts"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// TestConfigSignUpsPerHour checks the setting of the sign-ups of one
// client in an hour: 10 by default, from the flag or
// ACCOUNTS_SIGNUPS_PER_HOUR, 1 to MaxSignUpsPerHour.
func TestConfigSignUpsPerHour(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		want    int    // the setting, when valid
		wantErr string // words of the usage error
	}{
		{want: 10},
		{args: []string{"-signups-per-hour", "200"}, want: 200},
		{env: map[string]string{"ACCOUNTS_SIGNUPS_PER_HOUR": "50"}, want: 50},
		{args: []string{"-signups-per-hour", "0"}, wantErr: "-signups-per-hour or ACCOUNTS_SIGNUPS_PER_HOUR 0: want from 1 to 100000"},
		{args: []string{"-signups-per-hour", "-3"}, wantErr: "want from 1 to 100000"},
		{args: []string{"-signups-per-hour", "100001"}, wantErr: "want from 1 to 100000"},
	}
	for _, tt := range tests {
		fs := config.NewFlagSet("bookshop accounts", "", io.Discard)
		set := fs.Service("accounts", true)
		cfg := accounts.DefaultConfig()
		cfg.Flags(set)
		if err := fs.Parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
			t.Fatalf("Parse(%q): %v", tt.args, err)
		}
		err := cfg.Validate(set)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("args %q, env %v: Validate = %v, want nil", tt.args, tt.env, err)
		case tt.wantErr == "" && cfg.SignUpsPerHour != tt.want:
			t.Errorf("args %q, env %v: SignUpsPerHour = %d, want %d", tt.args, tt.env, cfg.SignUpsPerHour, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("args %q, env %v: Validate = %v, want an error saying %q", tt.args, tt.env, err, tt.wantErr)
		}
	}
}

// TestRunLimitsSignUps checks that Run throttles sign-ups as its Config
// says: with 2 an hour, a client's third sign-up is RESOURCE_EXHAUSTED.
func TestRunLimitsSignUps(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	health, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := accounts.DefaultConfig()
	cfg.DB, cfg.SignUpsPerHour = ":memory:", 2
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- accounts.Run(ctx, cfg, process.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis, HealthListener: health})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	waitServing(t, health.Addr().String())
	client := accountsv1.NewAccountsServiceClient(dial(t, lis.Addr().String()))
	for i, want := range []codes.Code{codes.OK, codes.InvalidArgument, codes.ResourceExhausted} {
		password := map[codes.Code]string{codes.InvalidArgument: "short"}[want]
		if password == "" {
			password = adaPassword
		}
		_, err := client.SignUp(testContext(t), &accountsv1.SignUpRequest{Email: fmt.Sprintf("new%d@example.com", i), Name: "New", Password: password, Client: client1})
		if status.Code(err) != want {
			t.Errorf("sign-up %d of a client allowed 2 = %v, want %s", i+1, err, want)
		}
	}
}

// TestConfigDatabase checks the PostgreSQL settings: DATABASE_URL for
// every service, ACCOUNTS_DATABASE_URL winning over it, the pool's bounds
// checked; and -h, with URLs that hold a password, shows none.
func TestConfigDatabase(t *testing.T) {
	const password = "S3cret-Pa55word"
	tests := []struct {
		args    []string
		env     map[string]string
		wantURL string
		wantMax int
		wantErr string
	}{
		{wantMax: 8},
		{env: map[string]string{"DATABASE_URL": "postgres://shop@db/shop"}, wantURL: "postgres://shop@db/shop", wantMax: 8},
		{env: map[string]string{"DATABASE_URL": "postgres://shop@db/shop", "ACCOUNTS_DATABASE_URL": "postgres://acc@db2/acc", "ACCOUNTS_DATABASE_MAX_CONNS": "4"},
			wantURL: "postgres://acc@db2/acc", wantMax: 4},
		{args: []string{"-database-max-conns", "1000"}, wantErr: "-database-max-conns or ACCOUNTS_DATABASE_MAX_CONNS 1000: want 1 to 200"},
	}
	for _, tt := range tests {
		fs := config.NewFlagSet("bookshop accounts", "", io.Discard)
		set := fs.Service("accounts", true)
		cfg := accounts.DefaultConfig()
		cfg.Flags(set)
		err := fs.Parse(tt.args, func(k string) string { return tt.env[k] })
		if err == nil {
			err = cfg.Validate(set)
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("args %q, env %v: Parse and Validate = %v, want nil", tt.args, tt.env, err)
		case tt.wantErr == "" && (cfg.Database.URL != tt.wantURL || cfg.Database.MaxConns != tt.wantMax):
			t.Errorf("args %q, env %v: Database = %+v, want URL %q, at most %d", tt.args, tt.env, cfg.Database, tt.wantURL, tt.wantMax)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("args %q, env %v: Parse and Validate = %v, want an error saying %q", tt.args, tt.env, err, tt.wantErr)
		}
	}

	var out strings.Builder
	fs := config.NewFlagSet("bookshop accounts", "", &out)
	cfg := accounts.DefaultConfig()
	cfg.Flags(fs.Service("accounts", true))
	env := map[string]string{"ACCOUNTS_DATABASE_URL": "postgres://acc:" + password + "@db/acc", "DATABASE_URL": "postgres://shop:" + password + "@db/shop"}
	if err := fs.Parse([]string{"-h"}, func(k string) string { return env[k] }); err == nil {
		t.Fatal("Parse(-h) = nil, want the help's error")
	}
	if !strings.Contains(out.String(), "-database-url") || strings.Contains(out.String(), password) {
		t.Errorf("-h does not name -database-url, or shows the password:\n%s", out.String())
	}
}
