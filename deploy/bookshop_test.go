package deploy

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the repository: this module is its deploy directory.
const repoRoot = ".."

// scratch is a directory for the whole run of the tests, removed at the
// end: the binary and its build context are made once, in there.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bookshop-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var built struct {
	once       sync.Once
	bins       map[string]string // the image's binaries, by their path in the image: where they were built here
	entrypoint string            // the binary that the image's ENTRYPOINT runs, its path in the image
	err        error
}

// imageBinaries returns the binaries that the image holds, by their path
// in it (/bookshop, /recommendations, ...): where each was built, once, as
// the Dockerfile builds them (see buildAsDockerfile).
func imageBinaries(tb testing.TB) map[string]string {
	tb.Helper()
	built.once.Do(func() {
		df, err := parseDockerfile()
		if err != nil {
			built.err = err
			return
		}
		ep, err := df.entrypoint()
		if err != nil {
			built.err = err
			return
		}
		built.entrypoint = ep[0]
		built.bins, built.err = buildAsDockerfile(filepath.Join(scratch, "build"))
	})
	if built.err != nil {
		tb.Fatalf("build the image's binaries as the Dockerfile does: %v", built.err)
	}
	return built.bins
}

// imageEntrypoint returns the binary that the image's ENTRYPOINT runs, its
// path in the image: /bookshop.
func imageEntrypoint(tb testing.TB) string {
	tb.Helper()
	imageBinaries(tb)
	return built.entrypoint
}

// imageBinary returns where the image's binary bin (its path in the image)
// was built here.
func imageBinary(tb testing.TB, bin string) string {
	tb.Helper()
	bins := imageBinaries(tb)
	p, ok := bins[bin]
	if !ok {
		tb.Fatalf("the image holds no %s; it holds %s", bin, strings.Join(sortedKeys(bins), ", "))
	}
	return p
}

// serviceBinaries returns the image's binaries other than the
// ENTRYPOINT's, by their path in it: services' own binaries, each /NAME
// running what `bookshop NAME` runs (TestImageServiceBinaries).
func serviceBinaries(tb testing.TB) []string {
	tb.Helper()
	ep := imageEntrypoint(tb)
	return slices.DeleteFunc(sortedKeys(imageBinaries(tb)), func(b string) bool { return b == ep })
}

// runResult is what a run of the binary did.
type runResult struct {
	stdout, stderr string
	exitCode       int
}

// runBookshop runs the bookshop binary with args and no environment but
// env, and waits for it to exit, for at most 30 s.
func runBookshop(tb testing.TB, env map[string]string, args ...string) runResult {
	tb.Helper()
	return runBinary(tb, imageEntrypoint(tb), env, args...)
}

// runBinary runs the image's binary bin (its path in the image) as
// runBookshop runs bookshop.
func runBinary(tb testing.TB, bin string, env map[string]string, args ...string) runResult {
	tb.Helper()
	exe := imageBinary(tb, bin) // built before the clock starts
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = []string{} // not the test's environment: only env
	cmd.Dir = scratch    // where a command that writes files would write them
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := runResult{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			tb.Fatalf("run %s %s: %v", bin, strings.Join(args, " "), err)
		}
		res.exitCode = exitErr.ExitCode()
	}
	return res
}

// flagDef is one flag of a command, as its -h output lists it.
type flagDef struct {
	Name    string
	Type    string // "int", "string", "duration", "value", ...; "" for a bool
	Default string // the default, unquoted; "" when -h shows none (the zero value)
	Env     string // the environment variable that sets it, from "(env NAME)"; "" for none
	// AltEnv are the variables that set it when Env is not set, in order,
	// from "(env NAME, or OTHER)": DATABASE_URL for -database-url.
	AltEnv []string
	Usage  string
}

// command is a command of the binary, with its flags.
type command struct {
	path   []string // such as ["recommendations"] or ["demo", "serve"]
	flags  map[string]flagDef
	ofEnv  map[string]flagDef // by environment variable
	output string             // the -h output, for messages
}

