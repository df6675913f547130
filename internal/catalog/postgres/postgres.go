// Package postgres keeps the catalog in PostgreSQL, through pgx v5 (see
// platform/pgdb), in the schema "catalog": the Catalog's storage when it
// is given a database URL, where several replicas share one catalog.
//
// The tables are those of package sqlite, with the same columns and
// rules (migrations/), so that a catalog moves between the two as it is;
// an import gives the same answer on either (package catalogdb holds
// what they share). Reads are served, as there, from an immutable
// snapshot of the catalog in memory, which the caps on its size
// (catalogdb.Limits) bound: a reader sees the catalog before or after an
// import, never part of one, and never waits for the database.
//
// Imports take turns across every replica, as SQLite's one writer has
// them take turns in one process: an import's transaction first takes a
// transaction-level advisory lock (ImportLockKey), which it holds until
// it commits or rolls back, so that its caps, its ids and its
// idempotency key are decided on the catalog as the import before it
// left it, whichever replica wrote that one. The items stage in
// import_items as they come, in batches, inside the transaction.
//
// Replicas follow each other's imports: each import that writes books is
// the catalog's next version, which its books carry (books.version). Its
// transaction sends a notification on the channel catalog_imports
// (NOTIFY), which PostgreSQL delivers at its commit, and only then. A
// replica listens on a connection of its own (WaitChange) and, told of
// an import or every PollInterval all the same, reads the versions after
// its snapshot's, one at a time, in the order they committed (CatchUp),
// and adds each to its snapshot and tells the function OnChange set.
// A notification is only a wake-up: what a replica reads rests on the
// versions, so that one lost (a connection cut, a pooler that does not
// pass LISTEN) delays a change by PollInterval at most, and loses none.
//
// While the database cannot be reached, imports fail with the kernel's
// Unavailable (pgdb.Classify), which a caller retries with the same key;
// reads go on from the snapshot.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Schema is the name of the Catalog's schema.
const Schema = "catalog"

// Channel is the channel of the notifications of imports: the payload is
// the version the import made.
const Channel = "catalog_imports"

// PollInterval is how often a replica looks for imports it was not told
// of: the longest an import committed through another replica waits to
// be seen when its notification is lost. A look is one index lookup.
const PollInterval = 2 * time.Second

// ImportLockKey is the key of the transaction-level advisory lock that
// every import takes first, on every replica: the first 8 bytes of the
// FNV-1a hash of "bookshop imports " and the schema's name. It is not
// pgdb.LockKey's, which the migrations hold.
var ImportLockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("bookshop imports " + Schema))
	return int64(h.Sum64())
}()

// Limits bound the catalog in memory: see catalogdb.Limits.
type Limits = catalogdb.Limits

// DB is the catalog in PostgreSQL. It implements [bookshop.BookStore],
// [bookshop.Catalog], [bookshop.Importer] and [bookshop.StreamImporter],
// and is safe for concurrent use. Other DBs, in this process or others,
// may use the same database at once: each follows the others' imports
// through WaitChange and CatchUp.
type DB struct {
	db     *pgdb.DB
	limits Limits
	// importing holds a value while an import of this DB runs: one at a
	// time in this process, the others waiting without a connection;
	// across processes the import lock orders them.
	importing chan struct{}

	// snapshot and text are read without a lock; mu guards their changes
	// and the rest.
	snapshot atomic.Pointer[bookshop.Shelf]
	text     atomic.Int64
	mu       sync.Mutex
	version  int64                     // the snapshot's: the latest import it holds
	pending  map[int64][]bookshop.Book // this DB's imports committed, not yet in the snapshot
	onChange func([]bookshop.Book)

	// listenMu guards listener, the connection that LISTENs on Channel
	// (nil until WaitChange opens it, or after it broke).
	listenMu sync.Mutex
	listener *pgx.Conn
}

// Open connects to the database of st, migrates schema catalog to the
// version this binary knows (see pgdb.Open), and reads the catalog into
// memory. A new schema starts with seed. Imports are held to limits; a
// seed past them fails (Exhausted), a catalog past them already (its
// limits were lowered) opens as it is: Over says so, and every import
// that adds a book is refused. It fails if the database cannot be
// reached, if the schema is newer than this binary knows or is another
// program's, or if a book of seed breaks a rule of an import. Its errors
// name the database without its password.
func Open(ctx context.Context, st pgdb.Settings, seed []bookshop.Book, limits Limits) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open catalog database: %w", err)
	}
	s := pgdb.Schema{Name: Schema, Migrations: ms}
	if len(seed) > 0 {
		s.Seed = func(ctx context.Context, tx pgx.Tx) error { return seedBooks(ctx, tx, seed, limits) }
	}
	pdb, err := pgdb.Open(ctx, st, s)
	if err != nil {
		return nil, fmt.Errorf("open catalog database: %w", err)
	}
	db := &DB{db: pdb, limits: limits, importing: make(chan struct{}, 1), pending: make(map[int64][]bookshop.Book)}
	if err := db.load(ctx); err != nil {
		pdb.Close()
		return nil, fmt.Errorf("open catalog database %s: %w", pdb, err)
	}
	return db, nil
}

