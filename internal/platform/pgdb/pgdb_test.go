package pgdb_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// notes are the migrations of the tests' schema. The second inserts a
// row: applied twice, it would leave two.
func notes() fstest.MapFS {
	return fstest.MapFS{
		"0001_notes.sql":   {Data: []byte(`CREATE TABLE notes (id bigserial PRIMARY KEY, text text NOT NULL); CREATE TABLE counter (n bigint NOT NULL);`)},
		"0002_welcome.sql": {Data: []byte(`INSERT INTO notes (text) VALUES ('welcome'); INSERT INTO counter VALUES (0);`)},
	}
}

func open(tb testing.TB, st pgdb.Settings, s pgdb.Schema) *pgdb.DB {
	tb.Helper()
	db, err := pgdb.Open(testContext(tb), st, s)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func count(tb testing.TB, db *pgdb.DB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.Pool.QueryRow(testContext(tb), query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestOpenMigrates opens a new database: the schema is made, with the
// migrations' tables in it and each recorded; the unqualified names of
// the service's queries are its tables. Opened again, nothing more is
// applied; with a migration more, only it is.
func TestOpenMigrates(t *testing.T) {
	st := pgtest.Settings(t)
	ms := notes()
	db := open(t, st, pgdb.Schema{Name: "notes", Migrations: ms})
	if got := count(t, db, `SELECT count(*) FROM notes`); got != 1 {
		t.Errorf("notes has %d rows, want 1 (the welcome)", got)
	}
	if got := count(t, db, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'notes'`); got != 3 {
		t.Errorf("schema notes has %d tables, want 3 (notes, counter, schema_migrations)", got)
	}
	if got := count(t, db, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`); got != 0 {
		t.Errorf("schema public has %d tables, want none", got)
	}
	if got := count(t, db, `SELECT max(version) FROM schema_migrations`); got != 2 {
		t.Errorf("schema version %d, want 2", got)
	}
	db.Close()

	db = open(t, st, pgdb.Schema{Name: "notes", Migrations: ms})
	if got := count(t, db, `SELECT count(*) FROM notes`); got != 1 {
		t.Errorf("opened again, notes has %d rows, want 1", got)
	}
	db.Close()

	ms["0003_more.sql"] = &fstest.MapFile{Data: []byte(`ALTER TABLE notes ADD COLUMN done boolean NOT NULL DEFAULT false; INSERT INTO notes (text) VALUES ('v3');`)}
	db = open(t, st, pgdb.Schema{Name: "notes", Migrations: ms})
	if got := count(t, db, `SELECT count(*) FROM notes WHERE NOT done`); got != 2 {
		t.Errorf("after 0003, notes has %d rows, want 2", got)
	}
	if got := count(t, db, `SELECT count(*) FROM schema_migrations`); got != 3 {
		t.Errorf("schema_migrations has %d rows, want 3", got)
	}
}

// TestOpenConcurrently starts ten replicas at once on a new database: all
// of them open it, and each migration is applied once.
func TestOpenConcurrently(t *testing.T) {
	st := pgtest.Settings(t)
	st.MaxConns = 2
	const replicas = 10
	var wg sync.WaitGroup
	dbs := make([]*pgdb.DB, replicas)
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() {
			dbs[i], errs[i] = pgdb.Open(testContext(t), st, pgdb.Schema{Name: "notes", Migrations: notes()})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: Open: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if got := count(t, dbs[0], `SELECT count(*) FROM notes`); got != 1 {
		t.Errorf("notes has %d rows, want 1: migration 0002 was applied %d times", got, got)
	}
	if got := count(t, dbs[0], `SELECT count(*) FROM schema_migrations`); got != 2 {
		t.Errorf("schema_migrations has %d rows, want 2", got)
	}
}

// TestOpenRefusesNewerSchema opens, with a binary that knows one
// migration, a schema that a newer one took to version 2: Open fails,
// naming both versions, and writes nothing.
func TestOpenRefusesNewerSchema(t *testing.T) {
	st := pgtest.Settings(t)
	open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()}).Close()
	older := notes()
	delete(older, "0002_welcome.sql")
	_, err := pgdb.Open(testContext(t), st, pgdb.Schema{Name: "notes", Migrations: older})
	if err == nil || !strings.Contains(err.Error(), "version 2, newer than this binary knows (1)") {
		t.Errorf("Open with an older binary = %v, want a refusal naming versions 2 and 1", err)
	}
}

// TestOpenRefusesForeignSchema opens a schema that another program's
// tables are in: Open refuses to write into it.
func TestOpenRefusesForeignSchema(t *testing.T) {
	st := pgtest.Settings(t)
	other := open(t, st, pgdb.Schema{Name: "other", Migrations: notes()})
	if _, err := other.Pool.Exec(testContext(t), `CREATE SCHEMA notes; CREATE TABLE notes.theirs (x int)`); err != nil {
		t.Fatal(err)
	}
	_, err := pgdb.Open(testContext(t), st, pgdb.Schema{Name: "notes", Migrations: notes()})
	if err == nil || !strings.Contains(err.Error(), "not a Bookshop schema: it has tables (theirs)") {
		t.Errorf("Open(a schema of another program's) = %v, want a refusal", err)
	}
}

// TestSeed fills a new schema once, not at the next start. A seed that
// fails leaves the schema empty, made again with its seed at the next.
func TestSeed(t *testing.T) {
	st := pgtest.Settings(t)
	seeded := 0
	seed := func(ctx context.Context, tx pgx.Tx) error {
		seeded++
		_, err := tx.Exec(ctx, `INSERT INTO notes (text) VALUES ('seed')`)
		return err
	}
	failing := func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO notes (text) VALUES ('half a seed')`); err != nil {
			return err
		}
		return errors.New("out of seeds")
	}
	if _, err := pgdb.Open(testContext(t), st, pgdb.Schema{Name: "notes", Migrations: notes(), Seed: failing}); err == nil || !strings.Contains(err.Error(), "out of seeds") {
		t.Fatalf("Open with a failing seed = %v, want its error", err)
	}
	db := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes(), Seed: seed})
	db.Close()
	db = open(t, st, pgdb.Schema{Name: "notes", Migrations: notes(), Seed: seed})
	if seeded != 1 {
		t.Errorf("seeded %d times, want 1", seeded)
	}
	if got := count(t, db, `SELECT count(*) FROM notes`); got != 2 {
		t.Errorf("notes has %d rows, want 2 (the welcome and the seed)", got)
	}
}

// TestTx runs read-then-write transactions, the kind SQLite's one writer
// keeps apart, at once from two pools ("replicas") on one database, each
// locking the row it reads (FOR UPDATE): no increment is lost.
func TestTx(t *testing.T) {
	st := pgtest.Settings(t)
	a := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	b := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	const workers, each = 16, 10
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		attempts int
		failures []error
	)
	for w := range workers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Go(func() {
			for range each {
				err := db.Tx(testContext(t), func(tx pgx.Tx) error {
					mu.Lock()
					attempts++
					mu.Unlock()
					var n int
					if err := tx.QueryRow(testContext(t), `SELECT n FROM counter FOR UPDATE`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec(testContext(t), `UPDATE counter SET n = $1`, n+1)
					return err
				})
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, err := range failures {
		t.Errorf("Tx: %v", err)
	}
	if got := count(t, a, `SELECT n FROM counter`); got != workers*each-len(failures) {
		t.Errorf("counter = %d, want %d: increments were lost", got, workers*each-len(failures))
	}
	t.Logf("%d increments in %d attempts", workers*each, attempts)

	// A deadlock is run again: two transactions lock two rows in
	// opposite orders, and one of them gives way.
	if _, err := a.Pool.Exec(testContext(t), `INSERT INTO notes (text) VALUES ('second')`); err != nil {
		t.Fatal(err)
	}
	var deadlocks atomic.Int32
	var locked sync.WaitGroup
	locked.Add(2)
	wg = sync.WaitGroup{}
	for i, db := range []*pgdb.DB{a, b} {
		wg.Go(func() {
			first := true
			err := db.Tx(testContext(t), func(tx pgx.Tx) error {
				order := []string{"ASC", "DESC"}[i]
				if first {
					// The first attempt takes one row, waits until the other
					// has taken the other, then asks for it.
					first = false
					if _, err := tx.Exec(testContext(t), `SELECT id FROM notes ORDER BY id `+order+` LIMIT 1 FOR UPDATE`); err != nil {
						return err
					}
					locked.Done()
					locked.Wait()
				}
				_, err := tx.Exec(testContext(t), `SELECT id FROM notes ORDER BY id `+order+` FOR UPDATE`)
				if pgdb.Retryable(err) {
					deadlocks.Add(1)
				}
				return err
			})
			if err != nil {
				t.Errorf("Tx in a deadlock: %v, want it run again", err)
			}
		})
	}
	wg.Wait()
	if deadlocks.Load() != 1 {
		t.Errorf("%d deadlocks, want 1", deadlocks.Load())
	}

	// fn's own error is returned as it is, and not retried.
	mine := errors.New("mine")
	runs := 0
	if err := a.Tx(testContext(t), func(pgx.Tx) error { runs++; return mine }); err != mine || runs != 1 {
		t.Errorf("Tx(fn failing) = %v after %d runs, want fn's error after 1", err, runs)
	}
}

// TestRedact checks that no form of a connection string keeps its
// password.
func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://shop:s3cret@db:5432/bookshop?sslmode=require", "postgres://shop:xxxxx@db:5432/bookshop?sslmode=require"},
		{"postgresql://shop@db/bookshop", "postgresql://shop@db/bookshop"},
		{"postgres://shop:p%40ss@db/bookshop?password=s3cret&sslmode=disable", "postgres://shop:xxxxx@db/bookshop?password=xxxxx&sslmode=disable"},
		{"postgres://shop:s3cret@db:port/bookshop", "postgres://shop:xxxxx@db:port/bookshop"},
		{"postgres://shop:s3c@ret@db/bookshop", "postgres://shop:xxxxx@db/bookshop"},
		// Schemes pgx does not take as a URL (and so refuses), and
		// passwords with a #, / or ? after an @, not percent-encoded.
		{"POSTGRES://shop:s3cret@db/bookshop", "postgres://shop:xxxxx@db/bookshop"},
		{" postgresql://shop:s3cret@db/bookshop", "postgresql://shop:xxxxx@db/bookshop"},
		{"Postgres://shop:s3cret@db:port/bookshop", "Postgres://shop:xxxxx@db:port/bookshop"},
		{"postgres://shop:s3c@3#ret!@db:5432/bookshop", "postgres://shop:xxxxx@db:5432/bookshop"},
		{"postgres://shop:s3@c/ret#1@db/bookshop", "postgres://shop:xxxxx@db/bookshop"},
		{"postgres://shop:1/s3cret@db/bookshop", "postgres://shop:xxxxx@db/bookshop"},
		{"postgres://shop:s3@c?ret@db/bookshop", "postgres://shop:xxxxx@db/bookshop"},
		{"postgres://shop:1?s3cret@db/bookshop", "postgres://shop:xxxxx@db/bookshop"},
		{"postgres://shop:s3cret@db/my%40shop?application_name=a@b", "postgres://shop:xxxxx@db/my%40shop?application_name=a@b"},
		{"host=db user=shop password=s3cret dbname=bookshop", "host=db user=shop password=xxxxx dbname=bookshop"},
		{"host=db password = 's3 cret' dbname=bookshop", "host=db password = xxxxx dbname=bookshop"},
		{"", ""},
	} {
		got := pgdb.Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3") || strings.Contains(got, "ret") {
			t.Errorf("Redact(%q) = %q: the password shows", tc.in, got)
		}
	}
}

// TestOpenHidesPassword opens databases that cannot be had, with a
// password in each URL, waiting a moment for each: no error shows it, nor
// any line logged while waiting. No server is needed.
func TestOpenHidesPassword(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := lis.Addr().String()
	lis.Close()
	const password = "Sup3rSecretPassw0rd"
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	st := pgdb.DefaultSettings()
	st.ConnectTimeout, st.Wait, st.Logger = time.Second, 300*time.Millisecond, logger
	for _, u := range []string{
		fmt.Sprintf("postgres://shop:%s@%s/bookshop", password, closed),
		fmt.Sprintf("postgres://shop@%s/bookshop?password=%s", closed, password),
		fmt.Sprintf("host=127.0.0.1 port=%s user=shop password=%s", closed[strings.LastIndex(closed, ":")+1:], password),
		fmt.Sprintf("postgres://shop:%s@%s:notaport/bookshop", password, closed),
		fmt.Sprintf("postgres://shop:%s@[::1/bookshop", password),
		fmt.Sprintf("host=127.0.0.1 password='%s", password),
	} {
		st.URL = u
		_, err := pgdb.Open(testContext(t), st, pgdb.Schema{Name: "notes", Migrations: notes()})
		if err == nil {
			t.Errorf("Open(%s) = nil, want an error", pgdb.Redact(u))
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open(%s) = %q: the error shows the password", pgdb.Redact(u), err)
		}
		t.Logf("%v", err)
	}
	// A password with an @ and then a #, / or ? that are not
	// percent-encoded: url.Parse, and pgx, would take what follows for the
	// host, to be quoted in every error of connecting.
	for _, u := range []string{
		fmt.Sprintf("postgres://shop:Sup3r@Secret#horse!@%s/bookshop", closed),
		fmt.Sprintf("postgres://shop:Sup3r@Secret/horse#1@%s/bookshop", closed),
		fmt.Sprintf("postgres://shop:Sup3r@Secret?horse@%s/bookshop", closed),
		fmt.Sprintf("postgres://shop:1?Secrethorse@%s/bookshop", closed),
	} {
		st.URL = u
		_, err := pgdb.Open(testContext(t), st, pgdb.Schema{Name: "notes", Migrations: notes()})
		if err == nil || !strings.Contains(err.Error(), "percent-encode") || strings.Contains(err.Error(), "Secret") || strings.Contains(err.Error(), "horse") {
			t.Errorf("Open(%s) = %v, want an error that says to percent-encode the password, without it", pgdb.Redact(u), err)
		}
	}
	if !strings.Contains(logs.String(), "database not reachable yet") || strings.Contains(logs.String(), password) || strings.Contains(logs.String(), "horse") {
		t.Errorf("the log of the attempts shows the password, or has no attempt:\n%s", logs)
	}
}

// TestPing checks readiness through a proxy that takes the database away
// and gives it back.
func TestPing(t *testing.T) {
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	st.URL = proxy.URL(st.URL)
	st.ConnectTimeout = time.Second
	db := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	if err := db.Ping(testContext(t)); err != nil {
		t.Fatalf("Ping = %v, want nil", err)
	}
	// Every pooled connection busy: the database answers all the same.
	var held []*pgxpool.Conn
	for range db.Pool.Config().MaxConns {
		c, err := db.Pool.Acquire(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	busy, cancel := context.WithTimeout(testContext(t), time.Second)
	if err := db.Ping(busy); err != nil {
		t.Errorf("Ping with every pooled connection busy = %v, want nil: a busy service is not a down one", err)
	}
	cancel()
	for _, c := range held {
		c.Release()
	}
	proxy.Down()
	if err := db.Ping(testContext(t)); err == nil {
		t.Error("Ping with the database away = nil, want an error")
	}
	proxy.Up()
	if err := db.Ping(testContext(t)); err != nil {
		t.Errorf("Ping once it is back = %v, want nil", err)
	}
}

// TestPingSlowToOpen checks readiness against a database that takes
// longer to open a connection than a check lasts, as a busy one does:
// checks of 50 ms, 50 ms apart, of a database that opens a connection in
// 300 ms find it up once the one opening that the first check began has
// ended (where before each check gave its opening up and the next began
// again, and the service stayed NOT_SERVING), and leave the pool as it
// was: slow is not lost. A check keeps its deadline while the opening
// goes on; Close stops it.
func TestPingSlowToOpen(t *testing.T) {
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	st.URL = proxy.URL(st.URL)
	st.ConnectTimeout = 5 * time.Second
	db := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	if _, err := db.Pool.Exec(testContext(t), "SELECT 1"); err != nil { // a pooled connection, idle
		t.Fatal(err)
	}
	proxy.Delay(300 * time.Millisecond)

	check := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(testContext(t), d)
		defer cancel()
		return db.Ping(ctx)
	}
	pooled := db.Pool.Stat().TotalConns()
	before, start := proxy.Accepted(), time.Now()
	err := check(50 * time.Millisecond)
	for err != nil && time.Since(start) < 5*time.Second {
		time.Sleep(50 * time.Millisecond)
		err = check(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("checks of 50 ms, of a database that opens a connection in 300 ms, still %v after 5 s; want nil: slow is not down", err)
	}
	t.Logf("found up %v after the first check", time.Since(start).Round(time.Millisecond))
	// One opening, one connection (the URL has sslmode=disable: no
	// second try without TLS).
	if n := proxy.Accepted() - before; n != 1 {
		t.Errorf("the checks opened %d connections, want 1: each gave its opening up", n)
	}
	if n := db.Pool.Stat().TotalConns(); n != pooled || n == 0 {
		t.Errorf("the pool holds %d connections after the checks, %d before; want them kept: a slow opening is no reason to reset it", n, pooled)
	}
	// The connection is open: the next checks ask on it, and open none.
	for i := range 3 {
		if err := check(time.Second); err != nil {
			t.Errorf("check %d on the open connection = %v, want nil", i+1, err)
		}
	}
	if n := proxy.Accepted() - before; n != 1 {
		t.Errorf("after three more checks, %d connections opened, want 1", n)
	}

	proxy.Down()
	if err := check(time.Second); err == nil {
		t.Error("Ping with the database away = nil, want an error")
	}
	proxy.Up()
	proxy.Delay(2 * time.Second)
	before = proxy.Accepted()
	if err := check(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a check of 50 ms, of a database that opens a connection in 2 s = %v, want its deadline", err)
	}
	for wait := time.Now(); proxy.Accepted() == before; time.Sleep(10 * time.Millisecond) {
		if time.Since(wait) > 5*time.Second {
			t.Fatal("the check's opening has not reached the proxy within 5 s")
		}
	}
	start = time.Now()
	db.Close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close, while a ping's connection was opening, took %v: it waited for the opening", took)
	}
	if err := check(time.Second); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Ping after Close = %v, want an error that says it is closed", err)
	}
}

// TestOpenRefusesSchemaName checks the names a schema may have.
func TestOpenRefusesSchemaName(t *testing.T) {
	for _, name := range []string{"", "Inventory", "pg_catalog", "1st", "a-b", "a;DROP", strings.Repeat("a", 64)} {
		_, err := pgdb.Open(testContext(t), pgdb.Settings{URL: "postgres://localhost/x"}, pgdb.Schema{Name: name, Migrations: notes()})
		if err == nil || !strings.Contains(err.Error(), "schema name") {
			t.Errorf("Open(schema %q) = %v, want a refusal of the name", name, err)
		}
	}
}

// TestUniqueViolation inserts a row twice: the second is the unique
// constraint's refusal, by its name.
func TestUniqueViolation(t *testing.T) {
	db := open(t, pgtest.Settings(t), pgdb.Schema{Name: "notes", Migrations: notes()})
	_, err := db.Pool.Exec(testContext(t), `INSERT INTO notes (id, text) VALUES (1, 'again')`)
	if !pgdb.UniqueViolation(err, "notes_pkey") || !pgdb.UniqueViolation(err, "") || pgdb.UniqueViolation(err, "other") {
		t.Errorf("UniqueViolation(%v) is not notes_pkey's", err)
	}
	if pgdb.UniqueViolation(errors.New("no"), "") {
		t.Error("UniqueViolation(another error) = true")
	}
}

// TestTxStoppedWhileRetrying ends the context between two attempts of a
// transaction that PostgreSQL gave up (a serialization failure): Tx
// returns the context's error, wrapping the last attempt's, which
// Classify leaves as it is and a gRPC edge answers CANCELLED, not an
// internal error.
func TestTxStoppedWhileRetrying(t *testing.T) {
	db := open(t, pgtest.Settings(t), pgdb.Schema{Name: "notes", Migrations: notes()})
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	runs := 0
	err := db.Tx(ctx, func(pgx.Tx) error {
		runs++
		cancel() // the caller goes away while this attempt fails
		return &pgconn.PgError{Severity: "ERROR", Code: "40001", Message: "could not serialize access due to concurrent update"}
	})
	if runs != 1 {
		t.Errorf("fn ran %d times, want 1: the context had ended", runs)
	}
	if !errors.Is(err, context.Canceled) || !pgdb.Retryable(err) {
		t.Fatalf("Tx = %v, want the context's error wrapping the serialization failure", err)
	}
	got := pgdb.Classify(err)
	if got != err {
		t.Errorf("Classify(%v) = %v, want it as it is", err, got)
	}
	if code := status.Code(rpc.ToStatus(ctx, slog.New(slog.DiscardHandler), "/test", got)); code != codes.Canceled {
		t.Errorf("Tx's error as gRPC = %v, want CANCELLED", code)
	}
	t.Log(err)
}

// TestTwoTrips runs transactions of two round trips: concurrent
// increments of one row, from two pools, each locking it in the first
// trip and writing it in the second, lose none; a write that refuses,
// a read callback that fails and a statement of the second trip that
// fails each roll the whole back (their first trip's writes too), and
// leave the connection fit for the next transaction.
func TestTwoTrips(t *testing.T) {
	st := pgtest.Settings(t)
	a := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	b := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	const workers, each = 16, 10
	var wg sync.WaitGroup
	for w := range workers {
		db := []*pgdb.DB{a, b}[w%2]
		wg.Go(func() {
			for range each {
				var n int
				err := db.TwoTrips(testContext(t), func(b *pgx.Batch) {
					b.Queue(`SELECT n FROM counter FOR UPDATE`).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
				}, func(b *pgx.Batch) error {
					b.Queue(`UPDATE counter SET n = $1`, n+1)
					return nil
				})
				if err != nil {
					t.Errorf("TwoTrips: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if got := count(t, a, `SELECT n FROM counter`); got != workers*each {
		t.Errorf("counter = %d, want %d: increments were lost", got, workers*each)
	}

	notes := func() int { return count(t, a, `SELECT count(*) FROM notes`) }
	before := notes()
	mine := errors.New("mine")
	insert := func(b *pgx.Batch) { b.Queue(`INSERT INTO notes (text) VALUES ('first trip')`) }
	if err := a.TwoTrips(testContext(t), insert, func(*pgx.Batch) error { return mine }); err != mine {
		t.Errorf("TwoTrips(write refusing) = %v, want its error", err)
	}
	wrote := false
	err := a.TwoTrips(testContext(t), func(b *pgx.Batch) {
		insert(b)
		b.Queue(`SELECT 1`).Exec(func(pgconn.CommandTag) error { return mine })
	}, func(*pgx.Batch) error { wrote = true; return nil })
	if !errors.Is(err, mine) || wrote {
		t.Errorf("TwoTrips(read callback failing) = %v, write called %v; want its error, write not called", err, wrote)
	}
	err = a.TwoTrips(testContext(t), insert, func(b *pgx.Batch) error {
		b.Queue(`INSERT INTO notes (text) VALUES ('second trip')`)
		b.Queue(`INSERT INTO notes (id, text) VALUES (1, 'taken')`)
		return nil
	})
	if !pgdb.UniqueViolation(err, "") {
		t.Errorf("TwoTrips(a second trip's statement failing) = %v, want its unique violation", err)
	}
	if got := notes(); got != before {
		t.Errorf("notes = %d after three transactions rolled back, want %d", got, before)
	}
	// The pools' connections are fit: a transaction on each commits.
	for _, db := range []*pgdb.DB{a, b} {
		if err := db.TwoTrips(testContext(t), insert, func(*pgx.Batch) error { return nil }); err != nil {
			t.Errorf("TwoTrips after the failures: %v", err)
		}
	}
	if got := notes(); got != before+2 {
		t.Errorf("notes = %d, want %d", got, before+2)
	}
}

// TestOneTrip runs transactions of one round trip: a lock, then an
// insert guarded by a look in SQL, from many goroutines on two pools at
// once, inserts once (each statement's snapshot is taken once the lock
// before it is granted); and a statement that fails rolls back those
// before it.
func TestOneTrip(t *testing.T) {
	st := pgtest.Settings(t)
	a := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	b := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	var (
		wg       sync.WaitGroup
		inserted atomic.Int64
	)
	start := make(chan struct{})
	for w := range 16 {
		db := []*pgdb.DB{a, b}[w%2]
		wg.Go(func() {
			<-start
			err := db.OneTrip(testContext(t), func(b *pgx.Batch) {
				b.Queue(`SELECT pg_advisory_xact_lock(7, 7)`)
				// The pause widens the race the lock closes: without it,
				// every statement's snapshot, taken at once, sees no row.
				b.Queue(`INSERT INTO notes (text) SELECT 'once' FROM (SELECT pg_sleep(0.02)) AS pause
					WHERE NOT EXISTS (SELECT 1 FROM notes WHERE text = 'once')`).
					Exec(func(tag pgconn.CommandTag) error { inserted.Add(tag.RowsAffected()); return nil })
			})
			if err != nil {
				t.Errorf("OneTrip: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := count(t, a, `SELECT count(*) FROM notes WHERE text = 'once'`); got != 1 || inserted.Load() != 1 {
		t.Errorf("16 guarded inserts at once made %d rows (%d reported), want 1", got, inserted.Load())
	}

	before := count(t, a, `SELECT count(*) FROM notes`)
	err := a.OneTrip(testContext(t), func(b *pgx.Batch) {
		b.Queue(`INSERT INTO notes (text) VALUES ('rolled back')`)
		b.Queue(`INSERT INTO notes (id, text) VALUES (1, 'taken')`)
	})
	if !pgdb.UniqueViolation(err, "") {
		t.Errorf("OneTrip(a statement failing) = %v, want its unique violation", err)
	}
	if got := count(t, a, `SELECT count(*) FROM notes`); got != before {
		t.Errorf("notes = %d after a transaction rolled back, want %d", got, before)
	}
}

// TestTwoTripsEnds runs transactions of two round trips that end early:
// ctx cancelled between the trips, and a deadlock in the first trip,
// which is run again. Each leaves no transaction open and no connection
// taken from the pool.
func TestTwoTripsEnds(t *testing.T) {
	st := pgtest.Settings(t)
	db := open(t, st, pgdb.Schema{Name: "notes", Migrations: notes()})
	before := count(t, db, `SELECT count(*) FROM notes`)

	ctx, cancel := context.WithCancel(testContext(t))
	err := db.TwoTrips(ctx, func(b *pgx.Batch) {
		b.Queue(`INSERT INTO notes (text) VALUES ('cancelled')`)
	}, func(b *pgx.Batch) error {
		cancel()
		b.Queue(`INSERT INTO notes (text) VALUES ('cancelled too')`)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("TwoTrips(ctx cancelled between the trips) = %v, want context.Canceled", err)
	}
	if got := count(t, db, `SELECT count(*) FROM notes`); got != before {
		t.Errorf("notes = %d after a cancelled transaction, want %d", got, before)
	}

	// Two transactions each lock a row in their first trip, and the
	// other's in their second: one is chosen as the deadlock's victim,
	// rolled back at its commit, and run again.
	if _, err := db.Pool.Exec(testContext(t), `INSERT INTO notes (text) VALUES ('second')`); err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		locked sync.WaitGroup
		runs   atomic.Int32
	)
	locked.Add(2)
	for _, order := range []string{"ASC", "DESC"} {
		other := map[string]string{"ASC": "DESC", "DESC": "ASC"}[order]
		first := true
		wg.Go(func() {
			err := db.TwoTrips(testContext(t), func(b *pgx.Batch) {
				runs.Add(1)
				b.Queue(`SELECT id FROM notes ORDER BY id ` + order + ` LIMIT 1 FOR UPDATE`)
			}, func(b *pgx.Batch) error {
				if first {
					// Both hold their row before either asks for the other's.
					first = false
					locked.Done()
					locked.Wait()
				}
				b.Queue(`UPDATE notes SET text = text WHERE id = (SELECT id FROM notes ORDER BY id ` + other + ` LIMIT 1)`)
				b.Queue(`UPDATE counter SET n = n + 1`)
				return nil
			})
			if err != nil {
				t.Errorf("TwoTrips in a deadlock: %v, want it run again", err)
			}
		})
	}
	wg.Wait()
	if got := count(t, db, `SELECT n FROM counter`); got != 2 || runs.Load() != 3 {
		t.Errorf("counter = %d after %d runs, want 2 after 3: one deadlock, run again", got, runs.Load())
	}
	if s := db.Pool.Stat(); s.AcquiredConns() != 0 {
		t.Errorf("%d connections still taken from the pool, want 0", s.AcquiredConns())
	}
}
