package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/platform/porttest"
)

// A Cluster is a PostgreSQL server of one test's own, made with initdb in
// a new directory and run with pg_ctl from the installation that
// scripts/postgres.sh uses, so that the test may stop it, crash it and
// start it again without touching the server of EnvURL, which every
// package's tests use at once. As root, its programs run as the postgres
// user (initdb refuses root). It listens on 127.0.0.1 only, on a port
// kept across Stop and Start, and trusts every local user.
type Cluster struct {
	tb       testing.TB
	bin      string // the directory of initdb, pg_ctl
	dir      string // data/, server.log and the socket
	port     int
	settings []string // NAME=VALUE, for the server
}

// clusterTimeout bounds each pg_ctl start or stop: a start after a crash
// replays the WAL first.
const clusterTimeout = 30 * time.Second

// NewCluster makes and starts a cluster of tb's own, with the server
// settings given as NAME=VALUE (such as "fsync=off"), and removes it when
// the test ends, stopped or not. Like URL, it skips tb when EnvURL is
// unset (the tests that need PostgreSQL are not asked for), and fails it
// when the cluster cannot be made: no PostgreSQL installed, initdb or the
// start failing (the message quotes their output). It takes a few
// seconds.
func NewCluster(tb testing.TB, settings ...string) *Cluster {
	tb.Helper()
	skipWithoutServer(tb)
	bin, err := serverBin()
	if err != nil {
		tb.Fatalf("NewCluster: %v", err)
	}
	// Not tb.TempDir(): its parent is open to its owner alone, and the
	// postgres user must enter this one.
	dir, err := os.MkdirTemp("", "bookshop-pgtest-")
	if err != nil {
		tb.Fatalf("NewCluster: %v", err)
	}
	c := &Cluster{tb: tb, bin: bin, dir: dir, port: porttest.Pick(tb), settings: settings}
	tb.Cleanup(func() {
		if _, err := os.Stat(c.pidFile()); err == nil {
			_, _ = c.pgCtl("-m", "immediate", "stop") // at the end of a test, no need to be gentle
		}
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		if err := chownToPostgres(dir); err != nil {
			tb.Fatalf("NewCluster: %v", err)
		}
	}
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		tb.Fatalf("NewCluster: initdb: %v\n%s", err, out)
	}
	c.Start()
	return c
}

// URL returns the cluster's database postgres as the superuser postgres,
// for a service's settings or pgx.Connect.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the cluster and returns once it accepts connections:
// after a Stop("immediate"), once it has replayed its WAL, as a server
// does after a crash. It fails the test when the server does not start
// within 30 s, quoting the end of its log.
func (c *Cluster) Start() {
	c.tb.Helper()
	opts := []string{"-p", strconv.Itoa(c.port), "-k", c.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	for _, s := range c.settings {
		opts = append(opts, "-c", s)
	}
	if out, err := c.pgCtl("-l", filepath.Join(c.dir, "server.log"), "-o", strings.Join(opts, " "), "start"); err != nil {
		c.tb.Fatalf("Cluster.Start: pg_ctl start: %v\n%s\nthe server's log ends:\n%s", err, out, c.logTail())
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		c.tb.Fatalf("Cluster.Start: the server started, and does not answer: %v", err)
	}
	conn.Close(ctx)
}

// Stop stops the cluster with pg_ctl's mode: "smart" waits for the
// clients to go, "fast" ends their sessions and shuts down cleanly, and
// "immediate" kills the server's processes at once, without a
// checkpoint, as a crash of the database would (the next Start recovers
// from the WAL). It returns once the server has gone, and fails the test
// when it has not within 30 s.
func (c *Cluster) Stop(mode string) {
	c.tb.Helper()
	if out, err := c.pgCtl("-m", mode, "stop"); err != nil {
		c.tb.Fatalf("Cluster.Stop(%q): pg_ctl stop: %v\n%s", mode, err, out)
	}
}

// Log returns the server's log so far: a test may quote it when it fails.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return string(b)
}

// logTail returns the last lines of the server's log.
func (c *Cluster) logTail() string {
	lines := strings.Split(strings.TrimRight(c.Log(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

func (c *Cluster) data() string    { return filepath.Join(c.dir, "data") }
func (c *Cluster) pidFile() string { return filepath.Join(c.data(), "postmaster.pid") }

// pgCtl runs pg_ctl on the cluster's data, waiting for the change it
// asks for (-w).
func (c *Cluster) pgCtl(args ...string) ([]byte, error) {
	args = append([]string{"-D", c.data(), "-w", "-t", strconv.Itoa(int(clusterTimeout.Seconds()))}, args...)
	return c.run(filepath.Join(c.bin, "pg_ctl"), args...)
}

// run runs a server program, as the postgres user when the test runs as
// root, and returns its output.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = c.dir // where the postgres user may be
	err := cmd.Run()
	return out.Bytes(), err
}

// serverBin returns the directory of the server's programs: that of the
// newest PostgreSQL under /usr/lib/postgresql (Debian's layout, where
// scripts/postgres.sh finds it), or of initdb on PATH.
func serverBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) > 0 {
		version := func(path string) int {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
			return n
		}
		newest := slices.MaxFunc(found, func(a, b string) int { return version(a) - version(b) })
		return filepath.Dir(newest), nil
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	return "", fmt.Errorf("no PostgreSQL server programs (initdb, pg_ctl) under /usr/lib/postgresql or on PATH: install the server (scripts/postgres.sh bin installs Debian's postgresql)")
}

// chownToPostgres gives dir to the postgres user, who runs the cluster.
func chownToPostgres(dir string) error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root, the cluster runs as the postgres user, and there is none: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("the postgres user's uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("the postgres user's gid %q: %w", u.Gid, err)
	}
	return os.Chown(dir, uid, gid)
}