func (c *command) String() string { return "bookshop " + strings.Join(c.path, " ") }

var commandCache struct {
	sync.Mutex
	m map[string]*command
}

// commandOf returns the command at path, with its flags parsed from the
// output of `bookshop PATH -h`.
func commandOf(tb testing.TB, path ...string) *command {
	tb.Helper()
	key := strings.Join(path, " ")
	commandCache.Lock()
	defer commandCache.Unlock()
	if c, ok := commandCache.m[key]; ok {
		return c
	}
	res := runBookshop(tb, nil, append(slices.Clone(path), "-h")...)
	if res.exitCode != 0 {
		tb.Fatalf("bookshop %s -h: exit status %d\n%s%s", key, res.exitCode, res.stdout, res.stderr)
	}
	c, err := parseHelp(path, res.stderr)
	if err != nil {
		tb.Fatalf("bookshop %s -h: %v\n%s", key, err, res.stderr)
	}
	if commandCache.m == nil {
		commandCache.m = make(map[string]*command)
	}
	commandCache.m[key] = c
	return c
}

var (
	flagLine   = regexp.MustCompile(`^  -([A-Za-z0-9][-A-Za-z0-9_]*)(?: (\S+))?$`)
	envInUsage = regexp.MustCompile(`\(env ([A-Z][A-Z0-9_]*)((?:, or [A-Z][A-Z0-9_]*)*)`)
	defInUsage = regexp.MustCompile(`^.*\(default (.*)\)$`) // the last "(default"
)

// parseHelp reads the flags from the output of flag.PrintDefaults: a line
// "  -name type" for each flag, then its usage on lines that start with
// "    \t", the last ending in "(default ...)" unless the default is the
// zero value.
func parseHelp(path []string, help string) (*command, error) {
	c := &command{path: path, flags: make(map[string]flagDef), ofEnv: make(map[string]flagDef), output: help}
	var cur *flagDef
	done := func() error {
		if cur == nil {
			return nil
		}
		cur.Usage = strings.TrimSpace(cur.Usage)
		if m := defInUsage.FindStringSubmatch(cur.Usage); m != nil {
			cur.Default = m[1]
			if s, err := strconv.Unquote(m[1]); err == nil {
				cur.Default = s
			}
		}
		if m := envInUsage.FindStringSubmatch(cur.Usage); m != nil {
			cur.Env = m[1]
			for alt := range strings.SplitSeq(m[2], ", or ") {
				if alt != "" {
					cur.AltEnv = append(cur.AltEnv, alt)
				}
			}
			for _, name := range append([]string{cur.Env}, cur.AltEnv...) {
				if other, dup := c.ofEnv[name]; dup {
					return fmt.Errorf("-%s and -%s both say (env %s)", other.Name, cur.Name, name)
				}
				c.ofEnv[name] = *cur
			}
		}
		c.flags[cur.Name] = *cur
		cur = nil
		return nil
	}
	for line := range strings.SplitSeq(help, "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			if err := done(); err != nil {
				return nil, err
			}
			cur = &flagDef{Name: m[1], Type: m[2]}
			continue
		}
		if cur != nil && strings.HasPrefix(line, "    \t") {
			cur.Usage += " " + strings.TrimPrefix(line, "    \t")
		}
	}
	if err := done(); err != nil {
		return nil, err
	}
	if len(c.flags) == 0 {
		return nil, fmt.Errorf("no flags found")
	}
	return c, nil
}

// setting returns the value that the flag name of c takes when the command
// runs with args after its path and with env: a flag in args wins over its
// environment variable, which wins over the variables it falls back to
// (AltEnv), in order, which win over the default.
func (c *command) setting(tb testing.TB, name string, args []string, env map[string]string) string {
	tb.Helper()
	f, ok := c.flags[name]
	if !ok {
		tb.Fatalf("%s has no flag -%s; its flags:\n%s", c, name, c.output)
	}
	v := f.Default
	for _, k := range append([]string{f.Env}, f.AltEnv...) {
		if e, ok := env[k]; ok && k != "" && e != "" {
			v = e
			break
		}
	}
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		if !strings.HasPrefix(args[i], "-") {
			continue
		}
		n, val, hasVal := strings.Cut(a, "=")
		if n != name {
			continue
		}
		switch {
		case hasVal:
			v = val
		case f.Type == "":
			v = "true"
		case i+1 < len(args):
			v = args[i+1]
			i++
		}
	}
	return v
}

