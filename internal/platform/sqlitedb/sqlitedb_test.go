package sqlitedb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a database at path, closed when the test ends.
func open(tb testing.TB, path string, opts sqlitedb.Options) *sqlitedb.DB {
	tb.Helper()
	db, err := sqlitedb.Open(testContext(tb), path, opts)
	if err != nil {
		tb.Fatalf("Open(%q, %+v): %v", path, opts, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// The test migrations: two versions of a tiny schema of notes. Neither
// can run twice (CREATE TABLE without IF NOT EXISTS, ALTER TABLE ADD), so
// a migration applied again fails the test.
var (
	v1 = fstest.MapFile{Data: []byte(`CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL) STRICT;`)}
	v2 = fstest.MapFile{Data: []byte(`ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT '';
CREATE TABLE tags (note_id INTEGER NOT NULL REFERENCES notes (id), tag TEXT NOT NULL) STRICT;`)}
	schemaV1 = fstest.MapFS{"0001_notes.sql": &v1}
	schemaV2 = fstest.MapFS{"0001_notes.sql": &v1, "0002_authors.sql": &v2}
)

// applied returns the rows of schema_migrations: each version and name.
func applied(tb testing.TB, db *sqlitedb.DB) []string {
	tb.Helper()
	rows, err := db.Read.QueryContext(testContext(tb), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		tb.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var (
			v        int
			name, at string
		)
		if err := rows.Scan(&v, &name, &at); err != nil {
			tb.Fatal(err)
		}
		if _, err := time.Parse(time.RFC3339, at); err != nil || !strings.HasSuffix(at, "Z") {
			tb.Errorf("migration %d applied_at %q: want RFC 3339 in UTC", v, at)
		}
		got = append(got, name)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return got
}

// tables returns the names of the tables in db but SQLite's own.
func tables(tb testing.TB, db *sql.DB) []string {
	tb.Helper()
	rows, err := db.QueryContext(testContext(tb), `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// rawExec runs stmts on the file at path through a plain connection, as
// another program or an older binary would.
func rawExec(tb testing.TB, path string, stmts ...string) {
	tb.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	for _, stmt := range stmts {
		if _, err := raw.Exec(stmt); err != nil {
			tb.Fatalf("%s: %v", stmt, err)
		}
	}
}

// oldVersionTable is schema_migrations as the adapters wrote it before
// this package: a database they created must open.
const oldVersionTable = `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`

// TestMigrate migrates one file through a sequence of steps, each one
// Open and Migrate as a start of the service does, and checks what each
// finds and leaves.
func TestMigrate(t *testing.T) {
	tests := []struct {
		name    string
		prepare []string // run on the file first, through a plain connection
		steps   []fstest.MapFS
		wantErr string // of the last step; "" for none
		want    []string
		tables  []string // the file's tables at the end
	}{
		{
			name:   "new file",
			steps:  []fstest.MapFS{schemaV2},
			want:   []string{"0001_notes.sql", "0002_authors.sql"},
			tables: []string{"notes", "schema_migrations", "tags"},
		},
		{
			name:   "reopened, nothing applied twice",
			steps:  []fstest.MapFS{schemaV2, schemaV2, schemaV2},
			want:   []string{"0001_notes.sql", "0002_authors.sql"},
			tables: []string{"notes", "schema_migrations", "tags"},
		},
		{
			name:   "upgraded, the new migration alone applied",
			steps:  []fstest.MapFS{schemaV1, schemaV2},
			want:   []string{"0001_notes.sql", "0002_authors.sql"},
			tables: []string{"notes", "schema_migrations", "tags"},
		},
		{
			name:    "newer than the binary",
			steps:   []fstest.MapFS{schemaV2, schemaV1},
			wantErr: "the database has schema version 2, newer than this binary knows (1): run a newer bookshop",
			want:    []string{"0001_notes.sql", "0002_authors.sql"},
			tables:  []string{"notes", "schema_migrations", "tags"},
		},
		{
			name:    "another program's database, left as it was",
			prepare: []string{`CREATE TABLE users (id INTEGER PRIMARY KEY)`, `CREATE TABLE orders (id INTEGER PRIMARY KEY)`},
			steps:   []fstest.MapFS{schemaV2},
			wantErr: "not a Bookshop test database: the file has tables (orders, users) but no schema_migrations; give -db a new file",
			tables:  []string{"orders", "users"},
		},
		{
			name: "created before this package",
			prepare: []string{oldVersionTable, string(v1.Data),
				`INSERT INTO schema_migrations VALUES (1, '0001_notes.sql', '2025-01-01T00:00:00Z')`},
			steps:  []fstest.MapFS{schemaV2},
			want:   []string{"0001_notes.sql", "0002_authors.sql"},
			tables: []string{"notes", "schema_migrations", "tags"},
		},
		{
			name: "a migration fails: none of the step is written",
			steps: []fstest.MapFS{{
				"0001_notes.sql": &v1,
				"0002_bad.sql":   {Data: []byte(`CREATE TABLE tags (x TEXT); SELECT * FROM nowhere;`)},
			}},
			wantErr: "migration 0002_bad.sql: ",
		},
		{
			name:    "misnamed migration",
			steps:   []fstest.MapFS{{"notes.sql": &v1}},
			wantErr: "migration notes.sql: name must be NNNN_what.sql",
		},
		{
			name:    "version 0",
			steps:   []fstest.MapFS{{"0000_notes.sql": &v1}},
			wantErr: "migration 0000_notes.sql: name must be NNNN_what.sql",
		},
		{
			name:    "not .sql",
			steps:   []fstest.MapFS{{"0001_notes.txt": &v1}},
			wantErr: "migration 0001_notes.txt: name must be NNNN_what.sql",
		},
		{
			name:    "one version twice",
			steps:   []fstest.MapFS{{"0001_notes.sql": &v1, "1_again.sql": &v2}},
			wantErr: "migrations 0001_notes.sql and 1_again.sql have the same version",
		},
		{
			name:    "no migrations",
			steps:   []fstest.MapFS{{}},
			wantErr: "no migrations",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "test.db")
			rawExec(t, path, tt.prepare...)
			var err error
			for i, ms := range tt.steps {
				db := open(t, path, sqlitedb.Options{Readers: 2})
				err = sqlitedb.Migrate(testContext(t), db, sqlitedb.Schema{Name: "test database", Migrations: ms})
				if i < len(tt.steps)-1 && err != nil {
					t.Fatalf("step %d: Migrate: %v", i+1, err)
				}
				db.Close()
			}
			if got := errText(err); tt.wantErr == "" && got != "" || !strings.Contains(got, tt.wantErr) {
				t.Fatalf("Migrate = %v, want an error with %q", err, tt.wantErr)
			}
			db := open(t, path, sqlitedb.Options{})
			if got := tables(t, db.Read); !slices.Equal(got, tt.tables) {
				t.Errorf("tables = %q, want %q", got, tt.tables)
			}
			if tt.want != nil {
				if got := applied(t, db); !slices.Equal(got, tt.want) {
					t.Errorf("schema_migrations = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestVersionTable checks that schema_migrations keeps the layout that
// databases already on disk have: version, name, applied_at, STRICT.
func TestVersionTable(t *testing.T) {
	db := open(t, sqlitedb.Memory, sqlitedb.Options{})
	if err := sqlitedb.Migrate(testContext(t), db, sqlitedb.Schema{Name: "test database", Migrations: schemaV1}); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Read.QueryContext(testContext(t), `SELECT name, type, "notnull", pk FROM pragma_table_info('schema_migrations') ORDER BY cid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var (
			name, typ   string
			notNull, pk int
		)
		if err := rows.Scan(&name, &typ, &notNull, &pk); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{name, typ, map[int]string{0: "null", 1: "not null"}[notNull], map[int]string{0: "", 1: "pk"}[pk]}, " "))
	}
	want := []string{"version INTEGER null pk", "name TEXT not null ", "applied_at TEXT not null "}
	if !slices.Equal(got, want) {
		t.Errorf("schema_migrations columns = %q, want %q", got, want)
	}
	var strict int
	if err := db.Read.QueryRowContext(testContext(t), `SELECT strict FROM pragma_table_list('schema_migrations')`).Scan(&strict); err != nil || strict != 1 {
		t.Errorf("schema_migrations strict = %d, %v; want 1", strict, err)
	}
}

// TestSeed checks that Seed fills a new database once, in the migrating
// transaction: a seed that fails leaves the file unmigrated, so that the
// next start migrates and seeds it.
func TestSeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	calls := 0
	seed := func(fail bool) func(context.Context, *sqlitedb.Tx) error {
		return func(ctx context.Context, tx *sqlitedb.Tx) error {
			calls++
			if _, err := tx.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('first')`); err != nil {
				return err
			}
			if fail {
				return errors.New("no more notes")
			}
			return nil
		}
	}
	for i, step := range []struct {
		ms      fstest.MapFS
		fail    bool
		wantErr string
	}{
		{schemaV1, true, "seed: no more notes"},
		{schemaV1, false, ""},
		{schemaV1, false, ""}, // not new: no seed
		{schemaV2, false, ""}, // upgraded, not new: no seed
	} {
		db := open(t, path, sqlitedb.Options{})
		err := sqlitedb.Migrate(testContext(t), db, sqlitedb.Schema{Name: "test database", Migrations: step.ms, Seed: seed(step.fail)})
		if errText(err) != step.wantErr {
			t.Errorf("step %d: Migrate = %v, want %q", i+1, err, step.wantErr)
		}
		if i == 0 {
			if got := tables(t, db.Write); len(got) != 0 {
				t.Errorf("after a failed seed the file has tables %q, want none", got)
			}
		}
		db.Close()
	}
	if calls != 2 {
		t.Errorf("Seed called %d times, want 2 (the failed one, then the new database's)", calls)
	}
	db := open(t, path, sqlitedb.Options{})
	var n int
	if err := db.Read.QueryRowContext(testContext(t), `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 1 {
		t.Errorf("notes = %d, %v; want the seed's 1", n, err)
	}
}

// TestMigrateConcurrently opens and migrates new files from several
// processes' worth of connections at once, as replicas that start together
// do: every Open and Migrate succeeds, and each file is migrated and
// seeded once. The race between the connections that switch a new file to
// WAL is lost now and then, so the test runs it many times.
func TestMigrateConcurrently(t *testing.T) {
	const (
		rounds = 25
		n      = 4
	)
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "test.db")
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			seeds int
		)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				db, err := sqlitedb.Open(testContext(t), path, sqlitedb.Options{Readers: 1})
				if err != nil {
					errs[i] = fmt.Errorf("Open: %w", err)
					return
				}
				defer db.Close()
				errs[i] = sqlitedb.Migrate(testContext(t), db, sqlitedb.Schema{Name: "test database", Migrations: schemaV2,
					Seed: func(context.Context, *sqlitedb.Tx) error { mu.Lock(); seeds++; mu.Unlock(); return nil }})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, opener %d: %v", round, i, err)
			}
		}
		if seeds != 1 {
			t.Errorf("round %d: the new file was seeded %d times, want once", round, seeds)
		}
		db := open(t, path, sqlitedb.Options{})
		if got, want := applied(t, db), []string{"0001_notes.sql", "0002_authors.sql"}; !slices.Equal(got, want) {
			t.Errorf("round %d: schema_migrations = %q, want %q", round, got, want)
		}
		db.Close()
	}
}

