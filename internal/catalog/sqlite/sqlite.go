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
// replicas that share one catalog should share a database server, which a
// later version brings.
package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Memory is the path that opens a database in memory, gone at Close.
const Memory = sqlitedb.Memory

// cancelCheckRows is how often, in rows, an import checks whether its
// context has ended.
const cancelCheckRows = 1000

// DB is the catalog in SQLite. It implements [bookshop.BookStore],
// [bookshop.Catalog] and [bookshop.Importer], and is safe for concurrent
// use.
type DB struct {
	pools    *sqlitedb.DB // Write alone: reads come from the snapshot
	snapshot atomic.Pointer[bookshop.Shelf]
	importMu sync.Mutex // one import at a time in this process
}

// Open opens the catalog database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. A database
// created by this call is seeded with seed. It fails if the file is not a
// Bookshop database or has a newer schema than this binary knows.
func Open(ctx context.Context, path string, seed []bookshop.Book) (*DB, error) {
	s, err := schema(seed)
	if err != nil {
		return nil, fmt.Errorf("open catalog database %q: %w", path, err)
	}
	// No readers: reads come from the snapshot. NORMAL, the Catalog's
	// choice: a crash of the process loses nothing; a power cut may lose
	// the last imports, which their files can bring again.
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncNormal})
	if err != nil {
		return nil, fmt.Errorf("open catalog database %q: %w", path, err)
	}
	db := &DB{pools: pools}
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

