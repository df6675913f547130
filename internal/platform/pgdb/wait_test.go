package pgdb_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
)

// withPassword returns u with password in its user information (the test
// server trusts any).
func withPassword(tb testing.TB, u, password string) string {
	tb.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		tb.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password)
	return parsed.String()
}

// TestOpenWaitsForDatabase starts a service's Open while its database is
// away (a proxy down): Open waits, logging each failed attempt at Warn
// with the password hidden, and returns the database once the proxy is
// up again; no attempt is logged once it answers.
func TestOpenWaitsForDatabase(t *testing.T) {
	const password = "Wa1t-Secret-pw"
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	st.URL, st.ConnectTimeout = withPassword(t, proxy.URL(st.URL), password), time.Second
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	st.Wait, st.Logger = 30*time.Second, logger
	proxy.Down()

	type opened struct {
		db  *pgdb.DB
		err error
	}
	done := make(chan opened, 1)
	go func() {
		db, err := pgdb.Open(testContext(t), st, pgdb.Schema{Name: "notes", Migrations: notes()})
		done <- opened{db, err}
	}()
	// Two attempts, each logged, while Open goes on waiting.
	warned := func() int {
		n := 0
		for _, line := range logs.Lines() {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "database not reachable yet") {
				n++
			}
		}
		return n
	}
	for wait := time.Now(); warned() < 2 && time.Since(wait) < 10*time.Second; {
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case o := <-done:
		t.Fatalf("Open with the database away = %v, %v; want it to wait", o.db, o.err)
	default:
	}
	if n := warned(); n < 2 || !strings.Contains(logs.String(), ":xxxxx@") || strings.Contains(logs.String(), password) {
		t.Errorf("log while waiting (%d attempts logged at Warn, want 2 or more, the password hidden):\n%s", n, logs)
	}
	proxy.Up()
	var o opened
	select {
	case o = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Open did not return within 15 s of the database's return")
	}
	if o.err != nil {
		t.Fatalf("Open once the database is back = %v, want it open", o.err)
	}
	defer o.db.Close()
	if got := count(t, o.db, `SELECT count(*) FROM notes`); got != 1 {
		t.Errorf("notes has %d rows, want 1: the schema was not made", got)
	}
	if !strings.Contains(logs.String(), "database reached") {
		t.Errorf("log once reached:\n%s\nwant a line saying so", logs)
	}
	t.Logf("log:\n%s", logs)
}

// TestOpenGivesUp: a database that does not answer within Settings.Wait
// fails Open after that long, saying how many attempts it made; with Wait
// 0, at the first; and when the context ends first, with the context's
// error. None of the errors shows the password.
func TestOpenGivesUp(t *testing.T) {
	const password = "G1ve-Up-Secret"
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	st.URL, st.ConnectTimeout = withPassword(t, proxy.URL(st.URL), password), time.Second
	proxy.Down()
	schema := pgdb.Schema{Name: "notes", Migrations: notes()}

	st.Wait = 700 * time.Millisecond
	start := time.Now()
	_, err := pgdb.Open(testContext(t), st, schema)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer after") || !strings.Contains(err.Error(), "-database-wait 700ms") ||
		strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), ":xxxxx@") {
		t.Errorf("Open with the database away for longer than Wait = %v; want it to say it gave up waiting, the password hidden", err)
	}
	if took < st.Wait || took > st.Wait+5*time.Second {
		t.Errorf("Open gave up after %v, want a little over %v", took, st.Wait)
	}
	t.Log(err)

	st.Wait = 0
	start = time.Now()
	_, err = pgdb.Open(testContext(t), st, schema)
	if err == nil || strings.Contains(err.Error(), "no answer after") || time.Since(start) > 3*time.Second {
		t.Errorf("Open with Wait 0 = %v after %v, want the first attempt's error at once", err, time.Since(start))
	}

	st.Wait = time.Minute
	ctx, cancel := context.WithTimeout(testContext(t), 500*time.Millisecond)
	defer cancel()
	_, err = pgdb.Open(ctx, st, schema)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "the last attempt") || strings.Contains(err.Error(), password) {
		t.Errorf("Open with a context that ends while it waits = %v, want the context's error with the last attempt's", err)
	}
}

