package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogdb"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

// importBatchRows is how many items an import holds before it writes them
// to import_items, and how many it reads back at a time to check and
// write them: the items an import holds in memory, whatever its size.
const importBatchRows = catalogdb.BatchRows

// importItemColumns are the columns of import_items, in the order
// stagedItem.args gives them.
const importItemColumns = `(idx, line, id, category, title, author, year, price, currency, reject)`

// stageBatch writes a whole batch of importBatchRows items in one
// statement; stageOne writes one, for the last batch of an import.
var (
	stageBatch = `INSERT INTO import_items ` + importItemColumns + ` VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), `, importBatchRows), ", ")
	stageOne = `INSERT INTO import_items ` + importItemColumns + ` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// BeginImport implements [bookshop.StreamImporter]. The import is one
// write transaction of the database, held until it commits or is closed;
// it waits, until ctx ends, for the import before it. A key that an
// import has used already makes this one a retry, or a conflict: it then
// writes nothing, only reads its items, to compare them with the first
// import's at Commit. Ending ctx rolls the import back.
func (db *DB) BeginImport(ctx context.Context, key string) (bookshop.PendingImport, error) {
	select {
	case db.importing <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("import: wait for the import before: %w", ctx.Err())
	}
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		<-db.importing
		return nil, fmt.Errorf("import: begin: %w", err)
	}
	// import_items is empty outside an import, as an import empties it
	// before it commits and a crash rolls it back: emptied here too, so
	// that no bug of an earlier version can leave rows to this one.
	if _, err := tx.ExecContext(ctx, `DELETE FROM import_items`); err != nil {
		tx.Rollback() //nolint:errcheck // the connection's end, if it fails
		<-db.importing
		return nil, fmt.Errorf("import: empty import_items: %w", err)
	}
	im := &pendingImport{db: db, tx: tx, key: key, items: newItemWriter(tx, db.limits, db.Len(), db.TextBytes())}
	if key != "" {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM import_keys WHERE key = ?`, key).Scan(&one)
		switch {
		case err == nil:
			im.items.readOnly = true
		case !errors.Is(err, sql.ErrNoRows):
			im.Close()
			return nil, fmt.Errorf("import: read key: %w", err)
		}
	}
	return im, nil
}

// ImportBooks implements [bookshop.Importer]: BeginImport, each item
// added, and Commit. Each item is trimmed and checked (Book.Validate,
// which requires a price); the database's constraints find ids and
// titles and authors already taken, in the catalog or earlier in items.
// The valid books are written in one transaction; if ctx ends or a write
// fails, nothing is written. A book with id 0 gets the next id after the
// catalog's highest and every id the items ask for, so that the order of
// the items changes nothing; when that would pass 2147483647, the highest
// id, it is rejected, asked to come with an id of its own. Prices are kept in the currency they come
// in: which currency the shop takes is the caller's rule.
func (db *DB) ImportBooks(ctx context.Context, key string, items []bookshop.ImportItem) (bookshop.ImportResult, error) {
	im, err := db.BeginImport(ctx, key)
	if err != nil {
		return bookshop.ImportResult{}, err
	}
	defer im.Close()
	for _, it := range items {
		if err := im.Add(ctx, it); err != nil {
			return bookshop.ImportResult{}, err
		}
	}
	return im.Commit(ctx)
}

// pendingImport is a [bookshop.PendingImport] of a DB.
type pendingImport struct {
	db     *DB
	tx     *sqlitedb.Tx
	key    string
	items  *itemWriter
	closed bool
}

// Add implements [bookshop.PendingImport].
func (im *pendingImport) Add(ctx context.Context, it bookshop.ImportItem) error {
	return im.items.add(ctx, it, "")
}

// Reject implements [bookshop.PendingImport].
func (im *pendingImport) Reject(ctx context.Context, it bookshop.ImportItem, reason string) error {
	return im.items.add(ctx, it, reason)
}

