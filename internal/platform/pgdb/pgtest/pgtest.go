// Package pgtest gives tests a PostgreSQL database of their own on the
// server named by BOOKSHOP_TEST_DATABASE_URL, which scripts/test.sh sets
// to a throwaway server it starts. Without the variable, a test that
// needs PostgreSQL skips, saying how to run it; with it, a server that
// does not answer fails the test. A test that must stop the server, or
// crash it, makes a cluster of its own instead (NewCluster), under the
// same rule.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// EnvURL is the variable that names the server the tests may use: a URL
// whose user may create and drop databases.
const EnvURL = "BOOKSHOP_TEST_DATABASE_URL"

// timeout bounds each statement that makes or drops a database.
const timeout = 30 * time.Second

// URL returns the server of EnvURL, after checking that it answers. It
// skips tb when EnvURL is unset, and fails it when the server does not
// answer.
func URL(tb testing.TB) string {
	tb.Helper()
	skipWithoutServer(tb)
	u := os.Getenv(EnvURL)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatalf("%s=%s: the server does not answer: %v", EnvURL, pgdb.Redact(u), err)
	}
	conn.Close(ctx)
	return u
}

// skipWithoutServer skips tb when EnvURL is unset, saying how to run it.
func skipWithoutServer(tb testing.TB) {
	tb.Helper()
	if os.Getenv(EnvURL) == "" {
		tb.Skipf("no PostgreSQL to test with: scripts/test.sh starts one and sets %s; or set it to a server of your own, such as %s=postgres://postgres@127.0.0.1:5432/postgres (the tests make and drop databases named bookshop_test_*)", EnvURL, EnvURL)
	}
}

// NewDatabase makes an empty database on the server of EnvURL and returns
// its URL; the database is dropped, with the connections still open to
// it, when the test ends. It skips or fails tb as URL does.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	base := URL(tb)
	name := "bookshop_test_" + strings.ToLower(rand.Text()[:12])
	admin(tb, base, `CREATE DATABASE `+name)
	tb.Cleanup(func() { admin(tb, base, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`) })
	return WithDatabase(tb, base, name)
}

// Settings returns the settings of a service on a new database (see
// NewDatabase), with a small pool, and no wait for a database that does
// not answer at start (Wait 0): a test of a start without its database
// fails at once, and one of the wait sets Wait.
func Settings(tb testing.TB) pgdb.Settings {
	tb.Helper()
	st := pgdb.DefaultSettings()
	st.URL, st.Wait = NewDatabase(tb), 0
	return st
}

// admin runs sql on the database of u, on a connection of its own.
func admin(tb testing.TB, u, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatalf("%s=%s: the server does not answer: %v", EnvURL, pgdb.Redact(u), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// WithDatabase returns u, a URL or key=value connection string, with its
// database set to name.
func WithDatabase(tb testing.TB, u, name string) string {
	tb.Helper()
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		parsed, err := url.Parse(u)
		if err != nil { // its text would quote u, password and all
			tb.Fatalf("%s=%s does not parse as a URL", EnvURL, pgdb.Redact(u))
		}
		parsed.Path = "/" + name
		return parsed.String()
	}
	return fmt.Sprintf("%s dbname=%s", u, name) // the last of a key wins
}