// sdkEnv are the environment variables that no flag reads but a library
// linked into the binary does, by the module that reads them: the
// OpenTelemetry SDK's standard variables.
var sdkEnv = map[string]string{
	"OTEL_EXPORTER_OTLP_ENDPOINT": "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc",
	"OTEL_SERVICE_NAME":           "go.opentelemetry.io/otel/sdk",
}

// containerCommand is what a container of the image runs: one of the
// image's binaries, the words after it, and the command of bookshop that
// it is.
type containerCommand struct {
	bin  string   // the binary, its path in the image: the ENTRYPOINT's, /bookshop, or a service's own, such as /recommendations
	argv []string // the words after it
	// cmd is the command of bookshop it runs: for a service's own binary
	// /NAME, `bookshop NAME`, whose flags TestImageServiceBinaries holds
	// to be exactly the binary's.
	cmd  *command
	args []string // the words after the command's path
}

// containerCommandOf returns what a container of the image runs with
// entrypoint and command, as Compose's entrypoint and command, and
// Kubernetes' command and args, give them; where names the container in
// messages, and field the key of its entrypoint ("entrypoint",
// "command"). With no entrypoint, it runs the image's ENTRYPOINT,
// bookshop, and the command must name one of its commands. An entrypoint
// replaces the image's, and its CMD with it: it must name one of the
// image's own service binaries, /NAME, the same as `bookshop NAME`, with
// the words after it and the command as arguments. An entrypoint that is
// the image's own, or that names a binary the image does not hold, fails.
func containerCommandOf(tb testing.TB, where, field string, entrypoint, command []string) containerCommand {
	tb.Helper()
	image := imageEntrypoint(tb)
	if len(entrypoint) == 0 {
		if len(command) == 0 {
			tb.Fatalf("%s has no command: the image would run its default, bookshop up", where)
		}
		cmdPath, rest := commandPath(tb, command)
		return containerCommand{bin: image, argv: command, cmd: commandOf(tb, cmdPath...), args: rest}
	}
	if own := serviceBinaries(tb); !slices.Contains(own, entrypoint[0]) {
		tb.Fatalf("%s: %s %q: leave it to the image's ENTRYPOINT (%s), or name one of the image's own service binaries (%s)",
			where, field, entrypoint, image, strings.Join(own, ", "))
	}
	argv := append(slices.Clone(entrypoint[1:]), command...)
	cmdPath, _ := commandPath(tb, []string{path.Base(entrypoint[0])})
	return containerCommand{bin: entrypoint[0], argv: argv, cmd: commandOf(tb, cmdPath...), args: argv}
}

// checkEnvAccepted checks that every variable of env is one that the
// command reads, or one of sdkEnv with its module in the binary, and that
// the binary accepts its value: `BINARY ARGV -h` with env exits 0 (a bad
// value of a flag's variable stops the command with status 2).
func (cc *containerCommand) checkEnvAccepted(tb testing.TB, where string, env map[string]string) {
	tb.Helper()
	c := cc.cmd
	for k := range env {
		if _, ok := c.ofEnv[k]; ok {
			continue
		}
		if mod, ok := sdkEnv[k]; ok {
			if !linksModule(tb, cc.bin, mod) {
				tb.Errorf("%s: %s=%q: read by %s, which %s does not link", where, k, env[k], mod, cc.bin)
			}
			continue
		}
		tb.Errorf("%s: %s=%q: %s reads no such variable; it reads %s", where, k, env[k], c, strings.Join(sortedKeys(c.ofEnv), ", "))
	}
	full := append(slices.Clone(cc.argv), "-h")
	if res := runBinary(tb, cc.bin, env, full...); res.exitCode != 0 {
		tb.Errorf("%s: %s %s with its environment: exit status %d:\n%s", where, cc.bin, strings.Join(full, " "), res.exitCode, lastLines(res.stderr, 3))
	}
}

