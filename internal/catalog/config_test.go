package catalog_test

import (
	"io"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/platform/config"
)

// TestConfigCurrency checks the shop's currency setting: EUR by default,
// from the flag or CATALOG_CURRENCY, an ISO 4217 code, and a file to seed
// from when it is not the built-in catalog's.
func TestConfigCurrency(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		want    string // the currency, when valid
		wantErr string // words of the usage error
	}{
		{want: "EUR"},
		{args: []string{"-currency", "USD", "-file", "books.csv"}, want: "USD"},
		{env: map[string]string{"CATALOG_CURRENCY": "GBP", "CATALOG_FILE": "books.csv"}, want: "GBP"},
		{args: []string{"-currency", "EUR"}, env: map[string]string{"CATALOG_CURRENCY": "USD"}, want: "EUR"},
		{args: []string{"-currency", "eur"}, wantErr: "-currency or CATALOG_CURRENCY: currency \"eur\": want an ISO 4217 code"},
		{args: []string{"-currency", ""}, wantErr: "ISO 4217"},
		{args: []string{"-currency", "EURO"}, wantErr: "ISO 4217"},
		{args: []string{"-currency", "USD"}, wantErr: "-currency or CATALOG_CURRENCY is USD, but the built-in catalog is priced in EUR: give -file or CATALOG_FILE a catalog priced in USD"},
	}
	for _, tt := range tests {
		fs := config.NewFlagSet("bookshop catalog", "", io.Discard)
		set := fs.Service("catalog", true)
		cfg := catalog.DefaultConfig()
		cfg.Flags(set)
		if err := fs.Parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
			t.Fatalf("Parse(%q): %v", tt.args, err)
		}
		err := cfg.Validate(set)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("args %q, env %v: Validate = %v, want nil", tt.args, tt.env, err)
		case tt.wantErr == "" && cfg.Currency != tt.want:
			t.Errorf("args %q, env %v: Currency = %q, want %q", tt.args, tt.env, cfg.Currency, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("args %q, env %v: Validate = %v, want an error saying %q", tt.args, tt.env, err, tt.wantErr)
		}
	}
}

// TestConfigCaps checks the caps on the catalog's size: the defaults,
// from the flags or the environment, and a usage error for a cap out of
// range.
func TestConfigCaps(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		books   int
		text    int64
		wantErr string
	}{
		{books: catalog.DefaultMaxBooks, text: catalog.DefaultMaxTextBytes},
		{args: []string{"-max-books", "500000", "-max-text-mib", "16"}, books: 500_000, text: 16 << 20},
		{env: map[string]string{"CATALOG_MAX_BOOKS": "1000", "CATALOG_MAX_TEXT_MIB": "1"}, books: 1000, text: 1 << 20},
		{args: []string{"-max-books", "0"}, wantErr: "-max-books or CATALOG_MAX_BOOKS 0: want 1 or more"},
		{args: []string{"-max-text-mib", "0"}, wantErr: "-max-text-mib or CATALOG_MAX_TEXT_MIB 0: want 1 to 1024"},
		{args: []string{"-max-text-mib", "4096"}, wantErr: "want 1 to 1024"},
	}
	for _, tt := range tests {
		fs := config.NewFlagSet("bookshop catalog", "", io.Discard)
		set := fs.Service("catalog", true)
		cfg := catalog.DefaultConfig()
		cfg.Flags(set)
		if err := fs.Parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
			t.Fatalf("Parse(%q): %v", tt.args, err)
		}
		err := cfg.Validate(set)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("args %q, env %v: Validate = %v, want an error saying %q", tt.args, tt.env, err, tt.wantErr)
			}
			continue
		}
		if l := cfg.Limits(); err != nil || l.Books != tt.books || l.TextBytes != tt.text {
			t.Errorf("args %q, env %v: Limits = %+v, %v; want %d books and %d bytes", tt.args, tt.env, l, err, tt.books, tt.text)
		}
	}
}