// Close closes the connections.
func (db *DB) Close() error {
	db.listenMu.Lock()
	if db.listener != nil {
		db.listener.Close(context.Background()) //nolint:errcheck // closing ends the session; nothing to report
		db.listener = nil
	}
	db.listenMu.Unlock()
	return db.db.Close()
}

// Ping returns nil when the database answers, for readiness; otherwise
// an error that names it, without its password.
func (db *DB) Ping(ctx context.Context) error { return db.db.Ping(ctx) }

// String names the database for logs, without its password.
func (db *DB) String() string { return "PostgreSQL " + db.db.String() }

// Len returns the number of books in the snapshot.
func (db *DB) Len() int { return db.snapshot.Load().Len() }

// TextBytes returns the bytes of the titles and authors of the
// snapshot's books, which Limits.TextBytes bounds.
func (db *DB) TextBytes() int64 { return db.text.Load() }

// Limits returns the limits the DB holds imports to.
func (db *DB) Limits() Limits { return db.limits }

// Over reports whether the snapshot is past the limits, as a catalog
// written under higher ones (by a replica with other caps) may be.
func (db *DB) Over() bool { return db.limits.Over(db.Len(), db.TextBytes()) }

// Version returns the catalog's version that the snapshot holds: that of
// the latest import in it (0 before any).
func (db *DB) Version() int64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.version
}

// All returns every book of the snapshot, in id order. The slice is
// shared and never changes: callers must not modify it.
func (db *DB) All() []bookshop.Book { return db.snapshot.Load().Books() }

// BooksInCategory implements [bookshop.BookStore] from the snapshot.
func (db *DB) BooksInCategory(ctx context.Context, c bookshop.Category) ([]bookshop.Book, error) {
	return db.snapshot.Load().BooksInCategory(ctx, c)
}

// Book implements [bookshop.Catalog] from the snapshot.
func (db *DB) Book(ctx context.Context, id int32) (bookshop.Book, error) {
	return db.snapshot.Load().Book(ctx, id)
}

// ExportBooks implements [bookshop.Catalog] from one snapshot: an import
// that ends during an export does not show in it.
func (db *DB) ExportBooks(ctx context.Context, c bookshop.Category, batchSize int, yield func([]bookshop.Book) error) error {
	return db.snapshot.Load().ExportBooks(ctx, c, batchSize, yield)
}

// bookColumns are the columns scanBook reads, in its order.
const bookColumns = `id, category, title, author, year, price, currency, version`

// scanBook reads a row of bookColumns.
func scanBook(row pgx.CollectableRow) (versioned, error) {
	var (
		b   versioned
		cat string
	)
	// A price of 0 and currency '' is no price: the zero Money.
	if err := row.Scan(&b.ID, &cat, &b.Title, &b.Author, &b.Year, &b.Price.Units, &b.Price.Currency, &b.version); err != nil {
		return versioned{}, err
	}
	c, err := bookshop.ParseCategory(cat)
	if err != nil {
		return versioned{}, fmt.Errorf("book %d: category %q", b.ID, cat)
	}
	b.Category = c
	return b, nil
}

// versioned is a book and the version it came in.
type versioned struct {
	bookshop.Book
	version int64
}

// load reads every book into the snapshot, and its version, in one
// statement: one snapshot of the database.
func (db *DB) load(ctx context.Context) error {
	rows, err := db.db.Pool.Query(ctx, `SELECT `+bookColumns+` FROM books ORDER BY id`)
	if err != nil {
		return pgdb.Classify(fmt.Errorf("read books: %w", err))
	}
	defer rows.Close()
	var (
		books   []bookshop.Book
		text    int64
		version int64
	)
	for rows.Next() {
		b, err := scanBook(rows)
		if err != nil {
			return fmt.Errorf("read books: %w", err)
		}
		books = append(books, b.Book)
		text += catalogdb.TextBytes(b.Book)
		version = max(version, b.version)
	}
	if err := rows.Err(); err != nil {
		return pgdb.Classify(fmt.Errorf("read books: %w", err))
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.snapshot.Store(bookshop.NewShelf(books))
	db.text.Store(text)
	db.version = version
	return nil
}

// OnChange sets the function that the DB calls with the books of each
// import as its snapshot takes them, this DB's imports and the others',
// once each, in the order they committed: at Commit, for an import of
// this DB, and in CatchUp. It is called with the DB's lock held: it must
// not call the DB's methods but All, Len and TextBytes. Set it before
// the first import.
func (db *DB) OnChange(f func(books []bookshop.Book)) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.onChange = f
}

