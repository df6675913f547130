package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// importItemColumns are the columns of import_items, in the order
// stagedItem.row gives them.
var importItemColumns = []string{"idx", "line", "id", "category", "title", "author", "year", "price", "currency", "reject"}

// bookInsertColumns are the columns of books an import writes, in the
// order write gives them.
var bookInsertColumns = []string{"id", "category", "title", "author", "year", "match_key", "price", "currency", "version"}

// The bounds of an import's idle time inside its transaction, which
// holds the import lock of every replica: its items are written at the
// latest flushAfter after the first of a batch came, and PostgreSQL ends
// a session whose transaction has been idle for idleSessionTimeout (the
// client that stopped sending, or a replica that vanished without
// closing its connection), which rolls it back and lets the next import
// go. The Catalog's server ends an import whose client pauses for a
// minute (catalog.ImportIdleTimeout) well before.
const (
	flushAfter         = 10 * time.Second
	idleSessionTimeout = 5 * time.Minute
)

// BeginImport implements [bookshop.StreamImporter]. The import is one
// transaction of the database, held until it commits or is closed. It
// waits, until ctx ends, for the import before it: of this DB first,
// then, holding the import lock, of every replica. A key that an import
// has used already makes this one a retry, or a conflict: it then writes
// nothing, only reads its items, to compare them with the first import's
// at Commit. Ending ctx rolls the import back. Errors: Unavailable when
// the database cannot be reached.
func (db *DB) BeginImport(ctx context.Context, key string) (bookshop.PendingImport, error) {
	select {
	case db.importing <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("import: wait for the import before: %w", ctx.Err())
	}
	tx, err := db.db.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		<-db.importing
		return nil, pgdb.Classify(fmt.Errorf("import: begin: %w", err))
	}
	im := &pendingImport{db: db, tx: tx, key: key, items: newItemWriter(tx, db.limits)}
	readOnly, err := begin(ctx, tx, key)
	if err != nil {
		im.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("import: wait for the import before: %w", ctx.Err())
		}
		return nil, pgdb.Classify(err)
	}
	im.items.readOnly = readOnly
	return im, nil
}

// begin takes the import lock in tx, waiting for the import that holds
// it, empties import_items, and reports whether key (when not "") was
// used by an import already.
func begin(ctx context.Context, tx pgx.Tx, key string) (used bool, err error) {
	if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL idle_in_transaction_session_timeout = %d`, idleSessionTimeout.Milliseconds())); err != nil {
		return false, fmt.Errorf("import: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, ImportLockKey); err != nil {
		return false, fmt.Errorf("import: wait for the import before: %w", err)
	}
	// import_items is empty outside an import, as an import empties it
	// before it commits and a crash rolls it back: emptied here too, so
	// that no bug of an earlier version can leave rows to this one.
	if _, err := tx.Exec(ctx, `DELETE FROM import_items`); err != nil {
		return false, fmt.Errorf("import: empty import_items: %w", err)
	}
	if key == "" {
		return false, nil
	}
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM import_keys WHERE key = $1)`, key).Scan(&used); err != nil {
		return false, fmt.Errorf("import: read key: %w", err)
	}
	return used, nil
}

// ImportBooks implements [bookshop.Importer]: BeginImport, each item
// added, and Commit, with the rules of package sqlite's: each item is
// trimmed and checked (Book.Validate); ids and titles and authors already
// taken, in the catalog or earlier in items, are refused; a book with id
// 0 gets the next id after the catalog's highest and every id the items
// ask for, or is refused once that would pass 2147483647; an import past
// the limits is refused whole (Exhausted). The valid books are written
// in one transaction, as the catalog's next version; if ctx ends or a
// write fails, nothing is written.
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
	tx     pgx.Tx
	key    string
	items  *itemWriter
	closed bool
}

// Add implements [bookshop.PendingImport].
func (im *pendingImport) Add(ctx context.Context, it bookshop.ImportItem) error {
	return pgdb.Classify(im.items.add(ctx, it, ""))
}