// linksModule reports whether the image's binary bin was built with the
// module path, as its build information (`go version -m`) lists it.
func linksModule(tb testing.TB, bin, path string) bool {
	tb.Helper()
	info, err := buildinfo.ReadFile(imageBinary(tb, bin))
	if err != nil {
		tb.Fatalf("read the build information of %s: %v", bin, err)
	}
	return slices.ContainsFunc(info.Deps, func(m *debug.Module) bool { return m.Path == path })
}

// subcommands returns the names of the subcommands of `bookshop PATH`, as
// its -h lists them, or nil if it has none. (-h, not help: a command that
// takes arguments would take "help" for one.)
func subcommands(tb testing.TB, path ...string) []string {
	tb.Helper()
	res := runBookshop(tb, nil, append(slices.Clone(path), "-h")...)
	_, list, ok := strings.Cut(res.stdout, "Commands:\n")
	if res.exitCode != 0 || !ok {
		return nil
	}
	var names []string
	for line := range strings.SplitSeq(list, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		names = append(names, strings.Fields(line)[0])
	}
	return names
}

// commandPath returns the leading words of args that name a command of the
// binary ("recommendations", or "demo serve"), and the rest.
func commandPath(tb testing.TB, args []string) (path, rest []string) {
	tb.Helper()
	for len(args) > 0 && slices.Contains(subcommands(tb, path...), args[0]) {
		path, args = append(path, args[0]), args[1:]
	}
	if len(path) == 0 {
		tb.Fatalf("%q does not start with a command of bookshop (%s)", args, strings.Join(subcommands(tb), ", "))
	}
	if subcommands(tb, path...) != nil {
		tb.Fatalf("%q names the group of commands bookshop %s, not one of them", path, strings.Join(path, " "))
	}
	return path, args
}

// calls are the flags that name a service that a command calls, with the
// command that runs that service: -recommendations-host the
// Recommendations service, -catalog-host the Catalog, -cart-host the Cart,
// -accounts-host the Accounts service, -orders-host Orders,
// -inventory-host the Inventory, -payments-host Payments, -checkout-host
// the Checkout, -promotions-host Promotions.
var calls = map[string]string{"recommendations-host": "recommendations", "catalog-host": "catalog", "cart-host": "cart", "accounts-host": "accounts", "orders-host": "orders", "inventory-host": "inventory", "payments-host": "payments", "checkout-host": "checkout", "promotions-host": "promotions"}

// callerIdentity is the identity that each command presents, with a
// client certificate of `bookshop certs`, when it calls a service: the
// servers authorize their callers by it (the Catalog lets marketplace,
// recommendations and admin read, cart price carts, recommendations and
// admin watch, admin alone import; Recommendations, the Cart and Accounts
// answer marketplace and admin).
var callerIdentity = map[string]string{
	"marketplace":     "marketplace",
	"recommendations": "recommendations",
	"cart":            "cart",
	"checkout":        "checkout",
	"import":          "admin",
	"export":          "admin",
	"stock":           "admin",
}

// clientCertFlags returns the flags of c that name the client certificate
// and key it presents when it calls a service: -tls-client-cert and
// -tls-client-key; or, in a command that only calls (no -tls-client-ca,
// so no server of its own), -tls-cert and -tls-key beside -tls-ca. "" when
// it has neither.
func clientCertFlags(c *command) (cert, key string) {
	if _, ok := c.flags["tls-client-cert"]; ok {
		return "tls-client-cert", "tls-client-key"
	}
	_, ca := c.flags["tls-ca"]
	_, server := c.flags["tls-client-ca"]
	if _, ok := c.flags["tls-cert"]; ok && ca && !server {
		return "tls-cert", "tls-key"
	}
	return "", ""
}

