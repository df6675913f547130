package pgdb_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestUnreachable checks which errors say that the database could not be
// reached or the connection was lost, and what Classify makes of them. No
// server is needed.
func TestUnreachable(t *testing.T) {
	notFound := bookshop.Errorf(bookshop.NotFound, "no note 7")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"an error of the service's own", errors.New("no"), false},
		{"a connection exception (08006)", &pgconn.PgError{Code: "08006"}, true},
		{"a protocol violation (08P01)", fmt.Errorf("read: %w", &pgconn.PgError{Code: "08P01"}), true},
		{"an administrator's termination (57P01)", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}, true},
		{"a crash of the server (57P02)", &pgconn.PgError{Code: "57P02"}, true},
		{"a server starting up (57P03)", &pgconn.PgError{Code: "57P03"}, true},
		{"a statement cancelled (57014)", &pgconn.PgError{Code: "57014"}, false},
		{"a unique violation (23505)", &pgconn.PgError{Code: "23505"}, false},
		{"a deadlock (40P01)", &pgconn.PgError{Code: "40P01"}, false},
		{"a connection closed under a statement", fmt.Errorf("read stock: %w", io.ErrUnexpectedEOF), true},
		{"a connection reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{"a connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"a broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"a connection pgx closed", fmt.Errorf("begin: %w", pgconn.ErrConnClosed), true},
		{"the caller's cancellation", fmt.Errorf("read: %w", context.Canceled), false},
		{"the caller's deadline", fmt.Errorf("read: %w", context.DeadlineExceeded), false},
		{"a rule's refusal", notFound, false},
	} {
		if got := pgdb.Unreachable(tc.err); got != tc.want {
			t.Errorf("Unreachable(%s: %v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
		got := pgdb.Classify(tc.err)
		switch {
		case tc.want && bookshop.ErrorCode(got) != bookshop.Unavailable:
			t.Errorf("Classify(%s) = %v (%s), want Unavailable", tc.name, got, bookshop.ErrorCode(got))
		case tc.want && !errors.Is(got, tc.err):
			t.Errorf("Classify(%s) = %v, which does not wrap %v", tc.name, got, tc.err)
		case !tc.want && got != tc.err:
			t.Errorf("Classify(%s) = %v, want %v as it is", tc.name, got, tc.err)
		}
	}
	// A rule's refusal keeps its kind, even with a lost connection in its
	// chain.
	both := fmt.Errorf("%w: %w", notFound, io.ErrUnexpectedEOF)
	if got := pgdb.Classify(both); got != both {
		t.Errorf("Classify(a refusal over a lost connection) = %v, want it as it is", got)
	}
}

// wantUnavailable fails tb unless err is the kernel's Unavailable, which
// a gRPC caller receives as UNAVAILABLE, with a message that says to
// try again and no internal detail.
func wantUnavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	if code := bookshop.ErrorCode(err); code != bookshop.Unavailable {
		tb.Errorf("%s = %v (%s), want Unavailable", what, err, code)
		return
	}
	st := status.Convert(rpc.ToStatus(context.Background(), slog.New(slog.DiscardHandler), "/test", err))
	if st.Code() != codes.Unavailable || st.Message() != "the database cannot be reached right now: try again shortly" {
		tb.Errorf("%s as gRPC = %v %q, want UNAVAILABLE saying to try again", what, st.Code(), st.Message())
	}
}

