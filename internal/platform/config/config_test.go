package config_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/config"
)

// One setting, declared once, named for each way the service runs.
func ExampleFlagSet_Service() {
	env := map[string]string{"CATALOG_PORT": "6000"}
	for _, alone := range []bool{true, false} {
		fs := config.NewFlagSet("example", "", io.Discard)
		var port int
		set := fs.Service("catalog", alone)
		set.Int(&port, "port", 50060, "the Catalog's gRPC port")
		_ = fs.Parse(nil, func(k string) string { return env[k] })
		fmt.Println(set.Setting("port"), "=", port)
	}
	// Output:
	// -port or CATALOG_PORT = 6000
	// -catalog-port or CATALOG_PORT = 6000
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "default"},
		{nil, map[string]string{"MARKETPLACE_MODE": "from-env"}, "from-env"},
		{[]string{"-mode", "from-flag"}, map[string]string{"MARKETPLACE_MODE": "from-env"}, "from-flag"},
	}
	for _, tt := range tests {
		fs := config.NewFlagSet("t", "", io.Discard)
		var mode string
		fs.Service("marketplace", true).String(&mode, "mode", "default", "a mode")
		if err := fs.Parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
			t.Fatalf("Parse(%q, %v): %v", tt.args, tt.env, err)
		}
		if mode != tt.want {
			t.Errorf("Parse(%q, %v): mode = %q, want %q", tt.args, tt.env, mode, tt.want)
		}
	}
}

func TestUsageNamesTheVariable(t *testing.T) {
	var out strings.Builder
	fs := config.NewFlagSet("t", "summary", &out)
	var d string
	fs.Service("recommendations", false).String(&d, "catalog-host", "", "where the Catalog is")
	fs.Process().String(&d, "log-format", "text", "log format")
	fs.Usage()
	for _, want := range []string{"-recommendations-catalog-host", "(env RECOMMENDATIONS_CATALOG_HOST)", "-log-format", "(env LOG_FORMAT)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadValuesAreUsageErrors(t *testing.T) {
	fs := config.NewFlagSet("t", "", io.Discard)
	var n int
	fs.Service("catalog", true).Port(&n, "port", 1, "a port")
	err := fs.Parse(nil, func(k string) string { return map[string]string{"CATALOG_PORT": "many"}[k] })
	var ue *config.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "CATALOG_PORT") {
		t.Errorf("Parse with CATALOG_PORT=many: %v, want a UsageError naming CATALOG_PORT", err)
	}
	if err := fs.Parse([]string{"extra"}, func(string) string { return "" }); !errors.As(err, &ue) {
		t.Errorf("Parse with a positional argument: %v, want a UsageError", err)
	}
	set := fs.Service("catalog", true)
	if err := set.CheckPort("port", 70000); !errors.As(err, &ue) || !strings.Contains(err.Error(), "-port or CATALOG_PORT") {
		t.Errorf("CheckPort(70000) = %v, want a UsageError naming -port or CATALOG_PORT", err)
	}
}

// TestStringOr checks a setting whose own variable wins over a shared
// one, which wins over nothing, and whose usage shows both names but no
// value, even once one is set.
func TestStringOr(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, ""},
		{nil, map[string]string{"DATABASE_URL": "postgres://shared"}, "postgres://shared"},
		{nil, map[string]string{"DATABASE_URL": "postgres://shared", "INVENTORY_DATABASE_URL": "postgres://own"}, "postgres://own"},
		{[]string{"-inventory-database-url", "postgres://flag"}, map[string]string{"INVENTORY_DATABASE_URL": "postgres://own"}, "postgres://flag"},
	}
	for _, tt := range tests {
		var out strings.Builder
		fs := config.NewFlagSet("t", "", &out)
		var url string
		fs.Service("inventory", false).StringOr(&url, "database-url", "DATABASE_URL", "the database")
		if err := fs.Parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
			t.Fatalf("Parse(%q, %v): %v", tt.args, tt.env, err)
		}
		if url != tt.want {
			t.Errorf("Parse(%q, %v): url = %q, want %q", tt.args, tt.env, url, tt.want)
		}
		fs.Usage()
		if !strings.Contains(out.String(), "(env INVENTORY_DATABASE_URL, or DATABASE_URL)") {
			t.Errorf("usage = %q, want both variables named", out.String())
		}
		if tt.want != "" && strings.Contains(out.String(), tt.want) {
			t.Errorf("usage = %q: it shows the value", out.String())
		}
	}
}

