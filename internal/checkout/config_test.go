package checkout_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/platform/config"
)

// TestHelpHidesPassword checks that -h, with a database URL holding a
// password in the environment, does not print it.
func TestHelpHidesPassword(t *testing.T) {
	const password = "S3cret-Pa55word"
	var out strings.Builder
	fs := config.NewFlagSet("bookshop checkout", "", &out)
	cfg := checkout.DefaultConfig()
	cfg.Flags(fs.Service("checkout", true))
	env := map[string]string{"CHECKOUT_DATABASE_URL": "postgres://co:" + password + "@db/co", "DATABASE_URL": "postgres://shop:" + password + "@db/shop"}
	if err := fs.Parse([]string{"-h"}, func(k string) string { return env[k] }); err == nil {
		t.Fatal("Parse(-h) = nil, want the help's error")
	}
	if !strings.Contains(out.String(), "-database-url") || strings.Contains(out.String(), password) {
		t.Errorf("-h does not name -database-url, or shows the password:\n%s", out.String())
	}
}

// TestConfig checks the Checkout's settings: their defaults, flags and
// environment variables, and the refusal of bad ones, naming the setting.
func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(checkout.Config) bool
		wantErr string // words of the usage error
	}{
		{name: "defaults", check: func(c checkout.Config) bool {
			return c.Port == 50120 && c.DB == "checkout.db" && c.HoldTTL == 10*time.Minute && c.PlaceTimeout == 30*time.Second &&
				c.CallTimeout == 3*time.Second && c.MaxCheckouts == 64 && c.RecoverInterval == 10*time.Second && c.PaymentsHost == "localhost" &&
				c.PromotionsHost == "localhost" && c.StockCache == 2*time.Second
		}},
		{name: "no stock cache", args: []string{"-stock-cache", "0"}, check: func(c checkout.Config) bool { return c.StockCache == 0 }},
		{name: "a stock cache too long", env: map[string]string{"CHECKOUT_STOCK_CACHE": "2m"}, wantErr: "-stock-cache or CHECKOUT_STOCK_CACHE 2m0s: want from 0 (no cache) to 1m0s"},
		{name: "from the environment", env: map[string]string{"CHECKOUT_HOLD_TTL": "20m", "PAYMENTS_HOST": "payments:50100", "CHECKOUT_RECOVER_INTERVAL": "1s", "PROMOTIONS_HOST": "promotions:50130"},
			check: func(c checkout.Config) bool {
				return c.HoldTTL == 20*time.Minute && c.PaymentsHost == "payments:50100" && c.RecoverInterval == time.Second && c.PromotionsHost == "promotions:50130"
			}},
		{name: "a flag wins", args: []string{"-place-timeout", "10s"}, env: map[string]string{"CHECKOUT_PLACE_TIMEOUT": "20s"},
			check: func(c checkout.Config) bool { return c.PlaceTimeout == 10*time.Second }},
		{name: "no database", args: []string{"-db", ""}, wantErr: "-db or CHECKOUT_DB: want a file path"},
		{name: "the shared database", env: map[string]string{"DATABASE_URL": "postgres://shop@db/shop"},
			check: func(c checkout.Config) bool {
				return c.Database.URL == "postgres://shop@db/shop" && c.Database.MaxConns == 8
			}},
		{name: "its own database wins", env: map[string]string{"DATABASE_URL": "postgres://shop@db/shop", "CHECKOUT_DATABASE_URL": "postgres://co@db2/co", "CHECKOUT_DATABASE_MIN_CONNS": "2"},
			check: func(c checkout.Config) bool {
				return c.Database.URL == "postgres://co@db2/co" && c.Database.MinConns == 2
			}},
		{name: "no connection", args: []string{"-database-max-conns", "0"}, wantErr: "-database-max-conns or CHECKOUT_DATABASE_MAX_CONNS 0: want 1 to 200"},
		{name: "a hold shorter than a checkout", args: []string{"-hold-ttl", "20s"}, wantErr: "-hold-ttl or CHECKOUT_HOLD_TTL 20s: want from 1s to 1h0m0s, and longer than -place-timeout (30s)"},
		{name: "a hold over an hour", args: []string{"-hold-ttl", "2h"}, wantErr: "-hold-ttl or CHECKOUT_HOLD_TTL 2h0m0s"},
		{name: "a place timeout of 0", args: []string{"-place-timeout", "0s"}, wantErr: "-place-timeout or CHECKOUT_PLACE_TIMEOUT 0s: want from 1s"},
		{name: "calls longer than a checkout", args: []string{"-call-timeout", "40s"}, wantErr: "-call-timeout or CHECKOUT_CALL_TIMEOUT 40s"},
		{name: "no checkout at once", args: []string{"-max-checkouts", "0"}, wantErr: "-max-checkouts or CHECKOUT_MAX_CHECKOUTS 0"},
		{name: "a recoverer too eager", args: []string{"-recover-interval", "1ms"}, wantErr: "-recover-interval or CHECKOUT_RECOVER_INTERVAL 1ms"},
		{name: "a bad host", env: map[string]string{"ORDERS_HOST": "orders:99999"}, wantErr: "-orders-host or ORDERS_HOST"},
		{name: "an empty host", env: map[string]string{"CART_HOST": " "}, wantErr: "-cart-host or CART_HOST"},
		{name: "a bad promotions host", args: []string{"-promotions-host", "promotions:0"}, wantErr: "-promotions-host or PROMOTIONS_HOST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := config.NewFlagSet("bookshop checkout", "", io.Discard)
			set := fs.Service("checkout", true)
			cfg := checkout.DefaultConfig()
			cfg.Flags(set)
			cfg.Dependencies(fs.Process())
			if err := fs.Parse(tc.args, func(k string) string { return tc.env[k] }); err != nil {
				t.Fatalf("Parse(%q): %v", tc.args, err)
			}
			err := cfg.Validate(set)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.wantErr == "" && !tc.check(cfg):
				t.Errorf("Config = %+v, not as it should be", cfg)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}