// apply adds books, the import of version v, to the snapshot, unless the
// snapshot holds v already, and tells onChange. The caller holds mu and
// has applied every version before v.
func (db *DB) apply(v int64, books []bookshop.Book) {
	if v <= db.version {
		return
	}
	var text int64
	for _, b := range books {
		text += catalogdb.TextBytes(b)
	}
	db.snapshot.Store(db.snapshot.Load().With(books))
	db.text.Add(text)
	db.version = v
	for p := range db.pending {
		if p <= v {
			delete(db.pending, p)
		}
	}
	if db.onChange != nil {
		db.onChange(books)
	}
}

// CatchUp brings the snapshot to the latest import committed, by this DB
// or any other on the database: it reads the imports after the
// snapshot's version, one at a time, in the order they committed, and
// applies each (see OnChange). What it applied stays applied when it
// fails half-way; the next call goes on from there. Errors: Unavailable
// when the database cannot be reached.
func (db *DB) CatchUp(ctx context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.catchUp(ctx, math.MaxInt64)
}

// catchUp applies the imports after the snapshot's version and before
// version until. The caller holds mu.
func (db *DB) catchUp(ctx context.Context, until int64) error {
	for {
		// One lookup in books_by_version, which is all a poll costs when
		// nothing changed.
		var next *int64
		if err := db.db.Pool.QueryRow(ctx, `SELECT min(version) FROM books WHERE version > $1 AND version < $2`,
			db.version, until).Scan(&next); err != nil {
			return pgdb.Classify(fmt.Errorf("look for imports: %w", err))
		}
		if next == nil {
			return nil
		}
		books, ok := db.pending[*next]
		if !ok {
			var err error
			if books, err = db.readVersion(ctx, *next); err != nil {
				return err
			}
		}
		db.apply(*next, books)
	}
}

// readVersion reads the books of version v, in id order.
func (db *DB) readVersion(ctx context.Context, v int64) ([]bookshop.Book, error) {
	rows, err := db.db.Pool.Query(ctx, `SELECT `+bookColumns+` FROM books WHERE version = $1 ORDER BY id`, v)
	if err != nil {
		return nil, pgdb.Classify(fmt.Errorf("read import %d: %w", v, err))
	}
	defer rows.Close()
	var books []bookshop.Book
	for rows.Next() {
		b, err := scanBook(rows)
		if err != nil {
			return nil, fmt.Errorf("read import %d: %w", v, err)
		}
		books = append(books, b.Book)
	}
	if err := rows.Err(); err != nil {
		return nil, pgdb.Classify(fmt.Errorf("read import %d: %w", v, err))
	}
	return books, nil
}

// committed takes added, the books of version v that this DB's import
// has just committed, into the snapshot: after the imports before it
// that other DBs committed and this one has not applied yet, read first.
// If they cannot be read, added waits in pending for the next CatchUp.
func (db *DB) committed(ctx context.Context, v int64, added []bookshop.Book) {
	db.mu.Lock()
	defer db.mu.Unlock()
	// The import is committed whatever its caller does now: read what
	// comes before it even if the caller has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := db.catchUp(ctx, v); err != nil {
		db.pending[v] = added
		return
	}
	db.apply(v, added)
}

// WaitChange waits until another DB may have committed an import: a
// notification on Channel came, PollInterval passed, or the connection
// that listens has just been opened (what came before it was not heard).
// CatchUp then reads what changed. It opens that connection, one more
// than the pool's, at its first call, and again after it broke. Errors:
// ctx's when it ends; Unavailable when the database cannot be reached
// (the caller pauses, and calls again).
func (db *DB) WaitChange(ctx context.Context) error {
	db.listenMu.Lock()
	defer db.listenMu.Unlock()
	if db.listener == nil {
		conn, err := pgx.ConnectConfig(ctx, db.db.Pool.Config().ConnConfig.Copy())
		if err == nil {
			if _, err = conn.Exec(ctx, `LISTEN `+Channel); err != nil {
				conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // a broken connection: nothing to report
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return pgdb.Classify(fmt.Errorf("listen for imports: %w", err))
		}
		db.listener = conn
		return nil
	}
	wait, cancel := context.WithTimeout(ctx, PollInterval)
	defer cancel()
	_, err := db.listener.WaitForNotification(wait)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case wait.Err() != nil && !db.listener.IsClosed():
		return nil // PollInterval passed: look all the same
	}
	db.listener.Close(context.WithoutCancel(ctx)) //nolint:errcheck // a broken connection: nothing to report
	db.listener = nil
	return pgdb.Classify(fmt.Errorf("listen for imports: %w", err))
}

// notify sends the notification of version v on Channel in tx: delivered
// at its commit, and only then.
func notify(ctx context.Context, tx pgx.Tx, v int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, strconv.FormatInt(v, 10)); err != nil {
		return fmt.Errorf("import: notify: %w", err)
	}
	return nil
}
