package deploy

import (
	"context"
	"crypto/x509"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeFileSets are the ways to run the Compose files: compose.yaml
// alone, every service with state on SQLite; and merged with
// compose.postgres.yaml, those that can on PostgreSQL.
var composeFileSets = [][]string{{"compose.yaml"}, {"compose.yaml", postgresOverride}}

// postgresOverride is the Compose file that puts the services with state
// on PostgreSQL, merged over compose.yaml.
const postgresOverride = "compose.postgres.yaml"

// loadCompose loads compose.yaml with the Compose Go library, as `docker
// compose` does: schema validation (an unknown key fails), interpolation,
// merges of the x- anchors, every profile, and no variable set.
func loadCompose(tb testing.TB) *types.Project {
	tb.Helper()
	return loadComposeWith(tb, []string{"*"}, nil)
}

// loadComposeWith loads compose.yaml as `docker compose --profile P ...`
// does for each of profiles ("*" for all), with env ("NAME=value") as the
// variables of the shell it runs in.
func loadComposeWith(tb testing.TB, profiles, env []string) *types.Project {
	tb.Helper()
	return loadComposeFiles(tb, []string{"compose.yaml"}, profiles, env)
}

// loadComposeFiles loads files, at the root of the repository, as `docker
// compose -f FILE -f FILE ...` does, each merged over those before it;
// profiles and env as loadComposeWith's.
func loadComposeFiles(tb testing.TB, files, profiles, env []string) *types.Project {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		tb.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(root, f))
	}
	opts, err := cli.NewProjectOptions(paths,
		cli.WithWorkingDirectory(root), cli.WithProfiles(profiles), cli.WithEnv(append([]string{}, env...)))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		tb.Fatalf("load %s: %v", strings.Join(files, " with "), err)
	}
	return p
}

// composeService is a service of compose.yaml, with what it runs: one of
// the image's binaries, and the command of bookshop it is.
type composeService struct {
	name string
	svc  types.ServiceConfig
	containerCommand
	env map[string]string // its environment
}

func (s *composeService) setting(tb testing.TB, flag string) string {
	tb.Helper()
	return s.cmd.setting(tb, flag, s.args, s.env)
}

// onPostgres reports whether the service keeps its data in PostgreSQL:
// its command has -database-url, and it is set.
func (s *composeService) onPostgres(tb testing.TB) bool {
	tb.Helper()
	_, ok := s.cmd.flags["database-url"]
	return ok && s.setting(tb, "database-url") != ""
}

// replicas is how many containers the service runs.
func (s *composeService) replicas() int {
	switch {
	case s.svc.Scale != nil:
		return *s.svc.Scale
	case s.svc.Deploy != nil && s.svc.Deploy.Replicas != nil:
		return *s.svc.Deploy.Replicas
	}
	return 1
}

// names are the names that the service's containers answer to on the
// default network: its own and its aliases.
func (s *composeService) names() []string {
	names := []string{s.name}
	if n := s.svc.Networks["default"]; n != nil {
		names = append(names, n.Aliases...)
	}
	return names
}

// listener is a port that a server listens on, and the flag that sets it.
type listener struct {
	flag string // "port", or an address flag such as "health-addr"
	port string
}

// addrFlags are the flags that give a server more addresses to listen on
// than -port: health alone, and the admin server (/metrics, pprof).
var addrFlags = []string{"health-addr", "admin-addr"}

// listeners are the ports the service's server listens on: -port, and
// those of -health-addr and -admin-addr when set.
func (s *composeService) listeners(tb testing.TB) []listener {
	tb.Helper()
	var ls []listener
	if _, ok := s.cmd.flags["port"]; ok {
		ls = append(ls, listener{"port", s.setting(tb, "port")})
	}
	for _, f := range addrFlags {
		if _, ok := s.cmd.flags[f]; !ok {
			continue
		}
		if addr := s.setting(tb, f); addr != "" {
			_, p, err := net.SplitHostPort(addr)
			if err != nil {
				tb.Errorf("%s: -%s %q: %v", s.name, f, addr, err)
			}
			ls = append(ls, listener{f, p})
		}
	}
	return ls
}

// listenPorts are the ports of its listeners.
func (s *composeService) listenPorts(tb testing.TB) []string {
	tb.Helper()
	var ports []string
	for _, l := range s.listeners(tb) {
		ports = append(ports, l.port)
	}
	return ports
}

