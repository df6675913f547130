package cart_test

import (
	"io"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/platform/config"
)

// TestConfigDatabase checks the PostgreSQL settings: DATABASE_URL for
// every service, CART_DATABASE_URL winning over it, the pool's bounds
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
		{env: map[string]string{"DATABASE_URL": "postgres://shop@db/shop", "CART_DATABASE_URL": "postgres://cart@db2/cart", "CART_DATABASE_MAX_CONNS": "4"},
			wantURL: "postgres://cart@db2/cart", wantMax: 4},
		{args: []string{"-database-min-conns", "9"}, wantErr: "-database-min-conns or CART_DATABASE_MIN_CONNS 9: want 0 to 8"},
	}
	for _, tt := range tests {
		fs := config.NewFlagSet("bookshop cart", "", io.Discard)
		set := fs.Service("cart", true)
		cfg := cart.DefaultConfig()
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
	fs := config.NewFlagSet("bookshop cart", "", &out)
	cfg := cart.DefaultConfig()
	cfg.Flags(fs.Service("cart", true))
	env := map[string]string{"CART_DATABASE_URL": "postgres://cart:" + password + "@db/cart", "DATABASE_URL": "postgres://shop:" + password + "@db/shop"}
	if err := fs.Parse([]string{"-h"}, func(k string) string { return env[k] }); err == nil {
		t.Fatal("Parse(-h) = nil, want the help's error")
	}
	if !strings.Contains(out.String(), "-database-url") || strings.Contains(out.String(), password) {
		t.Errorf("-h does not name -database-url, or shows the password:\n%s", out.String())
	}
}