// Commit implements [bookshop.PendingImport]: for an import whose key was
// used, the first import's result (Replayed) or Conflict, and nothing
// written; otherwise the import written, its key recorded, and the
// snapshot replaced by one with the books written.
func (im *pendingImport) Commit(ctx context.Context) (bookshop.ImportResult, error) {
	if im.closed {
		return bookshop.ImportResult{}, errors.New("import: commit after close")
	}
	defer im.Close()
	if err := im.items.flush(ctx); err != nil {
		return bookshop.ImportResult{}, err
	}
	fingerprint := im.items.fingerprint()
	if im.items.readOnly {
		prior, _, err := importByKey(ctx, im.tx, im.key, fingerprint)
		return prior, err
	}
	res, added, err := im.items.write(ctx)
	if err != nil {
		return bookshop.ImportResult{}, err
	}
	if im.key != "" {
		if err := recordImportKey(ctx, im.tx, im.key, fingerprint, res); err != nil {
			return bookshop.ImportResult{}, err
		}
	}
	if err := im.tx.Commit(); err != nil {
		return bookshop.ImportResult{}, fmt.Errorf("import: commit: %w", err)
	}
	// The new snapshot is the old one and the books just written, as they
	// were written: imports through this DB are the only writes it sees
	// (see the package documentation), one at a time. Reading the whole
	// table back instead took longer than writing 100,000 books.
	if old := im.db.snapshot.Load(); old != nil && len(added) > 0 {
		im.db.snapshot.Store(old.With(added))
		im.db.text.Add(im.items.addedText)
	}
	res.Books = added
	return res, nil
}

// Close implements [bookshop.PendingImport]: it rolls back what Commit
// has not committed, and lets the next import begin.
func (im *pendingImport) Close() {
	if im.closed {
		return
	}
	im.closed = true
	im.tx.Rollback() //nolint:errcheck // a no-op after Commit; a failed rollback is the connection's end
	<-im.db.importing
}

// stagedItem is an item as import_items holds it.
type stagedItem struct {
	idx    int64
	item   bookshop.ImportItem
	reject sql.NullString
}

// args appends the item's values, in the order of importItemColumns.
func (s stagedItem) args(to []any) []any {
	b := s.item.Book
	return append(to, s.idx, s.item.Line, b.ID, int64(b.Category), b.Title, b.Author, b.Year, b.Price.Units, b.Price.Currency, s.reject)
}

// itemWriter takes an import's items as they come, fingerprints them and
// writes them to import_items in batches; write then checks them and
// writes the valid ones to books. Nothing it writes is committed: the
// caller commits tx.
type itemWriter struct {
	tx       *sqlitedb.Tx
	readOnly bool // fingerprint the items, but write none
	n        int64
	batch    []stagedItem
	args     []any
	stage    *sql.Stmt // stageBatch, prepared at the first whole batch
	fp       *catalogdb.Fingerprint
	// The catalog's limits, and its books and their text before the
	// import; write adds addedText.
	limits    Limits
	books     int
	text      int64
	addedText int64
}

// newItemWriter returns an itemWriter of tx, for a catalog of books books
// and text bytes of titles and authors, held to limits.
func newItemWriter(tx *sqlitedb.Tx, limits Limits, books int, text int64) *itemWriter {
	return &itemWriter{tx: tx, fp: catalogdb.NewFingerprint(), batch: make([]stagedItem, 0, importBatchRows), limits: limits, books: books, text: text}
}

// add takes the next item; reject, when not "", is why the caller
// refused it.
func (w *itemWriter) add(ctx context.Context, it bookshop.ImportItem, reject string) error {
	w.fp.Add(it)
	idx := w.n
	w.n++
	if w.readOnly {
		return nil
	}
	s := stagedItem{idx: idx, item: it}
	if reject != "" {
		s.reject = sql.NullString{String: reject, Valid: true}
	}
	w.batch = append(w.batch, s)
	if len(w.batch) == importBatchRows {
		return w.flush(ctx)
	}
	return nil
}