// TestParseWithArgsAnywhere checks that positional arguments may come
// before, between and after the flags, as people type them, that "-" is
// one, and that after "--" every argument is one.
func TestParseWithArgsAnywhere(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		format string
		rest   []string
	}{
		{[]string{"books.csv"}, "default", []string{"books.csv"}},
		{[]string{"books.csv", "-format", "json"}, "json", []string{"books.csv"}},
		{[]string{"-format", "json", "books.csv"}, "json", []string{"books.csv"}},
		{[]string{"-format", "csv", "books.csv", "-verbose"}, "csv", []string{"books.csv"}},
		{[]string{"-verbose", "a", "-format", "json", "b"}, "json", []string{"a", "b"}},
		{[]string{"-", "-format", "json"}, "json", []string{"-"}},
		{[]string{"-format", "json", "--", "-verbose", "x"}, "json", []string{"-verbose", "x"}},
	} {
		fs := config.NewFlagSet("t", "", io.Discard)
		var format string
		var verbose bool
		set := fs.Service("tool", true)
		set.String(&format, "format", "default", "a format")
		fs.BoolVar(&verbose, "verbose", false, "say more")
		rest, err := fs.ParseWithArgs(tt.args, func(string) string { return "" })
		if err != nil || format != tt.format || !slices.Equal(rest, tt.rest) {
			t.Errorf("ParseWithArgs(%q) = %q, %v with -format %q; want %q with -format %q", tt.args, rest, err, format, tt.rest, tt.format)
		}
	}
}

// TestParseMistakes checks what a mistake on the command line or in the
// environment says: once, in the error (nothing printed, not the whole
// help), with the kind of value wanted where the flag package says only
// "parse error"; -h prints the help.
func TestParseMistakes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-bogus"}, nil, "flag provided but not defined: -bogus (run with -h for the flags)"},
		{[]string{"-port", "abc"}, nil, `invalid value "abc" for flag -port: want a whole number (run with -h for the flags)`},
		{[]string{"-timeout", "5"}, nil, `invalid value "5" for flag -timeout: want a duration, such as 500ms, 30s or 5m (run with -h for the flags)`},
		{[]string{"-verbose=maybe"}, nil, `invalid boolean value "maybe" for -verbose: parse error (run with -h for the flags)`},
		{nil, map[string]string{"CATALOG_PORT": "abc"}, `environment variable CATALOG_PORT="abc": want a whole number`},
	} {
		var out strings.Builder
		fs := config.NewFlagSet("t", "summary", &out)
		var port int
		var timeout time.Duration
		var verbose bool
		set := fs.Service("catalog", true)
		set.Int(&port, "port", 50060, "the port")
		set.Duration(&timeout, "timeout", time.Second, "how long")
		fs.BoolVar(&verbose, "verbose", false, "say more")
		err := fs.Parse(tt.args, func(k string) string { return tt.env[k] })
		if err == nil || err.Error() != tt.want || out.Len() != 0 {
			t.Errorf("Parse(%q, %v) = %v, printing %q; want %q, printing nothing", tt.args, tt.env, err, out.String(), tt.want)
		}
	}
	var out strings.Builder
	fs := config.NewFlagSet("t", "summary", &out)
	if err := fs.Parse([]string{"-h"}, func(string) string { return "" }); !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(out.String(), "Usage: t [flags]\n\nsummary") {
		t.Errorf("Parse(-h) = %v, printing %q; want flag.ErrHelp and the help", err, out.String())
	}
}
