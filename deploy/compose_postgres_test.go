package deploy

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// postgresServer is a service of a Compose project that runs the official
// PostgreSQL image.
type postgresServer struct {
	name  string
	svc   types.ServiceConfig
	major int    // the major version its tag names
	user  string // the user the image creates (POSTGRES_USER)
	db    string // the database the image creates (POSTGRES_DB)
}

// postgresTag is a tag of the official image pinned to a release:
// MAJOR.MINOR, with a variant (17.9-bookworm), never latest, a bare
// major (17) or a variant alone (bookworm), which move.
var postgresTag = regexp.MustCompile(`^(\d+)\.(\d+)(?:-[a-z][a-z0-9.]*)?$`)

// postgresServers returns the services of p that run the official
// PostgreSQL image (postgres, docker.io/library/postgres).
func postgresServers(tb testing.TB, p *types.Project) []*postgresServer {
	tb.Helper()
	var out []*postgresServer
	for _, name := range sortedKeys(p.Services) {
		svc := p.Services[name]
		ref, err := reference.ParseNormalizedNamed(svc.Image)
		if err != nil || reference.FamiliarName(ref) != "postgres" {
			continue
		}
		env := func(k, def string) string {
			if v := svc.Environment[k]; v != nil && *v != "" {
				return *v
			}
			return def
		}
		s := &postgresServer{name: name, svc: svc, user: env("POSTGRES_USER", "postgres")}
		s.db = env("POSTGRES_DB", s.user)
		if tagged, ok := ref.(reference.NamedTagged); ok {
			if m := postgresTag.FindStringSubmatch(tagged.Tag()); m != nil {
				s.major, _ = strconv.Atoi(m[1])
			}
		}
		out = append(out, s)
	}
	return out
}

// dataDir is where the image keeps the cluster: PGDATA, if the service
// sets it, or the image's: /var/lib/postgresql/data up to 17, and from 18
// the versioned directory under /var/lib/postgresql, the image's volume.
func (s *postgresServer) dataDir() string {
	if v := s.svc.Environment["PGDATA"]; v != nil && *v != "" {
		return *v
	}
	if s.major >= 18 {
		return "/var/lib/postgresql"
	}
	return "/var/lib/postgresql/data"
}

// secretFile returns the file on the host of the secret of svc that
// target (a path in the container) names, relative to the project's
// directory, or "" when no file secret of svc is mounted there.
func secretFile(p *types.Project, svc types.ServiceConfig, target string) string {
	for _, ref := range svc.Secrets {
		at := ref.Target
		if at == "" {
			at = ref.Source
		}
		if !path.IsAbs(at) {
			at = path.Join("/run/secrets", at)
		}
		if path.Clean(at) != path.Clean(target) {
			continue
		}
		def, ok := p.Secrets[ref.Source]
		if !ok || def.File == "" {
			return ""
		}
		rel, err := filepath.Rel(p.WorkingDir, def.File)
		if err != nil {
			return ""
		}
		return filepath.ToSlash(rel)
	}
	return ""
}

// git runs git in the repository and returns its output, or an error for
// a status other than 0.
func git(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", repoRoot}, args...)...)
	out, err := cmd.Output()
	return string(out), err
}

// requireGit skips the test outside a clone of the repository: what is
// committed is git's to say.
func requireGit(tb testing.TB) {
	tb.Helper()
	if _, err := git("rev-parse", "--is-inside-work-tree"); err != nil {
		tb.Skipf("not a git clone (%v): what is committed cannot be checked", err)
	}
}

// checkUncommitted checks that file, relative to the repository, is kept
// out of commits and out of the image: ignored by git, not tracked, and
// left out of the build context by .dockerignore.
func checkUncommitted(tb testing.TB, where, file string) {
	tb.Helper()
	if _, err := git("check-ignore", "-q", "--no-index", file); err != nil {
		tb.Errorf("%s: %s is not in .gitignore: a secret would be committed with git add", where, file)
	}
	if out, _ := git("ls-files", "--", file); strings.TrimSpace(out) != "" {
		tb.Errorf("%s: %s is committed: a secret must not be", where, file)
	}
	pm, err := dockerignore()
	if err != nil {
		tb.Fatal(err)
	}
	if excluded, err := pm.MatchesOrParentMatches(file); err != nil || !excluded {
		tb.Errorf("%s: .dockerignore lets %s into the build context", where, file)
	}
}