// flush writes the items held to import_items.
func (w *itemWriter) flush(ctx context.Context) error {
	if len(w.batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	// Written with a context that is never cancelled: given one that can
	// be, the driver starts a goroutine to watch it for each statement.
	// The transaction still watches ctx: it is rolled back when ctx
	// ends (see sqlitedb.DB.Begin).
	rowCtx := context.WithoutCancel(ctx)
	if len(w.batch) == importBatchRows {
		if w.stage == nil {
			// Prepared for this transaction alone: the statement is long
			// to compile, and each batch of the import runs it.
			st, err := w.tx.PrepareContext(rowCtx, stageBatch)
			if err != nil {
				return fmt.Errorf("import: prepare: %w", err)
			}
			w.stage = st
		}
		w.args = w.args[:0]
		for _, s := range w.batch {
			w.args = s.args(w.args)
		}
		if _, err := w.stage.ExecContext(rowCtx, w.args...); err != nil {
			return fmt.Errorf("import: hold items: %w", err)
		}
	} else {
		for _, s := range w.batch {
			if _, err := w.tx.ExecContext(rowCtx, stageOne, s.args(w.args[:0])...); err != nil {
				return fmt.Errorf("import: hold items: %w", err)
			}
		}
	}
	clear(w.batch) // drop the strings before the next batch comes
	w.batch = w.batch[:0]
	return nil
}

// fingerprint returns the fingerprint of the items (catalogdb.Fingerprint):
// what tells a retry of an import from another import under the same key.
func (w *itemWriter) fingerprint() [sha256.Size]byte { return w.fp.Sum() }

// write checks the items held in import_items, in order, writes the valid
// ones to books, as the catalog's next version (the highest books have,
// plus one), and empties import_items. It returns the report and the
// books written, with their ids. The caller commits. When the books
// written would take the catalog past its limits, it writes them all, to
// count them, but holds no more of them, and returns an Exhausted error
// that says how far: the caller must not commit.
func (w *itemWriter) write(ctx context.Context) (bookshop.ImportResult, []bookshop.Book, error) {
	var res bookshop.ImportResult
	// An insert that conflicts with a book already there changes no row;
	// one that goes in tells its id by LastInsertId. (A RETURNING clause
	// would say the same, at the cost of a temporary table per row.)
	insert, err := w.tx.PrepareContext(ctx, `INSERT INTO books (id, category, title, author, year, match_key, price, currency, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return res, nil, fmt.Errorf("import: prepare: %w", err)
	}
	defer insert.Close()

	// The rows are written with a context that is never cancelled (see
	// flush); the loop checks ctx every importBatchRows rows, so a
	// cancelled import stops soon and writes nothing.
	rowCtx := context.WithoutCancel(ctx)
	reject := func(s stagedItem, format string, args ...any) {
		if len(res.Rejected) < bookshop.MaxRejectionsReported {
			res.Rejected = append(res.Rejected, bookshop.Rejection{Index: int(s.idx), Line: s.item.Line, Reason: fmt.Sprintf(format, args...)})
		}
	}
	// A book without an id gets the next id after every id the catalog
	// and this import's rows hold, so that a row without one never takes
	// the id that a later row asks for: the result is the same whatever
	// the order of the rows. Once that is past the highest id, such a
	// book is refused.
	// The books written are the catalog's next version.
	var next, version int64
	if err := w.tx.QueryRowContext(ctx, `SELECT max(coalesce((SELECT max(id) FROM books), 0),
		coalesce((SELECT max(id) FROM import_items WHERE reject IS NULL), 0)),
		coalesce((SELECT max(version) FROM books), 0) + 1`).Scan(&next, &version); err != nil {
		return res, nil, fmt.Errorf("import: read the highest id: %w", err)
	}
	taken := make(catalogdb.Taken) // id -> line, for books of this import
	var added []bookshop.Book      // as written, with their ids
	// The catalog as the import leaves it; once past the limits, the
	// books are written only to be counted, and not held.
	books, text := w.books, w.text
	over := false
	for from := int64(0); from < w.n; from += importBatchRows {
		if err := ctx.Err(); err != nil {
			return bookshop.ImportResult{}, nil, fmt.Errorf("import: %w", err)
		}
		batch, err := w.read(ctx, from)
		if err != nil {
			return bookshop.ImportResult{}, nil, err
		}
		for _, s := range batch {
			if s.reject.Valid {
				reject(s, "%s", s.reject.String)
				continue
			}
			b := s.item.Book
			b.Title = strings.TrimSpace(b.Title)
			b.Author = strings.TrimSpace(b.Author)
			if err := b.Validate(); err != nil {
				reject(s, "%s", err)
				continue
			}
			id := int64(b.ID)
			if b.ID == 0 {
				if next >= math.MaxInt32 {
					// The ids run up to the highest there is: SQLite would
					// give the book one past it, which the table refuses.
					// Refused whatever the order of the rows, as next
					// counts every id this import's rows ask for.
					reject(s, "id: no id is left after %d, the highest a catalog has: give the book an id of its own", math.MaxInt32)
					continue
				}
				id = next + 1
			}
			r, err := insert.ExecContext(rowCtx, id, b.Category.String(), b.Title, b.Author, b.Year, catalogdb.MatchKey(b), b.Price.Units, b.Price.Currency, version)
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
				reject(s, "%s", conflict(rowCtx, w.tx, b, taken))
				continue
			}
			b.ID = int32(got)
			if int64(b.ID) > next {
				next = int64(b.ID)
			}
			res.Imported++
			books++
			text += catalogdb.TextBytes(b)
			if over = over || w.limits.Over(books, text); over {
				continue
			}
			taken[b.ID] = s.item.Line
			added = append(added, b)
		}
	}
	if over {
		return bookshop.ImportResult{}, nil, w.limits.Error(res.Imported, books, text)
	}
	if _, err := w.tx.ExecContext(rowCtx, `DELETE FROM import_items`); err != nil {
		return bookshop.ImportResult{}, nil, fmt.Errorf("import: forget the items: %w", err)
	}
	w.addedText = text - w.text
	return res, added, nil
}

// read returns up to importBatchRows items of import_items from index
// from, in order.
func (w *itemWriter) read(ctx context.Context, from int64) ([]stagedItem, error) {
	rows, err := w.tx.QueryContext(ctx, `SELECT idx, line, id, category, title, author, year, price, currency, reject
		FROM import_items WHERE idx >= ? ORDER BY idx LIMIT ?`, from, importBatchRows)
	if err != nil {
		return nil, fmt.Errorf("import: read the items: %w", err)
	}
	defer rows.Close()
	batch := w.batch[:0]
	for rows.Next() {
		var (
			s   stagedItem
			cat int64
			b   = &s.item.Book
		)
		if err := rows.Scan(&s.idx, &s.item.Line, &b.ID, &cat, &b.Title, &b.Author, &b.Year, &b.Price.Units, &b.Price.Currency, &s.reject); err != nil {
			return nil, fmt.Errorf("import: read the items: %w", err)
		}
		b.Category = bookshop.Category(cat)
		batch = append(batch, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("import: read the items: %w", err)
	}
	return batch, nil
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
		return bookshop.ImportResult{}, true, catalogdb.KeyConflict(key)
	}
	res, err := catalogdb.DecodeResult(result)
	if err != nil {
		return bookshop.ImportResult{}, false, fmt.Errorf("import: key %q: %w", key, err)
	}
	return res, true, nil
}

// recordImportKey records key, the fingerprint of its items and res in
// tx, and deletes the keys older than bookshop.ImportKeyTTL.
func recordImportKey(ctx context.Context, tx *sqlitedb.Tx, key string, fingerprint [sha256.Size]byte, res bookshop.ImportResult) error {
	result, err := catalogdb.EncodeResult(res)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	now := time.Now()
	if _, err := tx.ExecContext(ctx, `DELETE FROM import_keys WHERE created_at < ?`, now.Add(-bookshop.ImportKeyTTL).UnixMilli()); err != nil {
		return fmt.Errorf("import: forget old keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO import_keys (key, fingerprint, result, created_at) VALUES (?, ?, ?, ?)`,
		key, fingerprint[:], result, now.UnixMilli()); err != nil {
		return fmt.Errorf("import: record key: %w", err)
	}
	return nil
}

// conflict says which book already holds b's id or title and author.
func conflict(ctx context.Context, tx *sqlitedb.Tx, b bookshop.Book, taken catalogdb.Taken) string {
	var (
		id            int32
		title, author string
	)
	if b.ID != 0 {
		err := tx.QueryRowContext(ctx, `SELECT title, author FROM books WHERE id = ?`, b.ID).Scan(&title, &author)
		if err == nil {
			return taken.IDUsed(b.ID, title, author)
		}
	}
	err := tx.QueryRowContext(ctx, `SELECT id FROM books WHERE match_key = ?`, catalogdb.MatchKey(b)).Scan(&id)
	if err == nil {
		return taken.TitleUsed(b, id)
	}
	return "the book conflicts with one already in the catalog"
}

// seedBooks writes seed in tx, the transaction that migrates a new
// database, as an import does: a crash half-way leaves the file as it
// was, and a second process that opens the same new file waits for the
// first and then finds it migrated and seeded. A book that the rules of
// an import reject fails the seed.
func seedBooks(ctx context.Context, tx *sqlitedb.Tx, seed []bookshop.Book, limits Limits) error {
	w := newItemWriter(tx, limits, 0, 0)
	for _, b := range seed {
		if err := w.add(ctx, bookshop.ImportItem{Book: b}, ""); err != nil {
			return err
		}
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	res, _, err := w.write(ctx)
	if err == nil && len(res.Rejected) > 0 {
		err = fmt.Errorf("book %d: %s", seed[res.Rejected[0].Index].ID, res.Rejected[0].Reason)
	}
	return err
}