// adminPort is the port of its admin server (-admin-addr), or "" when it
// has none.
func (s *composeService) adminPort(tb testing.TB) string {
	tb.Helper()
	for _, l := range s.listeners(tb) {
		if l.flag == "admin-addr" {
			return l.port
		}
	}
	return ""
}

// mountOf returns the volume mounted on the directory that holds file, or
// nil.
func (s *composeService) mountOf(file string) *types.ServiceVolumeConfig {
	for i, v := range s.svc.Volumes {
		if strings.HasPrefix(path.Clean(file), path.Clean(v.Target)+"/") {
			return &s.svc.Volumes[i]
		}
	}
	return nil
}

// builtHere reports whether the service runs the image of the repository's
// Dockerfile (build: .), the bookshop binary or a service's own, rather
// than another project's image (the profile observability's).
func builtHere(p *types.Project, svc types.ServiceConfig) bool {
	return svc.Build != nil && filepath.Clean(svc.Build.Context) == filepath.Clean(p.WorkingDir)
}

// composeServices returns the services that run the image's binaries,
// with their commands (see containerCommandOf: an entrypoint other than
// the image's own service binaries fails); observability_test.go checks
// the others.
func composeServices(tb testing.TB, p *types.Project) []*composeService {
	tb.Helper()
	var out []*composeService
	for _, name := range sortedKeys(p.Services) {
		svc := p.Services[name]
		if !builtHere(p, svc) {
			continue
		}
		run := containerCommandOf(tb, "service "+name, "entrypoint", svc.Entrypoint, svc.Command)
		env := make(map[string]string)
		for k, v := range svc.Environment {
			if v != nil {
				env[k] = *v
			}
		}
		out = append(out, &composeService{name: name, svc: svc, containerCommand: run, env: env})
	}
	return out
}

// running returns the services that run the command path.
func running(services []*composeService, path ...string) []*composeService {
	var out []*composeService
	for _, s := range services {
		if slices.Equal(s.cmd.path, path) {
			out = append(out, s)
		}
	}
	return out
}

// stateful are the commands of the services with state: each is the one
// writer of its SQLite database, on a volume of its own, and serves with
// mutual TLS.
var stateful = []string{"catalog", "accounts", "cart", "inventory", "orders", "payments", "promotions", "checkout"}

// longRunning reports whether a service is a server, not a one-shot or a
// tool run by hand.
func longRunning(s *composeService) bool {
	return s.svc.Restart != "no" && s.svc.Restart != ""
}

// TestCompose checks compose.yaml against the binary, alone and merged
// with compose.postgres.yaml: the commands, flags and environment
// variables of its services, their ports, health checks, volumes and
// certificates. TestComposePostgres checks what the override adds.
func TestCompose(t *testing.T) {
	for _, files := range composeFileSets {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			checkCompose(t, loadComposeFiles(t, files, []string{"*"}, nil))
		})
	}
}