// documentedCommands returns the first block of commands of the comment
// at the top of file: its lines that start with "#\t", until the first
// that does not.
func documentedCommands(tb testing.TB, file string) []string {
	tb.Helper()
	f, err := os.Open(filepath.Join(repoRoot, file))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var cmds []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if cmd, ok := strings.CutPrefix(line, "#\t"); ok {
			cmds = append(cmds, cmd)
			continue
		}
		if len(cmds) > 0 {
			break
		}
	}
	if len(cmds) == 0 {
		tb.Fatalf("%s: no commands (lines \"#\\tCOMMAND\") in its first comment", file)
	}
	return cmds
}

// TestComposePostgres checks what compose.postgres.yaml adds to
// compose.yaml: a PostgreSQL server from a pinned image, hardened, its
// data on a named volume, healthy once it takes connections over TCP, its
// password from a file that is not committed; and every service that can
// keep its data in PostgreSQL pointed at it, with no password in its
// settings, the password read by pgx from a password file (passfile=),
// and started once the server is healthy. The commands at the top of the
// file, which make the two secret files, are run in a scratch directory,
// and pgx's own ParseConfig must find the server's password for each
// service's URL in the password file they make.
func TestComposePostgres(t *testing.T) {
	t.Run("compose.yaml alone stays on SQLite", func(t *testing.T) {
		p := loadCompose(t)
		if s := postgresServers(t, p); len(s) > 0 {
			t.Errorf("compose.yaml runs PostgreSQL (%s): docker compose up must need nothing but a clone; put it in %s", s[0].name, postgresOverride)
		}
		for _, s := range composeServices(t, p) {
			if s.onPostgres(t) {
				t.Errorf("compose.yaml: service %s is on PostgreSQL: SQLite is the default", s.name)
			}
		}
	})

	p := loadComposeFiles(t, composeFileSets[1], []string{"*"}, nil)
	servers := postgresServers(t, p)
	if len(servers) != 1 {
		t.Fatalf("%d services run the postgres image with %s, want 1", len(servers), postgresOverride)
	}
	srv := servers[0]
	env := func(k string) (string, bool) {
		v := srv.svc.Environment[k]
		if v == nil {
			return "", false
		}
		return *v, true
	}

	t.Run("the server's image is pinned", func(t *testing.T) {
		ref, _ := reference.ParseNormalizedNamed(srv.svc.Image)
		tagged, ok := ref.(reference.NamedTagged)
		if !ok || !postgresTag.MatchString(tagged.Tag()) {
			t.Errorf("service %s: image %s: want a tag of a release, MAJOR.MINOR with its variant (such as postgres:17.9-bookworm), not latest, a bare major or a variant alone", srv.name, srv.svc.Image)
		}
		if srv.svc.Build != nil {
			t.Errorf("service %s builds an image: want the official one", srv.name)
		}
	})

	t.Run("the server is hardened", func(t *testing.T) {
		svc := srv.svc
		if !svc.ReadOnly {
			t.Errorf("service %s: want read_only: true", srv.name)
		}
		if !slices.Contains(svc.CapDrop, "ALL") || len(svc.CapAdd) > 0 {
			t.Errorf("service %s: cap_drop %v, cap_add %v: want ALL dropped, none added (run it as user postgres, and the entrypoint needs none)", srv.name, svc.CapDrop, svc.CapAdd)
		}
		if !slices.Contains(svc.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("service %s: security_opt %v, want no-new-privileges:true", srv.name, svc.SecurityOpt)
		}
		if u := strings.Split(svc.User, ":")[0]; u == "" || u == "root" || u == "0" {
			t.Errorf("service %s: user %q: want the image's postgres, from the start", srv.name, svc.User)
		}
		if svc.Privileged || svc.NetworkMode == "host" {
			t.Errorf("service %s: privileged or on the host's network: want neither", srv.name)
		}
		// Its socket and the entrypoint's temporary files, on a read-only
		// root file system.
		for _, dir := range []string{"/var/run/postgresql", "/tmp"} {
			if !slices.ContainsFunc(svc.Tmpfs, func(t string) bool { return strings.Split(t, ":")[0] == dir }) {
				t.Errorf("service %s: tmpfs %v: want %s, where it writes with a read-only root file system", srv.name, svc.Tmpfs, dir)
			}
		}
		if len(svc.Ports) > 0 {
			t.Errorf("service %s publishes %v: the services reach it on the Compose network; publish nothing", srv.name, svc.Ports)
		}
		if v, _ := env("POSTGRES_HOST_AUTH_METHOD"); v == "trust" {
			t.Errorf("service %s: POSTGRES_HOST_AUTH_METHOD=trust lets anyone on the network in without a password", srv.name)
		}
	})

	t.Run("the data directory is on a named volume", func(t *testing.T) {
		dir := srv.dataDir()
		var m *types.ServiceVolumeConfig
		for i, v := range srv.svc.Volumes {
			if path.Clean(v.Target) == path.Clean(dir) || strings.HasPrefix(path.Clean(dir), path.Clean(v.Target)+"/") {
				m = &srv.svc.Volumes[i]
			}
		}
		if m == nil || m.Type != types.VolumeTypeVolume || m.ReadOnly {
			t.Fatalf("service %s: its data directory %s (PostgreSQL %d) is on no writable named volume: every order would go with the container", srv.name, dir, srv.major)
		}
		if _, ok := p.Volumes[m.Source]; !ok {
			t.Errorf("service %s mounts volume %s, which volumes: does not declare", srv.name, m.Source)
		}
		for name, other := range p.Services {
			for _, v := range other.Volumes {
				if name != srv.name && v.Type == types.VolumeTypeVolume && v.Source == m.Source {
					t.Errorf("service %s mounts %s, the volume of the PostgreSQL server's data, too", name, m.Source)
				}
			}
		}
	})

	t.Run("healthy once it takes connections over TCP", func(t *testing.T) {
		hc := srv.svc.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 {
			t.Fatalf("service %s has no health check: the services would start before it takes connections", srv.name)
		}
		if hc.Test[0] != "CMD" || hc.Test[1] != "pg_isready" {
			t.Errorf("service %s: health check %q, want [CMD, pg_isready, ...]", srv.name, hc.Test)
		}
		// While the entrypoint creates the database, a temporary server
		// listens on the socket alone: a check on the socket passes then, and
		// the services would connect to a server about to stop.
		host := flagValue(hc.Test[2:], "host")
		if host == "" || strings.HasPrefix(host, "/") {
			t.Errorf("service %s: health check %q checks the socket: want --host=127.0.0.1, as the temporary server of the first start listens on the socket alone", srv.name, hc.Test)
		}
		for flag, want := range map[string]string{"username": srv.user, "dbname": srv.db} {
			if v := flagValue(hc.Test[2:], flag); v != want {
				t.Errorf("service %s: health check %q: --%s %q, want %q (the server logs a failed login for a user that does not exist)", srv.name, hc.Test, flag, v, want)
			}
		}
		if hc.Timeout == nil || hc.Interval == nil || time.Duration(*hc.Timeout) >= time.Duration(*hc.Interval) {
			t.Errorf("service %s: health check timeout %v, interval %v: want both, the timeout shorter", srv.name, hc.Timeout, hc.Interval)
		}
		if hc.StartPeriod == nil || time.Duration(*hc.StartPeriod) < 30*time.Second {
			t.Errorf("service %s: health check start_period %v: want 30 s or more, for the first start's initdb", srv.name, hc.StartPeriod)
		}
	})

	t.Run("the password comes from a file that is not committed", func(t *testing.T) {
		if v, ok := env("POSTGRES_PASSWORD"); ok {
			t.Errorf("service %s: POSTGRES_PASSWORD=%q: the password would be in the file and in docker inspect; want POSTGRES_PASSWORD_FILE and a secret", srv.name, strings.Repeat("x", len(v)))
		}
		target, ok := env("POSTGRES_PASSWORD_FILE")
		if !ok {
			t.Fatalf("service %s: no POSTGRES_PASSWORD_FILE", srv.name)
		}
		file := secretFile(p, srv.svc, target)
		if file == "" {
			t.Fatalf("service %s: POSTGRES_PASSWORD_FILE=%s is no file secret that the service mounts", srv.name, target)
		}
		requireGit(t)
		checkUncommitted(t, "service "+srv.name, file)
	})

	// The services on PostgreSQL, and where their URLs' password files are.
	passfiles := make(map[string]string) // service -> its password file on the host
	urls := make(map[string]string)      // service -> its database URL
	t.Run("every service with state is pointed at it", func(t *testing.T) {
		var n int
		for _, s := range composeServices(t, p) {
			if _, ok := s.cmd.flags["database-url"]; !ok || !longRunning(s) {
				continue
			}
			n++
			raw := s.setting(t, "database-url")
			if raw == "" {
				t.Errorf("service %s: %s can keep its data in PostgreSQL, but %s does not point it there (DATABASE_URL)", s.name, s.cmd, postgresOverride)
				continue
			}
			u, err := url.Parse(raw)
			if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
				t.Errorf("service %s: database URL %q: want postgres://USER@HOST:PORT/DATABASE?...", s.name, raw)
				continue
			}
			q := u.Query()
			if _, has := u.User.Password(); has || q.Has("password") {
				t.Errorf("service %s: its database URL holds a password: want it in a password file (passfile=)", s.name)
			}
			if q.Get("sslmode") == "" {
				t.Errorf("service %s: database URL %s names no sslmode: say it (disable on the Compose network, verify-full beyond)", s.name, raw)
			}
			if !slices.Contains(srv.names(p), u.Hostname()) || u.Port() != "5432" {
				t.Errorf("service %s: database URL %s: want %s:5432, the PostgreSQL server", s.name, raw, srv.name)
			}
			if got := strings.TrimPrefix(u.Path, "/"); got != srv.db || u.User.Username() != srv.user {
				t.Errorf("service %s: database URL %s: user %q, database %q; the server makes user %q and database %q", s.name, raw, u.User.Username(), got, srv.user, srv.db)
			}
			pf := q.Get("passfile")
			file := secretFile(p, s.svc, pf)
			if pf == "" || file == "" {
				t.Errorf("service %s: database URL %s: passfile %q is no file secret that the service mounts", s.name, raw, pf)
			} else {
				passfiles[s.name], urls[s.name] = file, raw
				requireGit(t)
				checkUncommitted(t, "service "+s.name, file)
			}
			if !waitsFor(p, s.name, srv.name, types.ServiceConditionHealthy) {
				t.Errorf("service %s does not wait (depends_on) for %s to be healthy: it would fail to start", s.name, srv.name)
			}
		}
		if n == 0 {
			t.Errorf("no service of %s has -database-url", postgresOverride)
		}
	})

	// The documented move of an SQLite shop's data: bookshop migrate-data
	// run in each service's own container (docker compose run NAME
	// migrate-data -service NAME), which mounts the service's volume and
	// has its environment. It must find there the service's SQLite file,
	// on its volume, and the URL the service would use.
	t.Run("migrate-data runs in each service's container", func(t *testing.T) {
		migrate := commandOf(t, "migrate-data")
		for _, s := range composeServices(t, p) {
			if !s.onPostgres(t) || !longRunning(s) {
				continue
			}
			args := []string{"-service", s.name}
			if _, ok := migrate.flags[s.name+"-db"]; !ok {
				t.Errorf("service %s is on PostgreSQL, but bookshop migrate-data cannot move its SQLite file (no -%s-db)", s.name, s.name)
				continue
			}
			file := migrate.setting(t, s.name+"-db", args, s.env)
			if want := s.setting(t, "db"); file != want || s.mountOf(file) == nil {
				t.Errorf("service %s: migrate-data in its container reads %s; the service's file is %s, on its volume", s.name, file, want)
			}
			url := cmp.Or(migrate.setting(t, s.name+"-database-url", args, s.env), migrate.setting(t, "database-url", args, s.env))
			if want := s.setting(t, "database-url"); url != want {
				t.Errorf("service %s: migrate-data in its container moves into %q; the service uses %q", s.name, url, want)
			}
			if res := runBookshop(t, s.env, append([]string{"migrate-data"}, append(args, "-h")...)...); res.exitCode != 0 {
				t.Errorf("service %s: bookshop migrate-data -service %s -h with the service's environment: exit status %d\n%s", s.name, s.name, res.exitCode, lastLines(res.stderr, 3))
			}
		}
	})

	t.Run("the documented commands make secrets that work", func(t *testing.T) {
		cmds := documentedCommands(t, postgresOverride)
		// docs/deployment.md gives the same commands.
		doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "deployment.md"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(doc), "\n")
		for _, cmd := range cmds {
			if !slices.Contains(lines, cmd) {
				t.Errorf("docs/deployment.md does not give the command %q of %s: keep them the same", cmd, postgresOverride)
			}
		}
		dir := t.TempDir()
		sh := exec.Command("sh", "-e", "-c", strings.Join(cmds, "\n"))
		sh.Dir = dir
		if out, err := sh.CombinedOutput(); err != nil {
			t.Fatalf("the commands at the top of %s, run in a scratch directory: %v\n%s\n%s", postgresOverride, err, strings.Join(cmds, "\n"), out)
		}
		// The server reads the file as its entrypoint does: $(< FILE), less
		// the newlines at its end.
		target, _ := env("POSTGRES_PASSWORD_FILE")
		serverFile := secretFile(p, srv.svc, target)
		if serverFile == "" {
			t.Fatalf("service %s reads its password from no file secret", srv.name)
		}
		data, err := os.ReadFile(filepath.Join(dir, serverFile))
		if err != nil {
			t.Fatalf("the commands make no %s: %v", serverFile, err)
		}
		password := strings.TrimRight(string(data), "\n")
		if len(password) < 32 || strings.ContainsAny(password, ":\\\n ") {
			t.Errorf("%s: a password of %d characters, some of them ':', '\\', space or newline: want 32 or more, none of those (a password file would need them escaped)", serverFile, len(password))
		}
		files := slices.Concat([]string{serverFile}, slices.Collect(maps.Values(passfiles)))
		slices.Sort(files)
		for _, file := range slices.Compact(files) {
			st, err := os.Stat(filepath.Join(dir, file))
			if err != nil {
				t.Errorf("the commands make no %s: %v", file, err)
				continue
			}
			// A file secret is a bind mount, with the host file's owner and
			// mode: the containers' users (postgres, 65532) are not its owner.
			if st.Mode().Perm()&0o004 == 0 {
				t.Errorf("%s: mode %v: the containers' users cannot read it", file, st.Mode().Perm())
			}
			if st, err := os.Stat(filepath.Join(dir, filepath.Dir(file))); err == nil && st.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: mode %v: want 0700, so that no one else on the machine reads the files in it", filepath.Dir(file), st.Mode().Perm())
			}
		}
		// pgx finds the password in the password file, for each service's URL.
		for _, k := range []string{"PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE"} {
			t.Setenv(k, "")
		}
		for _, name := range sortedKeys(urls) {
			u, _ := url.Parse(urls[name])
			q := u.Query()
			q.Set("passfile", filepath.Join(dir, passfiles[name]))
			u.RawQuery = q.Encode()
			cfg, err := pgconn.ParseConfig(u.String())
			switch {
			case err != nil:
				t.Errorf("service %s: pgx's ParseConfig(%s): %v", name, urls[name], err)
			case cfg.Password != password:
				t.Errorf("service %s: pgx finds no password, or another, in %s for %s: its URL and the password file's line do not match", name, passfiles[name], urls[name])
			}
		}
	})
}