// Reject implements [bookshop.PendingImport].
func (im *pendingImport) Reject(ctx context.Context, it bookshop.ImportItem, reason string) error {
	return pgdb.Classify(im.items.add(ctx, it, reason))
}

// Commit implements [bookshop.PendingImport]: for an import whose key was
// used, the first import's result (Replayed) or Conflict, and nothing
// written; otherwise the import written as the catalog's next version,
// its key recorded, the other replicas notified, and the snapshot given
// the books written (after the imports of other replicas before it).
func (im *pendingImport) Commit(ctx context.Context) (bookshop.ImportResult, error) {
	if im.closed {
		return bookshop.ImportResult{}, errors.New("import: commit after close")
	}
	defer im.Close()
	res, version, added, err := im.commit(ctx)
	if err != nil {
		return bookshop.ImportResult{}, pgdb.Classify(err)
	}
	if len(added) > 0 {
		im.db.committed(ctx, version, added)
	}
	res.Books = added
	return res, nil
}

// commit is Commit's work in the database.
func (im *pendingImport) commit(ctx context.Context) (bookshop.ImportResult, int64, []bookshop.Book, error) {
	if err := im.items.flush(ctx); err != nil {
		return bookshop.ImportResult{}, 0, nil, err
	}
	fingerprint := im.items.fp.Sum()
	if im.items.readOnly {
		prior, err := importByKey(ctx, im.tx, im.key, fingerprint)
		return prior, 0, nil, err
	}
	res, version, added, err := im.items.write(ctx)
	if err != nil {
		return bookshop.ImportResult{}, 0, nil, err
	}
	if im.key != "" {
		if err := recordImportKey(ctx, im.tx, im.key, fingerprint, res); err != nil {
			return bookshop.ImportResult{}, 0, nil, err
		}
	}
	if len(added) > 0 {
		if err := notify(ctx, im.tx, version); err != nil {
			return bookshop.ImportResult{}, 0, nil, err
		}
	}
	if err := im.tx.Commit(ctx); err != nil {
		return bookshop.ImportResult{}, 0, nil, fmt.Errorf("import: commit: %w", err)
	}
	return res, version, added, nil
}

// Close implements [bookshop.PendingImport]: it rolls back what Commit
// has not committed, which lets the next import of any replica begin,
// and the next of this DB.
func (im *pendingImport) Close() {
	if im.closed {
		return
	}
	im.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	im.tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit; a failed rollback ends the connection, and the transaction with it
	<-im.db.importing
}

// stagedItem is an item as import_items holds it.
type stagedItem struct {
	idx    int64
	item   bookshop.ImportItem
	reject *string // why it is refused before it is checked, or nil
}

// row returns the item's values, in the order of importItemColumns.
func (s stagedItem) row() []any {
	b := s.item.Book
	return []any{s.idx, int64(s.item.Line), int64(b.ID), int64(b.Category), b.Title, b.Author, int64(b.Year), b.Price.Units, b.Price.Currency, s.reject}
}

// itemWriter takes an import's items as they come, fingerprints them and
// writes them to import_items in batches; write then checks them and
// writes the valid ones to books. Nothing it writes is committed: the
// caller commits tx.
type itemWriter struct {
	tx       pgx.Tx
	readOnly bool // fingerprint the items, but write none
	n        int64
	batch    []stagedItem
	first    time.Time // when the batch's first item came
	fp       *catalogdb.Fingerprint
	limits   Limits
}

// newItemWriter returns an itemWriter of tx, for a catalog held to limits.
func newItemWriter(tx pgx.Tx, limits Limits) *itemWriter {
	return &itemWriter{tx: tx, fp: catalogdb.NewFingerprint(), batch: make([]stagedItem, 0, catalogdb.BatchRows), limits: limits}
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
		s.reject = &reject
	}
	s = storable(s)
	if len(w.batch) == 0 {
		w.first = time.Now()
	}
	w.batch = append(w.batch, s)
	if len(w.batch) == catalogdb.BatchRows || time.Since(w.first) >= flushAfter {
		return w.flush(ctx)
	}
	return nil
}

