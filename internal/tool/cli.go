// Package tool is the bookshop command and the composition root of the
// system: `bookshop` with its subcommands (up, import, export, stock,
// report, migrate-data, certs, health, bench, demo), and each service as
// a subcommand (`bookshop catalog`). It is the one package that knows
// every service: it takes each as its slice describes itself, a
// launch.Service, and runs it alone or, in up, with the others, through
// internal/platform/launch (each service's own binary, cmd/NAME, runs the
// same launch.Service without the tool). Each command is a function of
// the form
//
//	func(ctx, args, getenv, stdout, stderr) error
//
// so that tests run it exactly as main does, and main only wires it to the
// process.
package tool

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

// Command is the shape of every command (see config.Command).
type Command = config.Command

// Main runs cmd as the process (see launch.Main).
func Main(name string, cmd Command) { launch.Main(name, cmd) }

// Run is the `bookshop` command: it dispatches to a subcommand.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	commands := []subcommand{{"up", "run the whole system on this machine: every service, one process", RunUp}}
	for _, s := range services() {
		commands = append(commands, subcommand{s.Name, s.Summary, serviceSubcommand(s)})
	}
	commands = append(commands,
		subcommand{"import", "import the books of a CSV or JSON file into the Catalog", RunImport},
		subcommand{"export", "write the books of the Catalog, or of one category, as CSV or JSON", RunExport},
		subcommand{"stock", "print the stock of books in the Inventory, or set a book's (admin)", RunStock},
		subcommand{"report", "reports on sales, such as a promotion's impact (admin)", RunReport},
		subcommand{"migrate-data", "move services' data from SQLite to PostgreSQL, and verify every row", RunMigrateData},
		subcommand{"demo", "the tutorial's demo services and their clients: the four kinds of gRPC call", RunDemo},
		subcommand{"certs", "make a CA and server and client certificates for TLS and mutual TLS", RunCerts},
		subcommand{"health", "check once whether a service is healthy, for container health checks", RunHealth},
		subcommand{"bench", "put a running service under load and print calls/s and latency percentiles", RunBench},
	)
	return dispatch(ctx, "bookshop", "", commands, args, getenv, stdout, stderr)
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
		if len(args) == 2 && args[0] == "help" {
			// "help up" is "up -h".
			for _, c := range commands {
				if c.name == args[1] {
					return c.run(ctx, []string{"-h"}, getenv, stdout, stderr)
				}
			}
		}
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

// usageErrorf returns a config.UsageError: the process exits with
// status 2.
func usageErrorf(format string, args ...any) error {
	return config.UsageErrorf(format, args...)
}

// flagSet returns the flag set of a command of the tool (see
// config.NewFlagSet).
func flagSet(usage, summary string, stderr io.Writer) *config.FlagSet {
	return config.NewFlagSet(usage, summary, stderr)
}

// parseFlags binds each flag named in env to its environment variable,
// then parses args (see config.FlagSet.Parse).
func parseFlags(fs *config.FlagSet, args []string, getenv func(string) string, env map[string]string) error {
	for flagName, envName := range env {
		fs.BindEnv(flagName, envName)
	}
	return fs.Parse(args, getenv)
}

// parseFlagsAndArgs is parseFlags for a command that takes positional
// arguments, which it returns.
func parseFlagsAndArgs(fs *config.FlagSet, args []string, getenv func(string) string, env map[string]string) ([]string, error) {
	for flagName, envName := range env {
		fs.BindEnv(flagName, envName)
	}
	return fs.ParseWithArgs(args, getenv)
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