// TestMigrateWhileAnotherWrites checks that a database that is up to date
// opens, migrates and reads while another process holds the write lock: a
// writer elsewhere does not hold up a start.
func TestMigrateWhileAnotherWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db := open(t, path, sqlitedb.Options{})
	if err := sqlitedb.Migrate(testContext(t), db, sqlitedb.Schema{Name: "test database", Migrations: schemaV2}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin() // takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	// Well within the busy timeout: a wait for the lock would fail this.
	ctx, cancel := context.WithTimeout(testContext(t), 2*time.Second)
	defer cancel()
	for _, readers := range []int{0, 2} {
		db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Readers: readers})
		if err != nil {
			t.Fatalf("Open with %d readers while another connection writes: %v", readers, err)
		}
		defer db.Close()
		if err := sqlitedb.Migrate(ctx, db, sqlitedb.Schema{Name: "test database", Migrations: schemaV2}); err != nil {
			t.Errorf("Migrate with %d readers while another connection writes: %v", readers, err)
		}
		var n int
		if err := db.Read.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil {
			t.Errorf("a read with %d readers while another connection writes: %v", readers, err)
		}
	}
}

// pragma returns the value of an SQLite setting as a connection of pool
// sees it.
func pragma(tb testing.TB, pool *sql.DB, name string) string {
	tb.Helper()
	var v string
	if err := pool.QueryRowContext(testContext(tb), "PRAGMA "+name).Scan(&v); err != nil {
		tb.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// TestOpen checks the settings each kind of database gets.
func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		memory  bool
		opts    sqlitedb.Options
		journal string
		sync    string // 1 NORMAL, 2 FULL
		oneDB   bool   // Read is Write
	}{
		{"file, FULL (NORMAL and syncs of its own), readers", false, sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: 4}, "wal", "1", false},
		{"file, NORMAL, no readers", false, sqlitedb.Options{Synchronous: sqlitedb.SyncNormal}, "wal", "1", true},
		{"memory: no WAL, no readers", true, sqlitedb.Options{Synchronous: sqlitedb.SyncNormal, Readers: 4}, "memory", "2", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := sqlitedb.Memory
			if !tt.memory {
				path = filepath.Join(t.TempDir(), "test.db")
			}
			db := open(t, path, tt.opts)
			for name, want := range map[string]string{
				"journal_mode": tt.journal,
				"synchronous":  tt.sync,
				"foreign_keys": "1",
				"busy_timeout": "5000",
			} {
				if got := pragma(t, db.Write, name); got != want {
					t.Errorf("writer's %s = %s, want %s", name, got, want)
				}
			}
			if got := db.Read == db.Write; got != tt.oneDB {
				t.Fatalf("Read is Write: %v, want %v", got, tt.oneDB)
			}
			ctx := testContext(t)
			if _, err := db.Write.ExecContext(ctx, `CREATE TABLE notes (text TEXT)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Write.ExecContext(ctx, `INSERT INTO notes VALUES ('written')`); err != nil {
				t.Fatal(err)
			}
			var text string
			if err := db.Read.QueryRowContext(ctx, `SELECT text FROM notes`).Scan(&text); err != nil || text != "written" {
				t.Errorf("a read after the write = %q, %v; want the write's", text, err)
			}
			if !tt.oneDB {
				if _, err := db.Read.ExecContext(ctx, `INSERT INTO notes VALUES ('through a reader')`); err == nil {
					t.Error("a write through Read succeeded, want a read-only connection's error")
				}
			}
			if err := db.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			if err := db.Read.PingContext(ctx); err == nil {
				t.Error("Read after Close: no error")
			}
		})
	}
}

// TestReadersDoNotWaitForTheWriter reads through Read while the writer
// holds the write lock in a transaction.
func TestReadersDoNotWaitForTheWriter(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "test.db"), sqlitedb.Options{Readers: 2})
	ctx := testContext(t)
	if _, err := db.Write.ExecContext(ctx, `CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('committed')`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Write.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO notes VALUES ('pending')`); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var n int
	if err := db.Read.QueryRowContext(short, `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 1 {
		t.Errorf("a read during a write = %d, %v; want the 1 committed row, at once", n, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		opts    sqlitedb.Options
		wantErr string
	}{
		{"? in the path", filepath.Join(dir, "a.db?mode=ro"), sqlitedb.Options{}, "the path must not contain ? or #"},
		{"# in the path", filepath.Join(dir, "a#b.db"), sqlitedb.Options{}, "the path must not contain ? or #"},
		{"a text file", notDB, sqlitedb.Options{}, "not a database"},
		{"no such directory", filepath.Join(dir, "missing", "a.db"), sqlitedb.Options{}, "the directory " + filepath.Join(dir, "missing") + " does not exist"},
		{"a directory", dir, sqlitedb.Options{}, dir + " is a directory: name a database file"},
		{"unknown synchronous", filepath.Join(dir, "a.db"), sqlitedb.Options{Synchronous: 7}, "synchronous 7: want SyncFull or SyncNormal"},
		{"negative readers", filepath.Join(dir, "a.db"), sqlitedb.Options{Readers: -1}, "-1 readers: want 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlitedb.Open(testContext(t), tt.path, tt.opts)
			if err == nil {
				db.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open(%q, %+v) = %v, want an error with %q", tt.path, tt.opts, err, tt.wantErr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused Open left a file: %v", err)
	}
}

// TestTxEndsWithItsContext: the statements of a transaction run to their
// end once begun (see Tx.ExecContext), but a transaction whose context
// ends runs no statement more, and what it wrote is rolled back.
func TestTxEndsWithItsContext(t *testing.T) {
	db := notesDB(t, 2)
	count := func() int {
		var n int
		if err := db.Read.QueryRowContext(testContext(t), `SELECT count(*) FROM notes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	ctx, cancel := context.WithCancel(testContext(t))
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('kept only if committed')`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the transaction reads %d notes, %v; want its 1", n, err)
	}
	cancel()
	if _, err := tx.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('never')`); !errors.Is(err, context.Canceled) {
		t.Errorf("ExecContext once the context ended = %v, want context.Canceled", err)
	}
	if _, err := tx.QueryContext(ctx, `SELECT text FROM notes`); !errors.Is(err, context.Canceled) {
		t.Errorf("QueryContext once the context ended = %v, want context.Canceled", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n); !errors.Is(err, context.Canceled) {
		t.Errorf("QueryRowContext once the context ended = %v, want context.Canceled", err)
	}
	if err := tx.Commit(); err == nil {
		t.Error("Commit of a transaction whose context ended = nil, want an error")
	}
	tx.Rollback()
	if n := count(); n != 0 {
		t.Errorf("after the transaction's context ended, %d notes are in the database, want none", n)
	}

	// The writing connection is free again, and the next transaction
	// commits.
	tx, err = db.Begin(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(testContext(t), `INSERT INTO notes (text) VALUES ('committed')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Errorf("after a commit, %d notes, want 1", n)
	}
}

// notesDB opens a new database file with SyncFull and readers readers,
// and gives it the notes table (schemaV1).
func notesDB(tb testing.TB, readers int) *sqlitedb.DB {
	tb.Helper()
	db := open(tb, filepath.Join(tb.TempDir(), "test.db"), sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: readers})
	if err := sqlitedb.Migrate(testContext(tb), db, sqlitedb.Schema{Name: "test database", Migrations: schemaV1}); err != nil {
		tb.Fatal(err)
	}
	return db
}

// notes returns the text of every row of the notes table.
func notes(tb testing.TB, db *sqlitedb.DB) []string {
	tb.Helper()
	rows, err := db.QueryContext(testContext(tb), `SELECT text FROM notes`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var texts []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatal(err)
		}
		texts = append(texts, s)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return texts
}

// TestLeftTxEndsWithItsContext: a transaction that its caller leaves,
// neither committed nor rolled back, is rolled back when its context
// ends, and the writing connection is free again.
func TestLeftTxEndsWithItsContext(t *testing.T) {
	db := notesDB(t, 2)
	ctx, cancel := context.WithCancel(testContext(t))
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('left')`); err != nil {
		t.Fatal(err)
	}
	cancel()

	short, stop := context.WithTimeout(testContext(t), 5*time.Second)
	defer stop()
	if _, err := db.ExecContext(short, `INSERT INTO notes (text) VALUES ('after')`); err != nil {
		t.Fatalf("a write after the left transaction's context ended = %v, want it to commit", err)
	}
	if got := notes(t, db); !slices.Equal(got, []string{"after"}) {
		t.Errorf("notes = %q, want only [after]: the left transaction rolled back", got)
	}
}

// TestCommitAfterTheEnd: a transaction rolled back, or committed, is
// over; Commit then fails with sql.ErrTxDone, as *sql.Tx's does, and
// writes nothing.
func TestCommitAfterTheEnd(t *testing.T) {
	db := notesDB(t, 2)
	// write begins a transaction that writes a note of text.
	write := func(text string) *sqlitedb.Tx {
		t.Helper()
		tx, err := db.Begin(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(testContext(t), `INSERT INTO notes (text) VALUES (?)`, text); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	tx := write("rolled back")
	tx.Rollback()
	if err := tx.Commit(); !errors.Is(err, sql.ErrTxDone) {
		t.Errorf("Commit after Rollback = %v, want sql.ErrTxDone", err)
	}
	tx = write("committed")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, sql.ErrTxDone) {
		t.Errorf("Commit again = %v, want sql.ErrTxDone", err)
	}
	if got := notes(t, db); !slices.Equal(got, []string{"committed"}) {
		t.Errorf("notes = %q, want only [committed]", got)
	}
}

// TestWaitForTheConnectionEndsWithItsContext: a write that waits for the
// writing connection, which a transaction holds, gives up when its
// context ends, as a read waits for none; a call whose context has
// ended runs nothing.
func TestWaitForTheConnectionEndsWithItsContext(t *testing.T) {
	db := notesDB(t, 1)
	tx, err := db.Begin(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	// Each a statement of its own, not yet prepared: preparing it waits
	// for the connection too, and must give up with ctx as well.
	for _, tc := range []struct {
		name string
		call func(context.Context) error
	}{
		{"ExecContext", func(ctx context.Context) error {
			_, err := db.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('waited')`)
			return err
		}},
		{"ExecUnsynced", func(ctx context.Context) error {
			_, err := db.ExecUnsynced(ctx, `INSERT INTO notes (text) VALUES ('waited, unsynced')`)
			return err
		}},
		{"Begin", func(ctx context.Context) error {
			tx, err := db.Begin(ctx)
			if err == nil {
				tx.Rollback()
			}
			return err
		}},
	} {
		ctx, cancel := context.WithTimeout(testContext(t), 50*time.Millisecond)
		start := time.Now()
		err := tc.call(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || took > time.Second {
			t.Errorf("%s while a transaction holds the writing connection = %v after %v, want context.DeadlineExceeded after 50ms", tc.name, err, took)
		}
	}

	// The one reader is free: a read does not wait. With its context
	// ended, it runs nothing.
	var n int
	if err := db.QueryRowContext(testContext(t), `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a read during the transaction = %d, %v; want 0", n, err)
	}
	ended, cancel := context.WithCancel(testContext(t))
	cancel()
	if err := db.QueryRowContext(ended, `SELECT count(*) FROM notes`).Scan(&n); !errors.Is(err, context.Canceled) {
		t.Errorf("QueryRowContext with its context ended = %v, want context.Canceled", err)
	}
	if _, err := db.QueryContext(ended, `SELECT text FROM notes`); !errors.Is(err, context.Canceled) {
		t.Errorf("QueryContext with its context ended = %v, want context.Canceled", err)
	}
	if _, err := db.BeginRead(ended); !errors.Is(err, context.Canceled) {
		t.Errorf("BeginRead with its context ended = %v, want context.Canceled", err)
	}
	tx.Rollback()
	if _, err := db.ExecContext(ended, `INSERT INTO notes (text) VALUES ('never')`); !errors.Is(err, context.Canceled) {
		t.Errorf("ExecContext with its context ended = %v, want context.Canceled", err)
	}
	if err := db.QueryRowContext(testContext(t), `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 0 {
		t.Errorf("notes = %d, %v; want none written", n, err)
	}
}

// TestCloseWaitsForConnections ends the context of a write and of a read
// transaction, left open, and closes the database at once: they are
// rolled back, and their connections closed, in goroutines of
// database/sql's or of the contexts'. When Close returns, the connections have closed, and SQLite has
// removed the write-ahead log and its index.
func TestCloseWaitsForConnections(t *testing.T) {
	for i := range 20 {
		dir := t.TempDir()
		db, err := sqlitedb.Open(testContext(t), filepath.Join(dir, "test.db"), sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := sqlitedb.Migrate(testContext(t), db, sqlitedb.Schema{Name: "test database", Migrations: schemaV1}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(testContext(t))
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('cut short')`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.BeginRead(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := db.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", i, err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"test.db"}) {
			t.Fatalf("round %d: once Close returned, the directory holds %v, want only test.db (every connection closed)", i, names)
		}
	}
}
