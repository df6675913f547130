// Package cli holds Bookshop's commands: `bookshop` with its subcommands,
// and the standalone `recommendations` and `marketplace` services. Each
// command is a function of the form
//
//	func(ctx, args, getenv, stdout, stderr) error
//
// so that tests run it exactly as main does, and main only wires it to the
// process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Command is the shape of every command.
type Command func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// Main runs cmd as the process: with its arguments and environment, a
// context cancelled by SIGINT or SIGTERM (a second signal kills at once),
// and an exit status of 0 on success, 2 for a usage error, 1 otherwise.
func Main(name string, cmd Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore the default: a second signal ends the process
	}()
	err := cmd(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Run is the `bookshop` command: it dispatches to a subcommand.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "bookshop", "", []subcommand{
		{"up", "run the whole system on this machine: Recommendations and the Marketplace", RunUp},
		{"recommendations", "run the Recommendations gRPC service alone", RunRecommendations},
		{"marketplace", "run the Marketplace web front end alone", RunMarketplace},
		{"import", "import the books of a CSV or JSON file into the catalog", RunImport},
		{"export", "write the catalog, or one category, as CSV or JSON", RunExport},
		{"demo", "the tutorial's demo services and their clients: the four kinds of gRPC call", RunDemo},
		{"certs", "make a CA and server and client certificates for TLS and mutual TLS", RunCerts},
		{"health", "check once whether a service is healthy, for container health checks", RunHealth},
		{"bench", "put a running service under load and print calls/s and latency percentiles", RunBench},
	}, args, getenv, stdout, stderr)
}

// subcommand is one entry of a command's list of subcommands.
type subcommand struct {
	name, summary string
	run           Command
}

// dispatch runs the subcommand that args[0] names, with the rest of args.
// name is the command's own name ("bookshop", "bookshop demo"), intro an
// optional paragraph for its usage text. help, -h or no arguments print
// the usage.
func dispatch(ctx context.Context, name, intro string, commands []subcommand, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: %s <command> [flags]\n\n", name)
		if intro != "" {
			fmt.Fprintf(w, "%s\n\n", intro)
		}
		fmt.Fprintln(w, "Commands:")
		for _, c := range commands {
			fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(w, "\nRun `%s <command> -h` for the flags of a command.\n", name)
	}
	// "bookshop demo" says "demo: ..."; main already prefixes "bookshop: ".
	prefix := strings.TrimPrefix(strings.TrimPrefix(name, "bookshop"), " ")
	if prefix != "" {
		prefix += ": "
	}
	if len(args) == 0 {
		usage(stderr)
		return usageErrorf("%sno command given", prefix)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	usage(stderr)
	return usageErrorf("%sunknown command %q", prefix, args[0])
}

// usageError is a mistake in the command line or the environment: the
// process exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagSet returns a flag set for the command invoked as usage (for
// example "bookshop up"), which reports to stderr and prints summary in its
// help. Settings can also come from the environment: see parseFlags.
func flagSet(usage, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(usage, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\n%s\n\nFlags (a flag wins over its environment variable):\n", usage, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags sets each flag named in env from its environment variable,
// when that is set, then parses args, so that a flag on the command line
// wins over the environment, which wins over the default. Positional
// arguments are refused.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, env map[string]string) error {
	rest, err := parseFlagsAndArgs(fs, args, getenv, env)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("unexpected argument %q (run with -h for usage)", rest[0])
	}
	return nil
}

// parseFlagsAndArgs is parseFlags for a command that takes positional
// arguments, which it returns. They may come before or after the flags.
func parseFlagsAndArgs(fs *flag.FlagSet, args []string, getenv func(string) string, env map[string]string) ([]string, error) {
	for flagName, envName := range env {
		v := getenv(envName)
		if v == "" {
			continue
		}
		if err := fs.Set(flagName, v); err != nil {
			return nil, usageErrorf("environment variable %s=%q: %v", envName, v, err)
		}
	}
	var positional []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		positional, args = append(positional, args[0]), args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageErrorf("%v", err)
	}
	return append(positional, fs.Args()...), nil
}

// logConfig is how a command logs.
type logConfig struct {
	level  slog.Level
	format string
}

func (c *logConfig) register(fs *flag.FlagSet) {
	fs.TextVar(&c.level, "log-level", slog.LevelInfo, "log level: debug, info, warn or error (env LOG_LEVEL)")
	fs.StringVar(&c.format, "log-format", "text", "log format: text or json (env LOG_FORMAT)")
}

var logEnv = map[string]string{"log-level": "LOG_LEVEL", "log-format": "LOG_FORMAT"}

func (c *logConfig) logger(w io.Writer) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: c.level}
	switch strings.ToLower(c.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageErrorf("-log-format %q: want text or json", c.format)
	}
}

// withEnv returns the union of flag-to-environment maps.
func withEnv(maps ...map[string]string) map[string]string {
	all := make(map[string]string)
	for _, m := range maps {
		for k, v := range m {
			all[k] = v
		}
	}
	return all
}

// drainFlag registers -shutdown-timeout into d.
func drainFlag(fs *flag.FlagSet, d *time.Duration) map[string]string {
	fs.DurationVar(d, "shutdown-timeout", 10*time.Second, "how long to let requests in flight finish at shutdown before cutting them off (env SHUTDOWN_TIMEOUT)")
	return map[string]string{"shutdown-timeout": "SHUTDOWN_TIMEOUT"}
}

// checkPort refuses a port number outside 0-65535 (0 picks a free port).
func checkPort(flagName string, port int) error {
	if port < 0 || port > 65535 {
		return usageErrorf("-%s %d: want a port number from 1 to 65535 (0 picks a free one)", flagName, port)
	}
	return nil
}
