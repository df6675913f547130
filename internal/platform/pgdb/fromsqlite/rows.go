package fromsqlite

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Checksum is the checksum of a table's rows, computed the same way from
// either database: each row, in primary-key order, becomes one canonical
// text (see AppendRow), and the checksum is the SHA-256 of those texts
// one after the other, with the number of rows. Two tables with the same
// checksum have the same rows, value for value, in the same columns.
type Checksum struct {
	h    hash.Hash
	rows int64
	buf  []byte
}

// NewChecksum returns the checksum of no rows.
func NewChecksum() *Checksum { return &Checksum{h: sha256.New()} }

// Add adds the next row, its values in the columns' order. Errors: a
// value of a type that has no canonical text (see AppendRow).
func (c *Checksum) Add(row []any) error {
	var err error
	c.buf, err = AppendRow(c.buf[:0], row)
	if err != nil {
		return err
	}
	c.h.Write(c.buf)
	c.rows++
	return nil
}

// Rows returns how many rows were added.
func (c *Checksum) Rows() int64 { return c.rows }

// Sum returns the SHA-256, in hex.
func (c *Checksum) Sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

// AppendRow appends the canonical text of row to b: for each value, in
// order, a letter that says its kind and the value, such that no two rows
// have the same text: n for NULL; i, the integer in decimal, and ;; f,
// the real in Go's shortest form that reads back the same (strconv 'g',
// -1), and ;; t, the text's length in bytes, :, and its bytes; b, the
// blob's length, :, and its bytes; and a newline after the row. A value
// is nil, an integer (of any size), a float64, a string or a []byte, as
// the drivers of both databases give them; any other type is an error.
func AppendRow(b []byte, row []any) ([]byte, error) {
	for _, v := range row {
		switch v := v.(type) {
		case nil:
			b = append(b, 'n')
		case int64:
			b = strconv.AppendInt(append(b, 'i'), v, 10)
			b = append(b, ';')
		case int32:
			b = strconv.AppendInt(append(b, 'i'), int64(v), 10)
			b = append(b, ';')
		case int16:
			b = strconv.AppendInt(append(b, 'i'), int64(v), 10)
			b = append(b, ';')
		case int:
			b = strconv.AppendInt(append(b, 'i'), int64(v), 10)
			b = append(b, ';')
		case float64:
			b = strconv.AppendFloat(append(b, 'f'), v, 'g', -1, 64)
			b = append(b, ';')
		case string:
			b = strconv.AppendInt(append(b, 't'), int64(len(v)), 10)
			b = append(append(b, ':'), v...)
		case []byte:
			b = strconv.AppendInt(append(b, 'b'), int64(len(v)), 10)
			b = append(append(b, ':'), v...)
		default:
			return b, fmt.Errorf("a value of type %T has no canonical text", v)
		}
	}
	return append(b, '\n'), nil
}

// ident quotes name as an identifier, as both databases read it.
func ident(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// columnList returns t's columns, quoted, separated by commas.
func columnList(t Table) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = ident(c.Name)
	}
	return strings.Join(names, ", ")
}

// liteSelect returns the query of t's rows in SQLite, in primary-key
// order, after the key given as len(t.Key) parameters if after, and at
// most the first rows given as one more parameter if limit. The key's
// text columns sort BINARY (Plan checks it), byte by byte as
// PostgreSQL's "C" collation.
func liteSelect(t Table, after, limit bool) string {
	keys := make([]string, len(t.Key))
	marks := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = ident(t.Columns[k].Name)
		marks[i] = "?"
	}
	q := "SELECT " + columnList(t) + " FROM " + ident(t.Name)
	if after {
		q += " WHERE (" + strings.Join(keys, ", ") + ") > (" + strings.Join(marks, ", ") + ")"
	}
	q += " ORDER BY " + strings.Join(keys, ", ")
	if limit {
		q += " LIMIT ?"
	}
	return q
}

// pgSelect returns the query of t's rows in PostgreSQL, in primary-key
// order, its text columns byte by byte (COLLATE "C") as SQLite's BINARY,
// whatever the column's collation.
func pgSelect(t Table) string {
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = ident(t.Columns[k].Name)
		if t.Columns[k].Kind == Text {
			keys[i] += ` COLLATE "C"`
		}
	}
	return "SELECT " + columnList(t) + " FROM " + ident(t.Name) + " ORDER BY " + strings.Join(keys, ", ")
}