// names are the names that the service answers to on the project's
// default network.
func (s *postgresServer) names(p *types.Project) []string {
	names := []string{s.name}
	if n := p.Services[s.name].Networks["default"]; n != nil {
		names = append(names, n.Aliases...)
	}
	return names
}

// deploymentFiles returns the files of the repository that describe a
// deployment or document one, committed or about to be (tracked, or new
// and not ignored): the Compose files, the Dockerfile, deploy/ but its Go
// code, the docs and the README.
func deploymentFiles(tb testing.TB) []string {
	tb.Helper()
	requireGit(tb)
	out, err := git("ls-files", "--cached", "--others", "--exclude-standard")
	if err != nil {
		tb.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for f := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		base := path.Base(f)
		switch {
		case strings.HasSuffix(f, ".go"), base == "go.sum", base == "go.mod":
		case strings.HasPrefix(base, "compose") && (strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml")),
			base == "Dockerfile", strings.HasPrefix(base, ".env"),
			strings.HasPrefix(f, "deploy/"), strings.HasPrefix(f, "docs/"), f == "README.md":
			if _, err := os.Stat(filepath.Join(repoRoot, f)); err == nil {
				files = append(files, f)
			}
		}
	}
	return files
}

// A password in a file: in a URL's user information, in key=value form,
// in the official PostgreSQL image's variable; and a Kubernetes Secret,
// whose value would be committed with it.
var (
	urlPassword      = regexp.MustCompile(`(?i)postgres(?:ql)?://[^\s/@:'"]*:([^\s@'"]*)@`)
	keyValuePassword = regexp.MustCompile(`(?i)(?:^|[\s?&'"])password\s*=\s*([^\s&'"]+)`)
	imagePassword    = regexp.MustCompile(`POSTGRES_PASSWORD\s*[:=]\s*(\S+)`)
	secretObject     = regexp.MustCompile(`(?m)^kind:\s*Secret\s*$`)
)

// placeholder reports whether a password in a file stands for one: the
// words docs use (PASSWORD, …, xxxxx, pgdb.Redact's mark) or a variable.
func placeholder(pw string) bool {
	return pw == "" || strings.Contains(pw, "…") || strings.Contains(pw, "...") || strings.Trim(pw, "x") == "" ||
		strings.EqualFold(pw, "PASSWORD") || strings.HasPrefix(pw, "$") || strings.HasPrefix(pw, "<") || strings.HasPrefix(pw, "{")
}

// TestNoPasswordsCommitted reads every deployment file and document that
// is committed, or new and not ignored, for a database password: in a
// connection string, in POSTGRES_PASSWORD, or in a Kubernetes Secret. The
// passwords live in files that .gitignore keeps out (Compose's secrets)
// and in Secrets made in the cluster (docs/deployment.md).
func TestNoPasswordsCommitted(t *testing.T) {
	files := deploymentFiles(t)
	if !slices.Contains(files, postgresOverride) {
		t.Fatalf("git ls-files lists no %s: %v", postgresOverride, files)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			t.Fatal(err)
		}
		text := string(data)
		for _, re := range []*regexp.Regexp{urlPassword, keyValuePassword, imagePassword} {
			for _, m := range re.FindAllStringSubmatch(text, -1) {
				if !placeholder(strings.Trim(m[1], "`")) {
					t.Errorf("%s: %q holds a password: keep it in a file that is not committed, or a Secret made in the cluster", f, strings.Replace(m[0], m[1], strings.Repeat("x", len(m[1])), 1))
				}
			}
		}
		if strings.HasPrefix(f, "deploy/") && (strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) && secretObject.MatchString(text) {
			t.Errorf("%s: a Secret, whose value would be committed: make it in the cluster (kubectl create secret), as docs/deployment.md says", f)
		}
	}
}

