// Package sqlite keeps the catalog in an SQLite database, through
// modernc.org/sqlite, a driver in pure Go (no cgo).
//
// The database is one file. Open creates it when it is missing, applies the
// schema migrations embedded in the binary, and seeds a new database with
// the books it is given. Reads are served from an immutable in-memory
// snapshot of the catalog, replaced atomically after each import: a reader
// sees the catalog before or after an import, never part of one, and reads
// never wait for a write.
//
// The snapshot is taken at Open and after each import through this DB. A
// second process that writes to the same file is not seen until restart:
// replicas that share one catalog share a PostgreSQL database instead
// (package postgres), whose tables are these.
package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sync/atomic"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogdb"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Memory is the path that opens a database in memory, gone at Close.
const Memory = sqlitedb.Memory

// DB is the catalog in SQLite. It implements [bookshop.BookStore],
// [bookshop.Catalog], [bookshop.Importer] and [bookshop.StreamImporter],
// and is safe for concurrent use.
type DB struct {
	pools    *sqlitedb.DB // Write alone: reads come from the snapshot
	snapshot atomic.Pointer[bookshop.Shelf]
	limits   Limits
	// importing holds a value while an import runs: one at a time in
	// this process, the others waiting (see BeginImport).
	importing chan struct{}
	// text is the bytes of the titles and authors of the snapshot's
	// books; only an import, holding importing, changes it.
	text atomic.Int64
}

// Limits bound the catalog a DB holds in memory: an import that would
// take the catalog past either is refused whole (see catalogdb.Limits).
type Limits = catalogdb.Limits

// Open opens the catalog database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. A database
// created by this call is seeded with seed. It fails if the file is not a
// Bookshop database or has a newer schema than this binary knows. The
// catalog has no Limits: see OpenLimited.
func Open(ctx context.Context, path string, seed []bookshop.Book) (*DB, error) {
	return OpenLimited(ctx, path, seed, Limits{})
}

// OpenLimited is Open, with imports held to limits; a seed past them
// fails. A database that holds more already (its limits were lowered) is
// opened as it is: Over says so, and every import that adds a book is
// refused.
func OpenLimited(ctx context.Context, path string, seed []bookshop.Book, limits Limits) (*DB, error) {
	s, err := schema(seed, limits)
	if err != nil {
		return nil, fmt.Errorf("open catalog database %q: %w", path, err)
	}
	// No readers: reads come from the snapshot. Every import is on the
	// disk before it is answered (SyncFull: one sync a commit, nothing
	// beside an import's writes): the ids it gave its books go at once to
	// the replicas of Recommendations, and from them to carts and orders,
	// so a power cut must not take them back.
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncFull})
	if err != nil {
		return nil, fmt.Errorf("open catalog database %q: %w", path, err)
	}
	db := &DB{pools: pools, limits: limits, importing: make(chan struct{}, 1)}
	if err := sqlitedb.Migrate(ctx, pools, s); err != nil {
		pools.Close()
		return nil, fmt.Errorf("open catalog database %q: %w", path, err)
	}
	if err := db.reload(ctx); err != nil {
		pools.Close()
		return nil, fmt.Errorf("open catalog database %q: %w", path, err)
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.pools.Close() }

// Len returns the number of books in the catalog.
func (db *DB) Len() int { return db.snapshot.Load().Len() }

// TextBytes returns the bytes of the titles and authors of the catalog's
// books, which Limits.TextBytes bounds.
func (db *DB) TextBytes() int64 { return db.text.Load() }

// Limits returns the limits the DB holds imports to.
func (db *DB) Limits() Limits { return db.limits }

// Over reports whether the catalog is past its limits, as a database
// written under higher ones may be.
func (db *DB) Over() bool { return db.limits.Over(db.Len(), db.TextBytes()) }

// All returns every book of the snapshot, in id order. The slice is shared
// and never changes: callers must not modify it.
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

// reload replaces the snapshot with the books now in the database.
func (db *DB) reload(ctx context.Context) error {
	rows, err := db.pools.Write.QueryContext(ctx, `SELECT id, category, title, author, year, price, currency FROM books ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read books: %w", err)
	}
	defer rows.Close()
	var (
		books []bookshop.Book
		text  int64
	)
	for rows.Next() {
		var (
			b   bookshop.Book
			cat string
		)
		// A price of 0 and currency '' is no price: the zero Money.
		if err := rows.Scan(&b.ID, &cat, &b.Title, &b.Author, &b.Year, &b.Price.Units, &b.Price.Currency); err != nil {
			return fmt.Errorf("read books: %w", err)
		}
		if b.Category, err = bookshop.ParseCategory(cat); err != nil {
			return fmt.Errorf("read book %d: category %q", b.ID, cat)
		}
		books = append(books, b)
		text += catalogdb.TextBytes(b)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read books: %w", err)
	}
	db.snapshot.Store(bookshop.NewShelf(books))
	db.text.Store(text)
	return nil
}

// schema is the catalog's: its migrations and, for a new database, the
// seed, held to limits.
func schema(seed []bookshop.Book, limits Limits) (sqlitedb.Schema, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return sqlitedb.Schema{}, err
	}
	s := sqlitedb.Schema{Name: "catalog", Migrations: ms}
	if len(seed) > 0 {
		s.Seed = func(ctx context.Context, tx *sqlitedb.Tx) error { return seedBooks(ctx, tx, seed, limits) }
	}
	return s, nil
}
