package promotions_test

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/promotions"
)

// TestConfig checks the Promotions service's settings: their defaults,
// flags and environment variables, and the refusal of bad ones, naming
// the setting.
func TestConfig(t *testing.T) {
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(promotions.Config) bool
		wantErr string // words of the error, of parsing or of Validate
	}{
		{name: "defaults", check: func(c promotions.Config) bool {
			return c.Port == 50130 && c.DB == "promotions.db" && c.Starts.IsZero() && c.Ends.IsZero() && c.ClaimTTL == 15*time.Minute
		}},
		{name: "from the environment", env: map[string]string{"PROMOTIONS_STARTS": "2026-03-01T01:00:00+01:00", "PROMOTIONS_ENDS": "2026-04-01T00:00:00Z", "PROMOTIONS_CLAIM_TTL": "5m"},
			check: func(c promotions.Config) bool {
				return c.Starts.Equal(march) && c.Starts.Location() == time.UTC && c.Ends.Equal(march.AddDate(0, 1, 0)) && c.ClaimTTL == 5*time.Minute
			}},
		{name: "a flag wins", args: []string{"-ends", "2026-05-01T00:00:00Z"}, env: map[string]string{"PROMOTIONS_ENDS": "2026-04-01T00:00:00Z"},
			check: func(c promotions.Config) bool { return c.Ends.Equal(march.AddDate(0, 2, 0)) }},
		{name: "an empty time is none", args: []string{"-starts", ""}, env: map[string]string{"PROMOTIONS_STARTS": "2026-04-01T00:00:00Z"},
			check: func(c promotions.Config) bool { return c.Starts.IsZero() }},
		{name: "an end alone", args: []string{"-ends", "2026-04-01T00:00:00Z"},
			check: func(c promotions.Config) bool { return c.Starts.IsZero() && c.Ends.Equal(march.AddDate(0, 1, 0)) }},
		{name: "a date without a time", args: []string{"-starts", "2026-03-01"}, wantErr: `"2026-03-01": want a time in RFC 3339, such as 2026-03-01T00:00:00Z`},
		{name: "an end before the start", args: []string{"-starts", "2026-04-01T00:00:00Z", "-ends", "2026-03-01T00:00:00Z"},
			wantErr: "-ends or PROMOTIONS_ENDS 2026-03-01T00:00:00Z is not after -starts or PROMOTIONS_STARTS 2026-04-01T00:00:00Z"},
		{name: "an end at the start", args: []string{"-starts", "2026-03-01T00:00:00Z", "-ends", "2026-03-01T00:00:00Z"}, wantErr: "the campaign would never run"},
		{name: "no database", args: []string{"-db", ""}, wantErr: "-db or PROMOTIONS_DB: want a file path"},
		{name: "the shared database", env: map[string]string{"DATABASE_URL": "postgres://shop@db/shop"},
			check: func(c promotions.Config) bool {
				return c.Database.URL == "postgres://shop@db/shop" && c.Database.MaxConns == 8
			}},
		{name: "its own database wins", env: map[string]string{"DATABASE_URL": "postgres://shop@db/shop", "PROMOTIONS_DATABASE_URL": "postgres://promo@db2/promo", "PROMOTIONS_DATABASE_MAX_CONNS": "4"},
			check: func(c promotions.Config) bool {
				return c.Database.URL == "postgres://promo@db2/promo" && c.Database.MaxConns == 4
			}},
		{name: "too many connections", args: []string{"-database-max-conns", "1000"}, wantErr: "-database-max-conns or PROMOTIONS_DATABASE_MAX_CONNS 1000: want 1 to 200"},
		{name: "a claim TTL too short", args: []string{"-claim-ttl", "10ms"}, wantErr: "-claim-ttl or PROMOTIONS_CLAIM_TTL 10ms: want 1s to 24h0m0s"},
		{name: "a claim TTL too long", args: []string{"-claim-ttl", "48h"}, wantErr: "-claim-ttl or PROMOTIONS_CLAIM_TTL 48h0m0s"},
		{name: "a bad port", args: []string{"-port", "70000"}, wantErr: "-port or PROMOTIONS_PORT 70000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := config.NewFlagSet("bookshop promotions", "", io.Discard)
			set := fs.Service("promotions", true)
			cfg := promotions.DefaultConfig()
			cfg.Flags(set)
			err := fs.Parse(tc.args, func(k string) string { return tc.env[k] })
			if err == nil {
				err = cfg.Validate(set)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Parse and Validate = %v, want nil", err)
			case tc.wantErr == "" && !tc.check(cfg):
				t.Errorf("Config = %+v, not as it should be", cfg)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Parse and Validate = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}

// TestHelpHidesPassword checks that -h, with a database URL holding a
// password in the environment, does not print it.
func TestHelpHidesPassword(t *testing.T) {
	const password = "S3cret-Pa55word"
	var out strings.Builder
	fs := config.NewFlagSet("bookshop promotions", "", &out)
	cfg := promotions.DefaultConfig()
	cfg.Flags(fs.Service("promotions", true))
	env := map[string]string{"PROMOTIONS_DATABASE_URL": "postgres://promo:" + password + "@db/promo", "DATABASE_URL": "postgres://shop:" + password + "@db/shop"}
	if err := fs.Parse([]string{"-h"}, func(k string) string { return env[k] }); err == nil {
		t.Fatal("Parse(-h) = nil, want the help's error")
	}
	if !strings.Contains(out.String(), "-database-url") || strings.Contains(out.String(), password) {
		t.Errorf("-h does not name -database-url, or shows the password:\n%s", out.String())
	}
}

// TestEndsBeforeTheFirstStart runs the service with an end and no start,
// on a new database: its first start, now, is the campaign's, and an end
// before it would never let the campaign run, so Run refuses it with a
// usage error that says so; an end after it is served.
func TestEndsBeforeTheFirstStart(t *testing.T) {
	cfg := promotions.DefaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "promotions.db")
	cfg.Ends = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = promotions.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	var usage *config.UsageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), "is not after the campaign's start") || !strings.Contains(err.Error(), "the campaign would never run") {
		t.Fatalf("Run(-ends an hour ago, no -starts) = %v; want a usage error: the campaign would never run", err)
	}

	cfg.Ends = time.Now().Add(time.Hour).UTC()
	client, _ := runWith(t, cfg)
	if o := offer(t, client, 0); !o.GetActive() {
		t.Errorf("GetOffer with -ends in an hour = %v, want active", o)
	}
}
