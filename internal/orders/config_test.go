package orders_test

import (
	"io"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/platform/config"
)

// TestConfig checks the Orders service's settings: their defaults, the
// flags and ORDERS_* variables, and what Validate refuses.
func TestConfig(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		want    orders.Config // the settings, when valid
		wantErr string        // words of the usage error
	}{
		{want: orders.Config{Port: 50110, DB: "orders.db"}},
		{args: []string{"-port", "6000", "-db", "/data/orders.db"}, want: orders.Config{Port: 6000, DB: "/data/orders.db"}},
		{env: map[string]string{"ORDERS_PORT": "0", "ORDERS_DB": ":memory:"}, want: orders.Config{Port: 0, DB: ":memory:"}},
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