// hostPortOf returns the host and port of a host setting: host:port, or a
// gRPC target such as dns:///host:port. ok is false when it names no port.
func hostPortOf(target string) (host, port string, ok bool) {
	if u, err := url.Parse(target); err == nil && u.Scheme == "dns" {
		target = strings.TrimPrefix(u.Path, "/")
	}
	host, port, err := net.SplitHostPort(target)
	return host, port, err == nil && host != "" && port != ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestParseHelp checks parseHelp on the output of Go's own
// flag.PrintDefaults, with the shapes the binary's flags have.
func TestParseHelp(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.Int("port", 50051, "TCP port to serve gRPC on (env RECOMMENDATIONS_PORT)")
	fs.String("recommendations-host", "localhost", "host or host:port (default port 50051), or a gRPC target (env RECOMMENDATIONS_HOST)")
	fs.String("health-addr", "", "serve health alone on this address (env HEALTH_ADDR)")
	fs.Duration("shutdown-timeout", 10*time.Second, "drain timeout (env SHUTDOWN_TIMEOUT)")
	fs.Bool("force", false, "replace the files")
	fs.String("catalog", "", "seeds a new database (env CATALOG_FILE; format in the README)\nsecond line")
	fs.String("database-url", "", "keep the data in PostgreSQL (env INVENTORY_DATABASE_URL, or DATABASE_URL)")
	fs.PrintDefaults()
	c, err := parseHelp([]string{"x"}, out.String())
	if err != nil {
		t.Fatalf("parseHelp: %v\n%s", err, out.String())
	}
	for _, want := range []flagDef{
		{Name: "port", Type: "int", Default: "50051", Env: "RECOMMENDATIONS_PORT"},
		{Name: "recommendations-host", Type: "string", Default: "localhost", Env: "RECOMMENDATIONS_HOST"},
		{Name: "health-addr", Type: "string", Default: "", Env: "HEALTH_ADDR"},
		{Name: "shutdown-timeout", Type: "duration", Default: "10s", Env: "SHUTDOWN_TIMEOUT"},
		{Name: "force", Type: "", Default: "", Env: ""},
		{Name: "catalog", Type: "string", Default: "", Env: "CATALOG_FILE"},
		{Name: "database-url", Type: "string", Default: "", Env: "INVENTORY_DATABASE_URL", AltEnv: []string{"DATABASE_URL"}},
	} {
		got := c.flags[want.Name]
		got.Usage = ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseHelp: -%s = %+v, want %+v", want.Name, got, want)
		}
	}
	if got := c.setting(t, "port", []string{"-port=1", "x"}, map[string]string{"RECOMMENDATIONS_PORT": "2"}); got != "1" {
		t.Errorf("setting(port) with -port=1 and RECOMMENDATIONS_PORT=2 = %s, want 1", got)
	}
	if got := c.setting(t, "port", nil, map[string]string{"RECOMMENDATIONS_PORT": "2"}); got != "2" {
		t.Errorf("setting(port) with RECOMMENDATIONS_PORT=2 = %s, want 2", got)
	}
	if got := c.setting(t, "force", []string{"-force", "/certs"}, nil); got != "true" {
		t.Errorf("setting(force) with -force = %s, want true", got)
	}
	if got := c.setting(t, "database-url", nil, map[string]string{"DATABASE_URL": "postgres://shared"}); got != "postgres://shared" {
		t.Errorf("setting(database-url) with DATABASE_URL = %s, want postgres://shared", got)
	}
	if got := c.setting(t, "database-url", nil, map[string]string{"DATABASE_URL": "postgres://shared", "INVENTORY_DATABASE_URL": "postgres://own"}); got != "postgres://own" {
		t.Errorf("setting(database-url) with DATABASE_URL and INVENTORY_DATABASE_URL = %s, want postgres://own", got)
	}
	if f := c.ofEnv["DATABASE_URL"]; f.Name != "database-url" {
		t.Errorf("parseHelp: DATABASE_URL sets -%s, want -database-url", f.Name)
	}
}
