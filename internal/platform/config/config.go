// Package config reads a command's settings: flags whose defaults come
// from the environment, each service's under a namespace of its own, so
// that one process can run many services and adding one adds no setting
// to another.
//
// A setting is declared once, on a [Set]. Run alone, the Catalog's port is
// the flag -port and the variable CATALOG_PORT; run by `bookshop up` with
// the other services, it is -catalog-port and still CATALOG_PORT. A flag
// on the command line wins over its variable, which wins over the default.
//
// Mistakes in settings are [UsageError]s: the command exits with status 2
// and a message that names the setting and says what it wants.
package config

import (
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// FlagSet is a command's flags with the environment variable of each.
type FlagSet struct {
	*flag.FlagSet
	help func()            // prints the help: see Usage
	env  map[string]string // flag name -> environment variable
	// fallback is the variable read when a flag's own is unset: flag
	// name -> environment variable (see Set.StringOr).
	fallback map[string]string
}

// NewFlagSet returns the flag set of the command invoked as usage (for
// example "bookshop up"), which reports to stderr and prints summary in
// its help.
func NewFlagSet(usage, summary string, stderr io.Writer) *FlagSet {
	fs := flag.NewFlagSet(usage, flag.ContinueOnError)
	// The flag package would print a mistake, then the whole help (two
	// hundred lines for up), and the caller the mistake again: Parse
	// returns it, said once, and prints the help only for -h.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	help := func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\n%s\n\nFlags (a flag wins over its environment variable):\n", usage, summary)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return &FlagSet{FlagSet: fs, help: help, env: make(map[string]string), fallback: make(map[string]string)}
}

// Usage prints the command's help, as -h does: its usage, summary and
// flags, each with its environment variable.
func (f *FlagSet) Usage() { f.help() }

// Process returns the Set of the process's own settings, which have no
// namespace: -log-level is LOG_LEVEL wherever it is.
func (f *FlagSet) Process() *Set { return &Set{f: f} }

// Service returns the Set of the settings of service ns (such as
// "catalog"): their variables are named CATALOG_<NAME>. With alone, the
// command runs the service by itself and the flags have their bare names
// (-port); otherwise they carry the namespace (-catalog-port).
func (f *FlagSet) Service(ns string, alone bool) *Set {
	s := &Set{f: f, env: strings.ToUpper(strings.ReplaceAll(ns, "-", "_")) + "_"}
	if !alone {
		s.flag = ns + "-"
	}
	return s
}

// Env returns the environment variable of the flag named name, or "" for
// a flag that has none.
func (f *FlagSet) Env(name string) string { return f.env[name] }

// Parse sets each flag from its environment variable, when that is set,
// then parses args, so that a flag on the command line wins over the
// environment, which wins over the default. Positional arguments are
// refused.
func (f *FlagSet) Parse(args []string, getenv func(string) string) error {
	rest, err := f.ParseWithArgs(args, getenv)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return UsageErrorf("unexpected argument %q (run with -h for usage)", rest[0])
	}
	return nil
}

// ParseWithArgs is Parse for a command that takes positional arguments,
// which it returns. They may come before, between or after the flags
// ("import -format csv books.csv -catalog-host h"); after "--", every
// argument is positional, and "-" is one (for stdin).
func (f *FlagSet) ParseWithArgs(args []string, getenv func(string) string) ([]string, error) {
	for flagName, envName := range f.env {
		v := getenv(envName)
		if fb := f.fallback[flagName]; v == "" && fb != "" {
			envName, v = fb, getenv(fb)
		}
		if v == "" {
			continue
		}
		if err := f.Set(flagName, v); err != nil {
			if want := f.wanted(flagName); want != "" && strings.HasSuffix(err.Error(), "parse error") {
				return nil, UsageErrorf("environment variable %s=%q: %s", envName, v, want)
			}
			return nil, UsageErrorf("environment variable %s=%q: %v", envName, v, err)
		}
	}
	var positional []string
	for {
		for len(args) > 0 && (args[0] == "-" || !strings.HasPrefix(args[0], "-")) {
			positional, args = append(positional, args[0]), args[1:]
		}
		if len(args) == 0 {
			return positional, nil
		}
		if err := f.FlagSet.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.Usage()
				return nil, err
			}
			return nil, UsageErrorf("%s (run with -h for the flags)", f.explain(err))
		}
		rest := f.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			// The flag package stopped at "--", and took it.
			return append(positional, rest...), nil
		}
		args = rest
	}
}

// explain returns the flag package's error err in words that say what was
// wanted: its "invalid value "x" for flag -port: parse error" names no
// kind of value.
func (f *FlagSet) explain(err error) string {
	msg := err.Error()
	rest, ok := strings.CutSuffix(msg, ": parse error")
	if !ok {
		return msg
	}
	_, name, _ := strings.Cut(rest, " for flag -")
	if want := f.wanted(name); want != "" {
		return rest + ": " + want
	}
	return msg
}