// TestComposePostgresRunsOnLoopback runs compose.yaml merged with
// compose.postgres.yaml as TestComposeRunsOnLoopback runs compose.yaml,
// with the PostgreSQL server that BOOKSHOP_TEST_DATABASE_URL names (as
// scripts/test.sh sets it) standing in for the service postgres: a role
// and a database of the test's own, with a password, which the services
// read from a password file of the documented form, named by their URLs'
// passfile. Every service must pass its health check and the shop must
// show books, as on SQLite; then each service on PostgreSQL must have
// made its schema in that database.
func TestComposePostgresRunsOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	admin := os.Getenv("BOOKSHOP_TEST_DATABASE_URL")
	if admin == "" {
		t.Skip("BOOKSHOP_TEST_DATABASE_URL is not set: scripts/test.sh sets it to a throwaway server; or run BOOKSHOP_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres go -C deploy test -run ComposePostgresRuns")
	}
	p := loadComposeFiles(t, composeFileSets[1], []string{"*"}, nil)
	servers := postgresServers(t, p)
	if len(servers) != 1 {
		t.Fatalf("%d services run the postgres image with %s, want 1", len(servers), postgresOverride)
	}
	srv := servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	au, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("BOOKSHOP_TEST_DATABASE_URL does not parse: %v", err)
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("BOOKSHOP_TEST_DATABASE_URL is set, but its server does not answer: %v", err)
	}
	defer conn.Close(context.Background())

	// A role and a database of the test's own; the password, as the
	// documented command makes it, hexadecimal.
	name := "bookshop_deploy_" + randomHex(t, 6)
	password := randomHex(t, 32)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", name, password)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop the test's database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		for _, stmt := range []string{"DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "DROP ROLE IF EXISTS " + name} {
			if _, err := c.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, name)); err != nil {
		t.Fatal(err)
	}
	host, port := au.Hostname(), cmp.Or(au.Port(), "5432")
	passfile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(passfile, []byte(fmt.Sprintf("%s:%s:%s:%s:%s\n", host, port, name, name, password)), 0o644); err != nil {
		t.Fatal(err)
	}
	wrong := &url.URL{Scheme: "postgres", User: url.UserPassword(name, "not-"+password), Host: net.JoinHostPort(host, port), Path: "/" + name, RawQuery: au.RawQuery}
	if c, err := pgx.Connect(ctx, wrong.String()); err == nil {
		c.Close(ctx)
		t.Logf("the server of BOOKSHOP_TEST_DATABASE_URL lets %s in with a wrong password (trust): the services read the password file, but the server does not check it", name)
	}

	// The services' URLs name the server postgres:5432, its user and
	// database, and the password file in /run/secrets: here, the test's.
	runComposeOnLoopback(t, p, func(word string) (string, bool) {
		u, err := url.Parse(word)
		if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" || !slices.Contains(srv.names(p), u.Hostname()) {
			return "", false
		}
		u.Host, u.User, u.Path = net.JoinHostPort(host, port), url.User(name), "/"+name
		q := u.Query()
		q.Set("passfile", passfile)
		u.RawQuery = q.Encode()
		return u.String(), true
	})

	// Each service on PostgreSQL made its schema there, and migrated it.
	db := *au
	db.Path = "/" + name
	dc, err := pgx.Connect(ctx, db.String())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close(context.Background())
	for _, s := range composeServices(t, p) {
		if !s.onPostgres(t) || !longRunning(s) {
			continue
		}
		schema := s.cmd.path[0]
		var migrated bool
		if err := dc.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", schema+".schema_migrations").Scan(&migrated); err != nil {
			t.Fatal(err)
		}
		if !migrated {
			t.Errorf("service %s ran on %s, but its schema %s has no schema_migrations: it did not keep its data there", s.name, postgresOverride, schema)
		}
	}
}

// randomHex returns n random bytes in hexadecimal.
func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}