// rowStream is a table's rows, read in primary-key order from one side.
type rowStream interface {
	// next returns the next row, its values normalized (see normalize),
	// or nil at the end. The row is the caller's to keep.
	next() ([]any, error)
	close()
}

// liteRows reads rows from SQLite.
type liteRows struct {
	rows *sql.Rows
	dest []any
}

// openLite runs query on src with args and returns its rows.
func openLite(ctx context.Context, src *Source, t Table, query string, args ...any) (*liteRows, error) {
	rows, err := src.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("SQLite: %w", err)
	}
	return &liteRows{rows: rows, dest: make([]any, len(t.Columns))}, nil
}

func (r *liteRows) next() ([]any, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return nil, fmt.Errorf("SQLite: %w", err)
		}
		return nil, nil
	}
	row := make([]any, len(r.dest))
	for i := range row {
		r.dest[i] = &row[i]
	}
	if err := r.rows.Scan(r.dest...); err != nil {
		return nil, fmt.Errorf("SQLite: %w", err)
	}
	return normalize(row)
}

func (r *liteRows) close() { r.rows.Close() }

// pgRows reads rows from PostgreSQL.
type pgRows struct {
	rows pgx.Rows
}

// openPG runs query on dst and returns its rows.
func openPG(ctx context.Context, dst *Target, query string) (*pgRows, error) {
	rows, err := dst.pool.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	return &pgRows{rows: rows}, nil
}

func (r *pgRows) next() ([]any, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return nil, fmt.Errorf("PostgreSQL: %w", err)
		}
		return nil, nil
	}
	row, err := r.rows.Values()
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	return normalize(row)
}

func (r *pgRows) close() { r.rows.Close() }

// normalize turns the values the drivers give into those of one kind
// each: integers of every size into int64. It fails on a value of a type
// that a move does not keep (Plan lets through only columns whose values
// are of the kinds here).
func normalize(row []any) ([]any, error) {
	for i, v := range row {
		switch v := v.(type) {
		case nil, int64, float64, string, []byte:
		case int32:
			row[i] = int64(v)
		case int16:
			row[i] = int64(v)
		case int:
			row[i] = int64(v)
		default:
			return nil, fmt.Errorf("column %d: a value of type %T, which a move does not keep", i+1, v)
		}
	}
	return row, nil
}

// compareKeys compares the keys of rows a and b of t, in the order of
// both databases' primary keys: integers by value, reals by value, text
// and blobs byte by byte; NULL first.
func compareKeys(t Table, a, b []any) int {
	for _, k := range t.Key {
		if c := compareValues(a[k], b[k]); c != 0 {
			return c
		}
	}
	return 0
}

// compareValues compares two normalized values as SQLite does: NULL,
// then numbers, then text, then blobs.
func compareValues(a, b any) int {
	rank := func(v any) int {
		switch v.(type) {
		case nil:
			return 0
		case int64, float64:
			return 1
		case string:
			return 2
		}
		return 3
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	switch a := a.(type) {
	case int64:
		switch b := b.(type) {
		case int64:
			return cmp.Compare(a, b)
		case float64:
			return cmp.Compare(float64(a), b)
		}
	case float64:
		switch b := b.(type) {
		case int64:
			return cmp.Compare(a, float64(b))
		case float64:
			return cmp.Compare(a, b)
		}
	case string:
		return strings.Compare(a, b.(string))
	case []byte:
		return bytes.Compare(a, b.([]byte))
	}
	return 0
}

// sameValue reports whether two normalized values are equal, kind and
// all.
func sameValue(a, b any) bool {
	x, err1 := AppendRow(nil, []any{a})
	y, err2 := AppendRow(nil, []any{b})
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// describeKey returns the key of row of t for messages: (name=value,
// ...), each text at most 40 characters.
func describeKey(t Table, row []any) string {
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		var v string
		switch x := row[k].(type) {
		case nil:
			v = "NULL"
		case string:
			if len(x) > 40 {
				x = x[:40] + "…"
			}
			v = strconv.Quote(x)
		case []byte:
			if len(x) > 20 {
				v = "x'" + hex.EncodeToString(x[:20]) + "…'"
			} else {
				v = "x'" + hex.EncodeToString(x) + "'"
			}
		default:
			v = fmt.Sprint(x)
		}
		parts[i] = t.Columns[k].Name + "=" + v
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