// ImportBooks implements [bookshop.Importer]. Each item is trimmed and
// checked (Book.Validate, which requires a price); the database's
// constraints find ids and titles and authors already taken, in the
// catalog or earlier in items. The valid books are written in one
// transaction; if ctx ends or a write fails, nothing is written. A book
// with id 0 gets the next id after the catalog's highest and every id the
// items ask for, so that the order of the items changes nothing. Prices are kept in the currency they
// come in: which currency the shop takes is the caller's rule.
func (db *DB) ImportBooks(ctx context.Context, key string, items []bookshop.ImportItem) (bookshop.ImportResult, error) {
	db.importMu.Lock()
	defer db.importMu.Unlock()

	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return bookshop.ImportResult{}, fmt.Errorf("import: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var fingerprint [sha256.Size]byte
	if key != "" {
		fingerprint = importFingerprint(items)
		prior, found, err := importByKey(ctx, tx, key, fingerprint)
		if err != nil || found {
			return prior, err
		}
	}
	res, added, err := importBooks(ctx, tx, items)
	if err != nil {
		return bookshop.ImportResult{}, err
	}
	if key != "" {
		if err := recordImportKey(ctx, tx, key, fingerprint, res); err != nil {
			return bookshop.ImportResult{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return bookshop.ImportResult{}, fmt.Errorf("import: commit: %w", err)
	}
	// The new snapshot is the old one and the books just written, as they
	// were written: imports through this DB are the only writes it sees
	// (see the package documentation), one at a time. Reading the whole
	// table back instead took longer than writing 100,000 books.
	if old := db.snapshot.Load(); old != nil && len(added) > 0 {
		db.snapshot.Store(old.With(added))
	}
	res.Books = added
	return res, nil
}

// importResult is an import's answer as import_keys keeps it.
type importResult struct {
	Imported int               `json:"imported"`
	Rejected []importRejection `json:"rejected"`
}

// importRejection is a bookshop.Rejection as import_keys keeps it.
type importRejection struct {
	Index  int    `json:"index"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// importByKey returns the result of the import that key wrote, found
// true, when there is one: Replayed when it was of the same items (its
// fingerprint), a Conflict when it was of others.
func importByKey(ctx context.Context, tx *sqlitedb.Tx, key string, fingerprint [sha256.Size]byte) (bookshop.ImportResult, bool, error) {
	var (
		fp     []byte
		result string
	)
	err := tx.QueryRowContext(ctx, `SELECT fingerprint, result FROM import_keys WHERE key = ?`, key).Scan(&fp, &result)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return bookshop.ImportResult{}, false, nil
	case err != nil:
		return bookshop.ImportResult{}, false, fmt.Errorf("import: read key: %w", err)
	case !bytes.Equal(fp, fingerprint[:]):
		return bookshop.ImportResult{}, true, bookshop.Errorf(bookshop.Conflict,
			"idempotency key %q was used by an import of other books: use a new key for each import", key)
	}
	var r importResult
	if err := json.Unmarshal([]byte(result), &r); err != nil {
		return bookshop.ImportResult{}, false, fmt.Errorf("import: read key %q: %w", key, err)
	}
	res := bookshop.ImportResult{Imported: r.Imported, Replayed: true}
	for _, rj := range r.Rejected {
		res.Rejected = append(res.Rejected, bookshop.Rejection(rj))
	}
	return res, true, nil
}

// recordImportKey records key, the fingerprint of its items and res in
// tx, and deletes the keys older than bookshop.ImportKeyTTL.
func recordImportKey(ctx context.Context, tx *sqlitedb.Tx, key string, fingerprint [sha256.Size]byte, res bookshop.ImportResult) error {
	r := importResult{Imported: res.Imported, Rejected: make([]importRejection, len(res.Rejected))}
	for i, rj := range res.Rejected {
		r.Rejected[i] = importRejection(rj)
	}
	result, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("import: record key: %w", err)
	}
	now := time.Now()
	if _, err := tx.ExecContext(ctx, `DELETE FROM import_keys WHERE created_at < ?`, now.Add(-bookshop.ImportKeyTTL).UnixMilli()); err != nil {
		return fmt.Errorf("import: forget old keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO import_keys (key, fingerprint, result, created_at) VALUES (?, ?, ?, ?)`,
		key, fingerprint[:], string(result), now.UnixMilli()); err != nil {
		return fmt.Errorf("import: record key: %w", err)
	}
	return nil
}

// importFingerprint is the SHA-256 of items: each book's fields and line,
// length-prefixed, in order.
func importFingerprint(items []bookshop.ImportItem) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	put := func(v int64) {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	str := func(s string) {
		put(int64(len(s)))
		h.Write([]byte(s))
	}
	put(int64(len(items)))
	for _, it := range items {
		b := it.Book
		put(int64(b.ID))
		put(int64(b.Category))
		str(b.Title)
		str(b.Author)
		put(int64(b.Year))
		put(b.Price.Units)
		str(b.Price.Currency)
		put(int64(it.Line))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// importBooks writes the valid items in tx, and returns the report and the
// books written, with their ids. The caller commits.
func importBooks(ctx context.Context, tx *sqlitedb.Tx, items []bookshop.ImportItem) (bookshop.ImportResult, []bookshop.Book, error) {
	var res bookshop.ImportResult
	// An insert that conflicts with a book already there changes no row;
	// one that goes in tells its id by LastInsertId. (A RETURNING clause
	// would say the same, at the cost of a temporary table per row.)
	insert, err := tx.PrepareContext(ctx, `INSERT INTO books (id, category, title, author, year, match_key, price, currency)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return res, nil, fmt.Errorf("import: prepare: %w", err)
	}
	defer insert.Close()

	// The rows are written with a context that is never cancelled: given
	// one that can be, the driver starts a goroutine to watch it for each
	// statement, which costs more than the insert. The transaction still
	// watches ctx (database/sql rolls it back when ctx ends), and the loop
	// checks ctx every cancelCheckRows rows, so a cancelled import stops
	// soon and writes nothing.
	rowCtx := context.WithoutCancel(ctx)
	reject := func(i int, it bookshop.ImportItem, format string, args ...any) {
		res.Rejected = append(res.Rejected, bookshop.Rejection{Index: i, Line: it.Line, Reason: fmt.Sprintf(format, args...)})
	}
	// A book without an id gets the next id after every id the catalog
	// and this import's rows hold, so that a row without one never takes
	// the id that a later row asks for: the result is the same whatever
	// the order of the rows.
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM books`).Scan(&next); err != nil {
		return res, nil, fmt.Errorf("import: read the highest id: %w", err)
	}
	for _, it := range items {
		next = max(next, int64(it.Book.ID))
	}
	lineOf := make(map[int32]int) // id -> line, for books of this import
	var added []bookshop.Book     // as written, with their ids
	for i, it := range items {
		if i%cancelCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return bookshop.ImportResult{}, nil, fmt.Errorf("import: %w", err)
			}
		}
		b := it.Book
		b.Title = strings.TrimSpace(b.Title)
		b.Author = strings.TrimSpace(b.Author)
		if err := b.Validate(); err != nil {
			reject(i, it, "%s", err)
			continue
		}
		var id any = b.ID
		if b.ID == 0 {
			if next < math.MaxInt32 {
				id = next + 1
			} else {
				id = nil // NULL: SQLite finds a free id below
			}
		}
		r, err := insert.ExecContext(rowCtx, id, b.Category.String(), b.Title, b.Author, b.Year, b.MatchKey(), b.Price.Units, b.Price.Currency)
		var changed, got int64
		if err == nil {
			changed, err = r.RowsAffected()
		}
		if err == nil && changed == 1 {
			got, err = r.LastInsertId()
		}
		if err != nil {
			return bookshop.ImportResult{}, nil, fmt.Errorf("import: insert book %d: %w", b.ID, err)
		}
		if changed == 0 {
			reject(i, it, "%s", conflict(rowCtx, tx, b, lineOf))
			continue
		}
		b.ID = int32(got)
		if int64(b.ID) > next {
			next = int64(b.ID)
		}
		lineOf[b.ID] = it.Line
		added = append(added, b)
		res.Imported++
	}
	return res, added, nil
}

// conflict says which book already holds b's id or title and author.
func conflict(ctx context.Context, tx *sqlitedb.Tx, b bookshop.Book, lineOf map[int32]int) string {
	var (
		id            int32
		title, author string
	)
	where := func(id int32) string {
		if line, ok := lineOf[id]; ok {
			if line > 0 {
				return "earlier in this import (line " + strconv.Itoa(line) + ")"
			}
			return "earlier in this import"
		}
		return "in the catalog"
	}
	if b.ID != 0 {
		err := tx.QueryRowContext(ctx, `SELECT title, author FROM books WHERE id = ?`, b.ID).Scan(&title, &author)
		if err == nil {
			return fmt.Sprintf("id: %d is already used by %q by %s, %s", b.ID, title, author, where(b.ID))
		}
	}
	err := tx.QueryRowContext(ctx, `SELECT id FROM books WHERE match_key = ?`, b.MatchKey()).Scan(&id)
	if err == nil {
		return fmt.Sprintf("title: %q by %s is already book %d, %s", b.Title, b.Author, id, where(id))
	}
	return "the book conflicts with one already in the catalog"
}

// reload replaces the snapshot with the books now in the database.
func (db *DB) reload(ctx context.Context) error {
	rows, err := db.pools.Write.QueryContext(ctx, `SELECT id, category, title, author, year, price, currency FROM books ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read books: %w", err)
	}
	defer rows.Close()
	var books []bookshop.Book
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
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read books: %w", err)
	}
	db.snapshot.Store(bookshop.NewShelf(books))
	return nil
}

// schema is the catalog's: its migrations and, for a new database, the
// seed.
func schema(seed []bookshop.Book) (sqlitedb.Schema, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return sqlitedb.Schema{}, err
	}
	s := sqlitedb.Schema{Name: "catalog", Migrations: ms}
	if len(seed) > 0 {
		s.Seed = func(ctx context.Context, tx *sqlitedb.Tx) error { return seedBooks(ctx, tx, seed) }
	}
	return s, nil
}

// seedBooks writes seed in tx, the transaction that migrates a new
// database: a crash half-way leaves the file as it was, and a second
// process that opens the same new file waits for the first and then finds
// it migrated and seeded. A book that the rules of an import reject fails
// the seed.
func seedBooks(ctx context.Context, tx *sqlitedb.Tx, seed []bookshop.Book) error {
	items := make([]bookshop.ImportItem, len(seed))
	for i, b := range seed {
		items[i] = bookshop.ImportItem{Book: b}
	}
	res, _, err := importBooks(ctx, tx, items)
	if err == nil && len(res.Rejected) > 0 {
		err = fmt.Errorf("book %d: %s", seed[res.Rejected[0].Index].ID, res.Rejected[0].Reason)
	}
	return err
}