// TestUnavailableThroughProxy takes the database away, through a proxy,
// from a pool that was using it, and from a statement under way: every
// change (Tx), every read classified, and Ping, fail as Unavailable; with
// the database back, they succeed again.
func TestUnavailableThroughProxy(t *testing.T) {
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	st.URL, st.ConnectTimeout = proxy.URL(st.URL), time.Second
	db := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	ctx := testContext(t)
	insert := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO notes (text) VALUES ('x')`)
		return err
	}
	read := func() error {
		var n int
		return pgdb.Classify(db.Pool.QueryRow(ctx, `SELECT count(*) FROM notes`).Scan(&n))
	}
	if err := db.Tx(ctx, insert); err != nil {
		t.Fatal(err)
	}

	// A statement under way when the database goes.
	running := make(chan error, 1)
	go func() {
		running <- db.Tx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT pg_sleep(30)`)
			return err
		})
	}()
	waitFor(t, db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'SELECT pg_sleep(30)'`)
	proxy.Down()
	select {
	case err := <-running:
		wantUnavailable(t, "Tx with its statement cut off", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Tx with its statement cut off: no answer within 10s")
	}

	// Changes and reads while it is away: the connections the pool kept
	// are dead, and new ones are refused.
	for i := range 3 {
		wantUnavailable(t, fmt.Sprintf("Tx %d without the database", i), db.Tx(ctx, insert))
		wantUnavailable(t, fmt.Sprintf("a read %d without the database", i), read())
	}
	wantUnavailable(t, "Ping without the database", db.Ping(ctx))

	proxy.Up()
	if err := db.Tx(ctx, insert); err != nil {
		t.Errorf("Tx once the database is back = %v, want nil", err)
	}
	if err := read(); err != nil {
		t.Errorf("a read once the database is back = %v, want nil", err)
	}
}

// TestUnavailableAdminShutdown terminates the session of a statement
// under way, as an administrator or a server shutting down does (57P01):
// the change fails as Unavailable, and the next succeeds on a new
// connection.
func TestUnavailableAdminShutdown(t *testing.T) {
	db := open(t, pgtest.Settings(t), pgdb.Schema{Name: "notes", Migrations: notes()})
	ctx := testContext(t)
	running := make(chan error, 1)
	go func() {
		running <- db.Tx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT pg_sleep(30)`)
			return err
		})
	}()
	const sleeping = `FROM pg_stat_activity WHERE datname = current_database() AND query = 'SELECT pg_sleep(30)'`
	waitFor(t, db, `SELECT count(*) `+sleeping)
	if _, err := db.Pool.Exec(ctx, `SELECT pg_terminate_backend(pid) `+sleeping); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-running:
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); !ok || pgErr.Code != "57P01" {
			t.Errorf("Tx of a terminated session = %v, want SQLSTATE 57P01", err)
		}
		wantUnavailable(t, "Tx of a terminated session", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Tx of a terminated session: no answer within 10s")
	}
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO notes (text) VALUES ('after')`)
		return err
	}); err != nil {
		t.Errorf("Tx after the termination = %v, want nil", err)
	}
}

// TestNotUnavailable checks what is not the database's absence: the
// caller's own cancellation stays a context error, a unique violation and
// fn's own refusal keep theirs.
func TestNotUnavailable(t *testing.T) {
	db := open(t, pgtest.Settings(t), pgdb.Schema{Name: "notes", Migrations: notes()})
	ctx, cancel := context.WithTimeout(testContext(t), 200*time.Millisecond)
	defer cancel()
	err := db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT pg_sleep(30)`)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) || bookshop.ErrorCode(err) == bookshop.Unavailable {
		t.Errorf("Tx past the caller's deadline = %v, want context.DeadlineExceeded", err)
	}
	err = db.Tx(testContext(t), func(tx pgx.Tx) error {
		_, err := tx.Exec(testContext(t), `INSERT INTO notes (id, text) VALUES (1, 'again')`)
		return err
	})
	if !pgdb.UniqueViolation(err, "notes_pkey") || bookshop.ErrorCode(err) != bookshop.Internal {
		t.Errorf("Tx of a duplicate = %v, want the unique violation", err)
	}
	refused := bookshop.Errorf(bookshop.Conflict, "no")
	if err := db.Tx(testContext(t), func(pgx.Tx) error { return refused }); err != refused {
		t.Errorf("Tx(fn refusing) = %v, want fn's error", err)
	}
}

// waitFor waits until query, a count, counts at least one.
func waitFor(tb testing.TB, db *pgdb.DB, query string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for count(tb, db, query) == 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: none within 10s", query)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