// storable returns s with its strings as PostgreSQL's text holds them:
// valid UTF-8 without U+0000, which it refuses, and SQLite keeps. An
// item whose title, author or currency is not, is refused by
// Book.Validate (not UTF-8, or a control character): its reason is
// decided here, as write would decide it, and its text, which nothing
// reads again, made storable.
func storable(s stagedItem) stagedItem {
	b := &s.item.Book
	if storableText(b.Title) && storableText(b.Author) && storableText(b.Price.Currency) && (s.reject == nil || storableText(*s.reject)) {
		return s
	}
	if s.reject == nil {
		checked := *b
		checked.Title, checked.Author = strings.TrimSpace(checked.Title), strings.TrimSpace(checked.Author)
		reason := "the book's text is not valid UTF-8"
		if err := checked.Validate(); err != nil {
			reason = err.Error()
		}
		s.reject = &reason
	}
	reason := toText(*s.reject)
	s.reject = &reason
	b.Title, b.Author, b.Price.Currency = toText(b.Title), toText(b.Author), toText(b.Price.Currency)
	return s
}

// storableText reports whether s is valid UTF-8 without U+0000.
func storableText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// toText returns s as valid UTF-8 without U+0000, each byte that is not
// and each U+0000 replaced with U+FFFD.
func toText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// flush writes the items held to import_items, in one COPY.
func (w *itemWriter) flush(ctx context.Context) error {
	if len(w.batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	_, err := w.tx.CopyFrom(ctx, pgx.Identifier{"import_items"}, importItemColumns,
		pgx.CopyFromSlice(len(w.batch), func(i int) ([]any, error) { return w.batch[i].row(), nil }))
	if err != nil {
		return fmt.Errorf("import: hold items: %w", err)
	}
	clear(w.batch) // drop the strings before the next batch comes
	w.batch = w.batch[:0]
	return nil
}

// candidate is an item of a batch being written: its book, trimmed, and
// why it is refused before the database is asked ("" when it is not).
type candidate struct {
	stagedItem
	book   bookshop.Book
	reason string
}

// held is a book already in the books table, as a candidate meets it.
type held struct {
	title, author string
}

// write checks the items held in import_items, in order, writes the valid
// ones to books, as the catalog's next version, and empties import_items.
// It returns the report, the version and the books written, with their
// ids. The caller commits. It decides as package sqlite's does, on the
// catalog as the import lock leaves it: the books, their text and their
// highest id are counted in the database, not in the snapshot, which may
// not hold another replica's import yet. When the books written would
// take the catalog past its limits, it writes them all, to count them,
// but holds no more of them, and returns an Exhausted error that says
// how far: the caller must not commit.
func (w *itemWriter) write(ctx context.Context) (bookshop.ImportResult, int64, []bookshop.Book, error) {
	var (
		res           bookshop.ImportResult
		books         int
		text, version int64
		maxID, staged int64
	)
	if err := w.tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(octet_length(title) + octet_length(author)), 0)::bigint,
		coalesce(max(id), 0)::bigint, coalesce(max(version), 0)::bigint + 1 FROM books`).Scan(&books, &text, &maxID, &version); err != nil {
		return res, 0, nil, fmt.Errorf("import: count the catalog: %w", err)
	}
	// A book without an id gets the next id after every id the catalog
	// and this import's rows hold, so that the result is the same
	// whatever the order of the rows (see package sqlite).
	if err := w.tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM import_items WHERE reject IS NULL`).Scan(&staged); err != nil {
		return res, 0, nil, fmt.Errorf("import: read the highest id: %w", err)
	}
	next := max(maxID, staged)
	reject := func(c candidate, reason string) {
		if len(res.Rejected) < bookshop.MaxRejectionsReported {
			res.Rejected = append(res.Rejected, bookshop.Rejection{Index: int(c.idx), Line: c.item.Line, Reason: reason})
		}
	}
	taken := make(catalogdb.Taken) // id -> line, for books of this import
	var added []bookshop.Book      // as written, with their ids
	over := false
	cands := make([]candidate, 0, catalogdb.BatchRows)
	var rows [][]any
	for from := int64(0); from < w.n; from += catalogdb.BatchRows {
		if err := ctx.Err(); err != nil {
			return bookshop.ImportResult{}, 0, nil, fmt.Errorf("import: %w", err)
		}
		batch, err := w.read(ctx, from)
		if err != nil {
			return bookshop.ImportResult{}, 0, nil, err
		}
		// The batch's books, checked, and the ids and keys they ask for:
		// the books that hold them already are read in one statement.
		cands = cands[:0]
		var (
			ids  []int32
			keys []string
		)
		for _, s := range batch {
			c := candidate{stagedItem: s}
			switch {
			case s.reject != nil:
				c.reason = *s.reject
			default:
				c.book = s.item.Book
				c.book.Title = strings.TrimSpace(c.book.Title)
				c.book.Author = strings.TrimSpace(c.book.Author)
				if err := c.book.Validate(); err != nil {
					c.reason = err.Error()
					break
				}
				if c.book.ID != 0 {
					ids = append(ids, c.book.ID)
				}
				keys = append(keys, catalogdb.MatchKey(c.book))
			}
			cands = append(cands, c)
		}
		byID, byKey, err := w.holding(ctx, ids, keys)
		if err != nil {
			return bookshop.ImportResult{}, 0, nil, err
		}
		rows = rows[:0]
		for _, c := range cands {
			if c.reason != "" {
				reject(c, c.reason)
				continue
			}
			b := c.book
			key := catalogdb.MatchKey(b)
			if b.ID != 0 {
				if h, ok := byID[b.ID]; ok {
					reject(c, taken.IDUsed(b.ID, h.title, h.author))
					continue
				}
			}
			if id, ok := byKey[key]; ok {
				reject(c, taken.TitleUsed(b, id))
				continue
			}
			if b.ID == 0 {
				if next >= math.MaxInt32 {
					reject(c, fmt.Sprintf("id: no id is left after %d, the highest a catalog has: give the book an id of its own", math.MaxInt32))
					continue
				}
				b.ID = int32(next + 1)
			}
			byID[b.ID] = held{b.Title, b.Author}
			byKey[key] = b.ID
			next = max(next, int64(b.ID))
			rows = append(rows, []any{b.ID, b.Category.String(), b.Title, b.Author, int64(b.Year), key, b.Price.Units, b.Price.Currency, version})
			res.Imported++
			books++
			text += catalogdb.TextBytes(b)
			if over = over || w.limits.Over(books, text); over {
				continue
			}
			taken[b.ID] = c.item.Line
			added = append(added, b)
		}
		if len(rows) > 0 {
			if _, err := w.tx.CopyFrom(ctx, pgx.Identifier{"books"}, bookInsertColumns, pgx.CopyFromRows(rows)); err != nil {
				return bookshop.ImportResult{}, 0, nil, fmt.Errorf("import: write books: %w", err)
			}
		}
	}
	if over {
		return bookshop.ImportResult{}, 0, nil, w.limits.Error(res.Imported, books, text)
	}
	// TRUNCATE rather than DELETE: no dead rows left behind for VACUUM.
	if _, err := w.tx.Exec(ctx, `TRUNCATE import_items`); err != nil {
		return bookshop.ImportResult{}, 0, nil, fmt.Errorf("import: forget the items: %w", err)
	}
	return res, version, added, nil
}