// checkCompose checks the Compose project p, as TestCompose says.
func checkCompose(t *testing.T, p *types.Project) {
	services := composeServices(t, p)
	df := mustParseDockerfile(t)
	entrypoint, err := df.entrypoint()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the whole system", func(t *testing.T) {
		n := 0
		for _, s := range running(services, "recommendations") {
			n += s.replicas()
		}
		if n < 2 {
			t.Errorf("%d Recommendations replicas, want 2 or more", n)
		}
		// The Catalog, Accounts, the Cart, the Inventory, Orders, Payments,
		// Promotions and the Checkout are each the one writer of their
		// SQLite database; on PostgreSQL, replicas may share it.
		for _, cmd := range stateful {
			n = 0
			shared := true
			for _, s := range running(services, cmd) {
				n += s.replicas()
				shared = shared && s.onPostgres(t)
			}
			if n == 0 || n > 1 && !shared {
				t.Errorf("%d containers run bookshop %s, want 1: it is the one writer of its SQLite database", n, cmd)
			}
		}
		for _, path := range [][]string{{"marketplace"}, {"demo", "serve"}, {"certs"}} {
			if len(running(services, path...)) == 0 {
				t.Errorf("no service runs bookshop %s", strings.Join(path, " "))
			}
		}
	})

	t.Run("commands and environment", func(t *testing.T) {
		for _, s := range services {
			if s.cmd.path[0] == "certs" {
				continue // it takes no environment; its flags are checked below
			}
			s.checkEnvAccepted(t, "service "+s.name, s.env)
		}
	})

	t.Run("one image, hardened", func(t *testing.T) {
		for _, s := range services {
			if s.svc.Image != services[0].svc.Image {
				t.Errorf("service %s runs %s, service %s %s: want the one image", s.name, s.svc.Image, services[0].name, services[0].svc.Image)
			}
			if b := s.svc.Build; b == nil || filepath.Clean(b.Context) != filepath.Clean(p.WorkingDir) {
				t.Errorf("service %s: want build: . (the repository, with its Dockerfile)", s.name)
			}
			if !s.svc.ReadOnly {
				t.Errorf("service %s: want read_only: true", s.name)
			}
			if !slices.Contains(s.svc.CapDrop, "ALL") {
				t.Errorf("service %s: cap_drop %v, want ALL", s.name, s.svc.CapDrop)
			}
			if !slices.Contains(s.svc.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("service %s: security_opt %v, want no-new-privileges:true", s.name, s.svc.SecurityOpt)
			}
			if u := s.svc.User; u != "" {
				t.Errorf("service %s: user %q: leave it to the image's non-root USER", s.name, u)
			}
			// An entrypoint, if any, is one of the image's own service
			// binaries: composeServices fails on any other.
		}
	})

	t.Run("health checks", func(t *testing.T) {
		for _, s := range services {
			if !longRunning(s) {
				continue
			}
			hc := s.svc.HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) == 0 {
				t.Errorf("service %s has no health check", s.name)
				continue
			}
			// distroless has no shell: CMD, not CMD-SHELL, running the binary.
			if hc.Test[0] != "CMD" || len(hc.Test) < 3 || hc.Test[1] != entrypoint[0] {
				t.Errorf("service %s: health check %q, want [CMD, %s, command, ...]: the image has no shell", s.name, hc.Test, entrypoint[0])
				continue
			}
			hpath, hargs := commandPath(t, hc.Test[2:])
			hcmd := commandOf(t, hpath...)
			// The check runs in the container, with its environment.
			full := append(append(slices.Clone(hpath), hargs...), "-h")
			if res := runBookshop(t, s.env, full...); res.exitCode != 0 {
				t.Errorf("service %s: health check %q with the service's environment: exit status %d\n%s", s.name, hc.Test, res.exitCode, lastLines(res.stderr, 3))
			}
			// It probes a port the service listens on.
			var target string
			for _, f := range []string{"grpc", "http", "addr", "recommendations-host"} {
				if _, ok := hcmd.flags[f]; ok {
					if v := hcmd.setting(t, f, hargs, nil); v != "" {
						target = v
						break
					}
				}
			}
			port := portOf(target)
			if port == "" || !slices.Contains(s.listenPorts(t), port) {
				t.Errorf("service %s: health check %q probes %q, want localhost on one of its ports %v", s.name, hc.Test, target, s.listenPorts(t))
			}
			// A plaintext probe must not pick up the server's own certificate from
			// TLS_CERT and TLS_KEY as a client certificate.
			if hcmd.setting(t, "tls-ca", hargs, s.env) == "" && hcmd.setting(t, "tls-cert", hargs, s.env) != "" {
				t.Errorf("service %s: health check %q takes TLS_CERT=%s from the container as its client certificate, with no CA: give -tls-cert= -tls-key=", s.name, hc.Test, s.env["TLS_CERT"])
			}
			if hc.Timeout == nil || hc.Interval == nil || time.Duration(*hc.Timeout) >= time.Duration(*hc.Interval) {
				t.Errorf("service %s: health check timeout %v, interval %v: want both, the timeout shorter", s.name, hc.Timeout, hc.Interval)
			}
		}
	})

	t.Run("stop grace period exceeds the grace and the drain timeout", func(t *testing.T) {
		for _, s := range services {
			if _, ok := s.cmd.flags["shutdown-timeout"]; !ok || !longRunning(s) {
				continue
			}
			drain, err := time.ParseDuration(s.setting(t, "shutdown-timeout"))
			if err != nil {
				t.Fatal(err)
			}
			grace := 10 * time.Second // Docker's default
			if s.svc.StopGracePeriod != nil {
				grace = time.Duration(*s.svc.StopGracePeriod)
			}
			// The Marketplace serves for -drain-grace before it drains.
			var serving time.Duration
			if _, ok := s.cmd.flags["drain-grace"]; ok {
				if serving, err = time.ParseDuration(s.setting(t, "drain-grace")); err != nil {
					t.Fatal(err)
				}
			}
			if grace <= drain+serving {
				t.Errorf("service %s: stop_grace_period %v, want more than its -drain-grace %v plus its drain timeout (-shutdown-timeout) %v", s.name, grace, serving, drain)
			}
		}
	})

	t.Run("published ports", func(t *testing.T) {
		for _, s := range services {
			for _, pc := range s.svc.Ports {
				if target := strconv.Itoa(int(pc.Target)); !slices.Contains(s.listenPorts(t), target) {
					t.Errorf("service %s publishes %s:%d, but listens on %v", s.name, pc.Published, pc.Target, s.listenPorts(t))
				}
			}
		}
		for _, path := range [][]string{{"marketplace"}, {"demo", "serve"}} {
			for _, s := range running(services, path...) {
				if len(s.svc.Ports) == 0 {
					t.Errorf("service %s publishes no port", s.name)
				}
			}
		}
	})

	t.Run("Marketplace balances over the Recommendations replicas", func(t *testing.T) {
		replicas := running(services, "recommendations")
		for _, m := range running(services, "marketplace") {
			host := m.setting(t, "recommendations-host")
			u, err := url.Parse(host)
			if err != nil || u.Scheme != "dns" {
				t.Errorf("service %s: RECOMMENDATIONS_HOST=%s, want dns:///NAME:PORT, so that it finds every replica", m.name, host)
				continue
			}
			name, port, err := net.SplitHostPort(strings.TrimPrefix(u.Path, "/"))
			if err != nil {
				t.Errorf("service %s: RECOMMENDATIONS_HOST=%s: %v", m.name, host, err)
				continue
			}
			for _, r := range replicas {
				if !slices.Contains(r.names(), name) {
					t.Errorf("service %s calls %s, but replica %s answers to %v", m.name, name, r.name, r.names())
				}
				if !slices.Contains(r.listenPorts(t), port) {
					t.Errorf("service %s calls port %s, but replica %s listens on %v", m.name, port, r.name, r.listenPorts(t))
				}
				if d, ok := m.svc.DependsOn[r.name]; !ok || d.Condition != types.ServiceConditionHealthy {
					t.Errorf("service %s: want depends_on %s with condition service_healthy, so that its first lookup finds every replica", m.name, r.name)
				}
			}
		}
	})

	t.Run("every caller finds the services it calls", func(t *testing.T) {
		for _, s := range services {
			for _, flag := range sortedKeys(calls) {
				if _, ok := s.cmd.flags[flag]; !ok {
					continue
				}
				env := s.cmd.flags[flag].Env
				target := s.setting(t, flag)
				host, port, ok := hostPortOf(target)
				if !ok {
					t.Errorf("service %s: %s=%q, want NAME:PORT or dns:///NAME:PORT, a service of this file", s.name, env, target)
					continue
				}
				servers := running(services, calls[flag])
				if len(servers) == 0 {
					t.Errorf("service %s: %s=%s, but no service runs bookshop %s", s.name, env, target, calls[flag])
				}
				for _, srv := range servers {
					if !slices.Contains(srv.names(), host) {
						t.Errorf("service %s: %s=%s, but service %s answers to %v", s.name, env, target, srv.name, srv.names())
					}
					if !slices.Contains(srv.listenPorts(t), port) {
						t.Errorf("service %s: %s=%s, but service %s listens on %v", s.name, env, target, srv.name, srv.listenPorts(t))
					}
					if !waitsFor(p, s.name, srv.name, types.ServiceConditionHealthy) {
						t.Errorf("service %s calls %s, but does not wait (depends_on) for it to be healthy", s.name, srv.name)
					}
				}
			}
		}
	})

	t.Run("database volumes", func(t *testing.T) {
		var withState []*composeService
		for _, cmd := range stateful {
			withState = append(withState, running(services, cmd)...)
		}
		for _, c := range withState {
			db := c.setting(t, "db")
			m := c.mountOf(db)
			if m == nil && c.onPostgres(t) {
				continue // no file: its data is in PostgreSQL
			}
			if m == nil || m.Type != types.VolumeTypeVolume || m.ReadOnly {
				t.Errorf("service %s: %s=%s is not on a writable named volume", c.name, c.cmd.flags["db"].Env, db)
				continue
			}
			if _, ok := p.Volumes[m.Source]; !ok {
				t.Errorf("service %s mounts volume %s, which volumes: does not declare", c.name, m.Source)
			}
			// The service alone holds its database: the others ask it.
			for _, other := range services {
				for _, v := range other.svc.Volumes {
					if other != c && v.Type == types.VolumeTypeVolume && v.Source == m.Source {
						t.Errorf("service %s mounts the volume %s of %s's database too: %s alone holds it", other.name, m.Source, c.name, c.name)
					}
				}
			}
		}
	})

	t.Run("mutual TLS", func(t *testing.T) {
		certsSvc := running(services, "certs")
		if len(certsSvc) != 1 {
			t.Fatalf("%d services run bookshop certs, want 1", len(certsSvc))
		}
		maker := certsSvc[0]
		if len(maker.args) == 0 || strings.HasPrefix(maker.args[len(maker.args)-1], "-") {
			t.Fatalf("service %s: %q names no directory", maker.name, maker.svc.Command)
		}
		dir := maker.args[len(maker.args)-1]
		m := maker.mountOf(dir + "/x")
		if m == nil || m.Type != types.VolumeTypeVolume || m.ReadOnly {
			t.Fatalf("service %s writes to %s, which is no writable named volume", maker.name, dir)
		}
		// At the second docker compose up the files are there: without
		// -keep (or -force, which would make a new CA each time) the
		// service would fail.
		if maker.cmd.setting(t, "keep", maker.args, nil) != "true" {
			t.Errorf("service %s: %q without -keep fails at the second docker compose up, when the files are there", maker.name, maker.svc.Command)
		}
		ns := maker.cmd.setting(t, "namespace", maker.args, nil)
		split := maker.cmd.setting(t, "split", maker.args, nil) == "true"
		set := certsMade(t, ns, split)

		// Each service mounts of the certs volume only the directories of
		// what it is, read-only: server/ if it serves with mutual TLS, the
		// directory of its own identity if it calls others. Never the whole
		// volume: it holds every identity's key, and as every container
		// runs as the keys' owner, their mode 0600 keeps no one out, so a
		// Marketplace taken over could call Payments as the Checkout, or
		// import books as admin. Only the tools (admin) hold admin's key.
		for _, s := range services {
			if s == maker {
				continue
			}
			mine := make(map[string]bool) // the directories of the volume that s may mount
			if _, ok := s.cmd.flags["tls-client-ca"]; ok && s.setting(t, "tls-client-ca") != "" {
				mine["server"] = true
			}
			if id := callerIdentity[s.cmd.path[0]]; id != "" {
				mine[id] = true
			}
			for _, v := range s.svc.Volumes {
				if v.Type != types.VolumeTypeVolume || v.Source != m.Source {
					continue
				}
				sub := ""
				if v.Volume != nil {
					sub = strings.Trim(path.Clean("/"+v.Volume.Subpath), "/")
				}
				switch {
				case sub == "":
					t.Errorf("service %s mounts the whole volume %s at %s, where %s writes the keys of every identity: "+
						"it can read them all; want only its own directories, %v, each with volume: {subpath: DIR} (bookshop certs -split)",
						s.name, m.Source, v.Target, maker.name, sortedKeys(mine))
				case !mine[sub]:
					t.Errorf("service %s mounts %s/ of the volume %s: it is not its own (want only %v): it can read another identity's key",
						s.name, sub, m.Source, sortedKeys(mine))
				}
				if !v.ReadOnly {
					t.Errorf("service %s mounts the volume %s at %s writable: want read_only: true", s.name, m.Source, v.Target)
				}
			}
		}

		// inVolume returns the name, in the volume, of the file v that a
		// service reads where mv mounts it: below mv's subpath, if any.
		inVolume := func(mv *types.ServiceVolumeConfig, v string) string {
			if mv.Volume != nil && mv.Volume.Subpath != "" {
				return path.Join(mv.Volume.Subpath, path.Base(v))
			}
			return path.Base(v)
		}

		// file checks that flag names a file of the set in the certs volume,
		// and returns its name in the set.
		file := func(s *composeService, flag string) string {
			f, ok := s.cmd.flags[flag]
			if !ok {
				t.Errorf("service %s: %s has no -%s", s.name, s.cmd, flag)
				return ""
			}
			v := s.setting(t, flag)
			if v == "" {
				t.Errorf("service %s: no %s (-%s): want mutual TLS", s.name, f.Env, flag)
				return ""
			}
			mv := s.mountOf(v)
			if mv == nil || mv.Source != m.Source || path.Dir(v) != path.Clean(mv.Target) {
				t.Errorf("service %s: %s=%s is not in the volume %s that %s writes", s.name, f.Env, v, m.Source, maker.name)
				return ""
			}
			name := inVolume(mv, v)
			if !set.has(name) {
				t.Errorf("service %s: %s=%s, %s in the volume: bookshop certs writes no such file (it writes %v)", s.name, f.Env, v, name, set.files)
				return ""
			}
			if !waitsFor(p, s.name, maker.name, types.ServiceConditionCompletedSuccessfully) {
				t.Errorf("service %s reads %s, but does not wait (depends_on) for %s to complete successfully", s.name, v, maker.name)
			}
			return name
		}

		// The servers: their certificate, and client certificates required.
		var servers []*composeService
		for _, cmd := range append(slices.Clone(stateful), "recommendations") {
			servers = append(servers, running(services, cmd)...)
		}
		for _, r := range servers {
			if f := file(r, "tls-cert"); f != "" && !set.usage(t, f, x509.ExtKeyUsageServerAuth) {
				t.Errorf("service %s: TLS_CERT %s is not a server certificate", r.name, f)
			}
			file(r, "tls-key")
			if f := file(r, "tls-client-ca"); f != "" && !set.isCA(t, f) {
				t.Errorf("service %s: TLS_CLIENT_CA %s is not the CA", r.name, f)
			}
		}

		// The callers: the CA, their own identity, and servers whose
		// certificate covers the names they call.
		for _, c := range services {
			var called []string
			for _, flag := range sortedKeys(calls) {
				if _, ok := c.cmd.flags[flag]; ok {
					called = append(called, flag)
				}
			}
			if len(called) == 0 {
				continue
			}
			if f := file(c, "tls-ca"); f != "" && !set.isCA(t, f) {
				t.Errorf("service %s: TLS_CA %s is not the CA", c.name, f)
			}
			certFlag, keyFlag := clientCertFlags(c.cmd)
			if certFlag == "" {
				t.Errorf("service %s: %s has no flag for a client certificate: it cannot call with mutual TLS", c.name, c.cmd)
				continue
			}
			cert := file(c, certFlag)
			file(c, keyFlag)
			if cert != "" {
				if !set.usage(t, cert, x509.ExtKeyUsageClientAuth) {
					t.Errorf("service %s: %s %s is not a client certificate", c.name, c.cmd.flags[certFlag].Env, cert)
				}
				if id, want := set.identity(t, cert), callerIdentity[c.cmd.path[0]]; id != want {
					t.Errorf("service %s presents identity %q, want %q", c.name, id, want)
				}
			}
			for _, flag := range called {
				host, _, _ := hostPortOf(c.setting(t, flag))
				for _, srv := range running(services, calls[flag]) {
					v := srv.setting(t, "tls-cert")
					mv := srv.mountOf(v)
					if mv == nil {
						continue // reported above
					}
					if sc := inVolume(mv, v); set.has(sc) && !set.coversName(t, sc, host) {
						t.Errorf("service %s calls %s, a name that the server certificate of %s does not cover", c.name, host, srv.name)
					}
				}
			}
		}
	})
}

// waitsFor reports whether service name starts only once service dep has
// met condition, directly or through the services it waits for.
func waitsFor(p *types.Project, name, dep, condition string) bool {
	seen := make(map[string]bool)
	var visit func(string) bool
	visit = func(name string) bool {
		if seen[name] {
			return false
		}
		seen[name] = true
		for d, cfg := range p.Services[name].DependsOn {
			if d == dep && cfg.Condition == condition || d != dep && visit(d) {
				return true
			}
		}
		return false
	}
	return visit(name)
}

// portOf returns the port of a host:port, a URL, or a dns:/// target.
func portOf(target string) string {
	if u, err := url.Parse(target); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Port()
	}
	if u, err := url.Parse(target); err == nil && u.Scheme == "dns" {
		target = strings.TrimPrefix(u.Path, "/")
	}
	_, port, err := net.SplitHostPort(target)
	if err != nil {
		return ""
	}
	return port
}