// TestOpenRefusedFailsAtOnce: a login that the server refuses for a
// reason retrying cannot fix (a user it does not know, SQLSTATE 28000; a
// database it does not have, 3D000) fails Open at once, however long
// Wait is, saying what to check and without the password.
func TestOpenRefusedFailsAtOnce(t *testing.T) {
	const password = "Refu5ed-Secret"
	base, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	noUser := *base
	noUser.User = url.UserPassword("bookshop_no_such_user", password)
	noDatabase := *base
	noDatabase.User = url.UserPassword(base.User.Username(), password)
	noDatabase.Path = "/bookshop_no_such_database"
	for _, tc := range []struct {
		name, url, code string
	}{
		{"a user the server does not know", noUser.String(), "28000"},
		{"a database the server does not have", noDatabase.String(), "3D000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := logtest.TextLogger(slog.LevelInfo)
			st := pgdb.DefaultSettings()
			st.URL, st.Wait, st.Logger = tc.url, time.Minute, logger
			start := time.Now()
			_, err := pgdb.Open(testContext(t), st, pgdb.Schema{Name: "notes", Migrations: notes()})
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Open took %v, want it to fail at once", took)
			}
			if err == nil || !strings.Contains(err.Error(), "refuses the login (SQLSTATE "+tc.code+")") || !strings.Contains(err.Error(), "check the user, password and database name") ||
				strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), ":xxxxx@") {
				t.Errorf("Open = %v; want a refusal with SQLSTATE %s, saying what to check, the password hidden", err, tc.code)
			}
			if strings.Contains(logs.String(), "not reachable yet") {
				t.Errorf("Open tried again:\n%s", logs)
			}
			t.Log(err)
		})
	}
}

// TestOpenUntrustedFailsAtOnce: a server whose TLS certificate the URL's
// sslmode cannot verify (here one signed by no authority this machine
// trusts) fails Open at once, however long Wait is, saying what to check.
// The server answers PostgreSQL's request for TLS ('S') and then shakes
// hands with crypto/tls, as a PostgreSQL server with ssl=on does.
func TestOpenUntrustedFailsAtOnce(t *testing.T) {
	untrusted := httptest.NewTLSServer(nil) // for its certificate, for 127.0.0.1
	cert := untrusted.TLS.Certificates[0]
	untrusted.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var handshakes atomic.Int32
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				var req [8]byte // length 8, then the SSLRequest code 80877103
				if _, err := io.ReadFull(conn, req[:]); err != nil || binary.BigEndian.Uint32(req[4:]) != 80877103 {
					return
				}
				if _, err := conn.Write([]byte{'S'}); err != nil {
					return
				}
				handshakes.Add(1)
				tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
			}()
		}
	}()

	// The certificate as a root the client trusts: for the hostname case.
	rootCert := filepath.Join(t.TempDir(), "root.crt")
	if err := os.WriteFile(rootCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(lis.Addr().String())
	for _, tc := range []struct{ name, hostPort, query string }{
		{"signed by an authority not trusted", lis.Addr().String(), "sslmode=verify-full"},
		{"trusted, but for another host name", net.JoinHostPort("localhost", port), "sslmode=verify-full&sslrootcert=" + url.QueryEscape(rootCert)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := handshakes.Load()
			logger, logs := logtest.TextLogger(slog.LevelInfo)
			st := pgdb.DefaultSettings()
			st.URL = "postgres://bookshop:Untru5ted-Secret@" + tc.hostPort + "/bookshop?" + tc.query
			st.Wait, st.Logger = time.Minute, logger
			start := time.Now()
			_, err := pgdb.Open(testContext(t), st, pgdb.Schema{Name: "notes", Migrations: notes()})
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Open took %v, want it to fail at once", took)
			}
			if err == nil || !strings.Contains(err.Error(), "TLS certificate cannot be verified") || !strings.Contains(err.Error(), "sslrootcert") ||
				strings.Contains(err.Error(), "Untru5ted-Secret") {
				t.Errorf("Open = %v; want a certificate that cannot be verified, saying what to check, the password hidden", err)
			}
			if handshakes.Load() == before {
				t.Error("Open never reached the TLS handshake")
			}
			if strings.Contains(logs.String(), "not reachable yet") {
				t.Errorf("Open tried again:\n%s", logs)
			}
			t.Log(err)
		})
	}
}