// holding returns the books of the table that hold one of ids, by id,
// and one of keys, by match key: in this transaction, which sees the
// books this import wrote.
func (w *itemWriter) holding(ctx context.Context, ids []int32, keys []string) (map[int32]held, map[string]int32, error) {
	byID := make(map[int32]held, len(ids))
	byKey := make(map[string]int32, len(keys))
	if len(keys) == 0 {
		return byID, byKey, nil
	}
	rows, err := w.tx.Query(ctx, `SELECT id, title, author, match_key FROM books WHERE id = ANY($1) OR match_key = ANY($2)`, ids, keys)
	if err != nil {
		return nil, nil, fmt.Errorf("import: look up the books: %w", err)
	}
	var (
		id  int32
		h   held
		key string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &h.title, &h.author, &key}, func() error {
		byID[id] = h
		byKey[key] = id
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("import: look up the books: %w", err)
	}
	return byID, byKey, nil
}

// read returns up to catalogdb.BatchRows items of import_items from
// index from, in order.
func (w *itemWriter) read(ctx context.Context, from int64) ([]stagedItem, error) {
	rows, err := w.tx.Query(ctx, `SELECT idx, line, id, category, title, author, year, price, currency, reject
		FROM import_items WHERE idx >= $1 ORDER BY idx LIMIT $2`, from, catalogdb.BatchRows)
	if err != nil {
		return nil, fmt.Errorf("import: read the items: %w", err)
	}
	batch := w.batch[:0]
	var (
		s                 stagedItem
		line, id, cat, yr int64
	)
	b := &s.item.Book
	_, err = pgx.ForEachRow(rows, []any{&s.idx, &line, &id, &cat, &b.Title, &b.Author, &yr, &b.Price.Units, &b.Price.Currency, &s.reject}, func() error {
		t := s
		t.item.Line, t.item.Book.ID, t.item.Book.Category, t.item.Book.Year = int(line), int32(id), bookshop.Category(cat), int(yr)
		batch = append(batch, t)
		s.reject = nil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import: read the items: %w", err)
	}
	return batch, nil
}

// importByKey returns the result of the import that key wrote: Replayed
// when it was of the same items (its fingerprint), a Conflict when it was
// of others.
func importByKey(ctx context.Context, tx pgx.Tx, key string, fingerprint [sha256.Size]byte) (bookshop.ImportResult, error) {
	var (
		fp     []byte
		result string
	)
	if err := tx.QueryRow(ctx, `SELECT fingerprint, result FROM import_keys WHERE key = $1`, key).Scan(&fp, &result); err != nil {
		return bookshop.ImportResult{}, fmt.Errorf("import: read key: %w", err)
	}
	if !bytes.Equal(fp, fingerprint[:]) {
		return bookshop.ImportResult{}, catalogdb.KeyConflict(key)
	}
	res, err := catalogdb.DecodeResult(result)
	if err != nil {
		return bookshop.ImportResult{}, fmt.Errorf("import: key %q: %w", key, err)
	}
	return res, nil
}

// recordImportKey records key, the fingerprint of its items and res in
// tx, and deletes the keys older than bookshop.ImportKeyTTL.
func recordImportKey(ctx context.Context, tx pgx.Tx, key string, fingerprint [sha256.Size]byte, res bookshop.ImportResult) error {
	result, err := catalogdb.EncodeResult(res)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	now := time.Now()
	if _, err := tx.Exec(ctx, `DELETE FROM import_keys WHERE created_at < $1`, now.Add(-bookshop.ImportKeyTTL).UnixMilli()); err != nil {
		return fmt.Errorf("import: forget old keys: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO import_keys (key, fingerprint, result, created_at) VALUES ($1, $2, $3, $4)`,
		key, fingerprint[:], result, now.UnixMilli()); err != nil {
		return fmt.Errorf("import: record key: %w", err)
	}
	return nil
}

// seedBooks writes seed in tx, the transaction that makes a new schema,
// as an import does (the catalog's first version): a failure or a crash
// leaves the schema to be made again. A book that the rules of an import
// reject fails the seed.
func seedBooks(ctx context.Context, tx pgx.Tx, seed []bookshop.Book, limits Limits) error {
	w := newItemWriter(tx, limits)
	for _, b := range seed {
		if err := w.add(ctx, bookshop.ImportItem{Book: b}, ""); err != nil {
			return err
		}
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	res, _, _, err := w.write(ctx)
	if err == nil && len(res.Rejected) > 0 {
		err = fmt.Errorf("book %d: %s", seed[res.Rejected[0].Index].ID, res.Rejected[0].Reason)
	}
	return err
}
