package orders_test

import (
	"io"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// withURL returns the default database settings with url.
func withURL(url string) pgdb.Settings {
	st := pgdb.DefaultSettings()
	st.URL = url
	return st
}

// TestConfig checks the Orders service's settings: their defaults, the
// flags and ORDERS_* variables (ORDERS_DATABASE_URL wins over
// DATABASE_URL, and the flag over both), and what Validate refuses.
func TestConfig(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		want    orders.Config // the settings, when valid
		wantErr string        // words of the usage error
	}{
		{want: orders.Config{Port: 50110, DB: "orders.db", Database: pgdb.DefaultSettings()}},
		{args: []string{"-port", "6000", "-db", "/data/orders.db"}, want: orders.Config{Port: 6000, DB: "/data/orders.db", Database: pgdb.DefaultSettings()}},
		{env: map[string]string{"ORDERS_PORT": "0", "ORDERS_DB": ":memory:"}, want: orders.Config{Port: 0, DB: ":memory:", Database: pgdb.DefaultSettings()}},
		{env: map[string]string{"DATABASE_URL": "postgres://shared/shop"}, want: orders.Config{Port: 50110, DB: "orders.db", Database: withURL("postgres://shared/shop")}},
		{env: map[string]string{"DATABASE_URL": "postgres://shared/shop", "ORDERS_DATABASE_URL": "postgres://own/orders"}, want: orders.Config{Port: 50110, DB: "orders.db", Database: withURL("postgres://own/orders")}},
		{args: []string{"-database-url", "postgres://flag/orders"}, env: map[string]string{"ORDERS_DATABASE_URL": "postgres://own/orders"}, want: orders.Config{Port: 50110, DB: "orders.db", Database: withURL("postgres://flag/orders")}},
		{args: []string{"-database-min-conns", "9"}, wantErr: "-database-min-conns or ORDERS_DATABASE_MIN_CONNS 9: want 0 to 8"},
		{args: []string{"-db", ""}, wantErr: "-db or ORDERS_DB: want a file path, or :memory:"},
		{args: []string{"-port", "70000"}, wantErr: "70000"},
	}
	for _, tt := range tests {
		fs := config.NewFlagSet("bookshop orders", "", io.Discard)
		set := fs.Service("orders", true)
		cfg := orders.DefaultConfig()
		cfg.Flags(set)
		if err := fs.Parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
			t.Fatalf("Parse(%q): %v", tt.args, err)
		}
		err := cfg.Validate(set)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("args %q, env %v: Validate = %v, want nil", tt.args, tt.env, err)
		case tt.wantErr == "" && cfg != tt.want:
			t.Errorf("args %q, env %v: Config = %+v, want %+v", tt.args, tt.env, cfg, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("args %q, env %v: Validate = %v, want an error saying %q", tt.args, tt.env, err, tt.wantErr)
		}
	}
}