// wanted says what kind of value the flag named name takes ("want a whole
// number"), or "" when that is not a kind the flag package checks.
func (f *FlagSet) wanted(name string) string {
	fl := f.Lookup(name)
	if fl == nil {
		return ""
	}
	kind, _ := flag.UnquoteUsage(fl)
	if want := map[string]string{
		"int":      "a whole number",
		"uint":     "a whole number, 0 or more",
		"float":    "a number",
		"duration": "a duration, such as 500ms, 30s or 5m",
		"":         "true or false", // a bool flag's
	}[kind]; want != "" {
		return "want " + want
	}
	return ""
}

// Set declares settings in one namespace of a FlagSet. Each method
// declares a flag named after name (with the namespace's prefix, if any)
// whose environment variable is the namespace's prefix and name in upper
// case, with - as _ ("rate-limit" of marketplace: MARKETPLACE_RATE_LIMIT),
// and adds "(env NAME)" to its usage.
type Set struct {
	f    *FlagSet
	flag string // prefix of flag names: "" or "catalog-"
	env  string // prefix of variables: "" or "CATALOG_"
}

// Flag returns the name of the flag of setting name, as the command line
// spells it without the dash: for messages.
func (s *Set) Flag(name string) string { return s.flag + name }

// Setting names setting name for messages: "-catalog-port or CATALOG_PORT".
func (s *Set) Setting(name string) string {
	return "-" + s.Flag(name) + " or " + s.envName(name)
}

func (s *Set) envName(name string) string {
	return s.env + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// declare registers the flag's variable and returns the usage to print.
func (s *Set) declare(name, usage string) (string, string) {
	flagName, env := s.Flag(name), s.envName(name)
	s.f.env[flagName] = env
	return flagName, fmt.Sprintf("%s (env %s)", usage, env)
}

// String declares a string setting.
func (s *Set) String(p *string, name, value, usage string) {
	n, u := s.declare(name, usage)
	s.f.StringVar(p, n, value, u)
}

// StringOr declares a string setting without a default whose variable,
// when unset, falls back to the shared variable fallback: a setting every
// service may take from one place, which one service's own overrides
// (INVENTORY_DATABASE_URL wins over DATABASE_URL). As it has no default,
// -h never prints a value, which suits a setting that holds a secret.
func (s *Set) StringOr(p *string, name, fallback, usage string) {
	flagName, env := s.Flag(name), s.envName(name)
	s.f.env[flagName] = env
	s.f.fallback[flagName] = fallback
	s.f.StringVar(p, flagName, "", fmt.Sprintf("%s (env %s, or %s)", usage, env, fallback))
}

// Int declares an int setting.
func (s *Set) Int(p *int, name string, value int, usage string) {
	n, u := s.declare(name, usage)
	s.f.IntVar(p, n, value, u)
}

// Float64 declares a float64 setting.
func (s *Set) Float64(p *float64, name string, value float64, usage string) {
	n, u := s.declare(name, usage)
	s.f.Float64Var(p, n, value, u)
}

// Duration declares a time.Duration setting.
func (s *Set) Duration(p *time.Duration, name string, value time.Duration, usage string) {
	n, u := s.declare(name, usage)
	s.f.DurationVar(p, n, value, u)
}

// Text declares a setting of a type that reads itself from text, such as
// slog.Level.
func (s *Set) Text(p encoding.TextUnmarshaler, name string, value encoding.TextMarshaler, usage string) {
	n, u := s.declare(name, usage)
	s.f.TextVar(p, n, value, u)
}

// Port declares a TCP port setting; CheckPort checks it after parsing.
func (s *Set) Port(p *int, name string, value int, usage string) {
	s.Int(p, name, value, usage)
}

// CheckPort refuses a port number outside 0-65535 (0 picks a free port),
// naming the setting that holds it.
func (s *Set) CheckPort(name string, port int) error {
	if port < 0 || port > 65535 {
		return UsageErrorf("%s %d: want a port number from 1 to 65535 (0 picks a free one)", s.Setting(name), port)
	}
	return nil
}

// UsageError is a mistake in the command line or the environment: the
// process exits with status 2.
type UsageError struct{ msg string }

// Error returns the message, which names the setting and what it wants.
func (e *UsageError) Error() string { return e.msg }

// UsageErrorf returns a *UsageError with a formatted message.
func UsageErrorf(format string, args ...any) error {
	return &UsageError{msg: fmt.Sprintf(format, args...)}
}

// BindEnv makes the environment variable env set the flag named flagName,
// for a flag declared on the FlagSet directly rather than through a Set.
func (f *FlagSet) BindEnv(flagName, env string) { f.env[flagName] = env }
