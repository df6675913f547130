package fromsqlite

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/bookshop-go/bookshop/internal/platform/fault"
)

// position is where a table's copy starts: after the rows an earlier run
// copied.
type position struct {
	rows int64 // the rows PostgreSQL has, the first of SQLite's
	last []any // the last of them, whose key the copy goes on after; nil for none
}

// existing checks what the target table holds before a copy: nothing, or
// the first rows of the file's in primary-key order, as a move cut off
// after some of its batches leaves it (each batch a transaction, in key
// order). It returns how many, and the last. Anything else is refused
// with ErrOtherData: rows the file does not have, or has otherwise,
// which are another shop's, or the file's before it changed.
func existing(ctx context.Context, src *Source, dst *Target, t Table) (position, error) {
	have := NewChecksum()
	var last []any
	pg, err := openPG(ctx, dst, pgSelect(t))
	if err != nil {
		return position{}, fmt.Errorf("table %s: %w", t.Name, err)
	}
	for {
		row, err := pg.next()
		if err == nil && row != nil {
			err = have.Add(row)
		}
		if err != nil {
			pg.close()
			return position{}, fmt.Errorf("table %s: %w", t.Name, err)
		}
		if row == nil {
			break
		}
		last = row
	}
	pg.close()
	if have.Rows() == 0 {
		return position{}, nil
	}
	first := NewChecksum()
	lite, err := openLite(ctx, src, t, liteSelect(t, false, true), have.Rows())
	if err != nil {
		return position{}, fmt.Errorf("table %s: %w", t.Name, err)
	}
	defer lite.close()
	for {
		row, err := lite.next()
		if err == nil && row != nil {
			err = first.Add(row)
		}
		if err != nil {
			return position{}, fmt.Errorf("table %s: %w", t.Name, err)
		}
		if row == nil {
			break
		}
	}
	if first.Rows() == have.Rows() && first.Sum() == have.Sum() {
		return position{rows: have.Rows(), last: last}, nil
	}
	lite.close()
	how, err := firstDifference(ctx, src, dst, t, true)
	if err != nil {
		how = "(" + err.Error() + ")"
	}
	return position{}, fmt.Errorf("%s: %w: table %s holds rows that are not the first rows of the SQLite file %s in key order (%s there): %s. "+
		"They are another shop's, or the file changed since a move was cut off; nothing was written. "+
		"Stop every writer of the file, and move into an empty schema (DROP SCHEMA %s CASCADE, if nothing in it is needed)",
		dst, ErrOtherData, t.Name, src.path, rowCount(have.Rows()), how, ident(dst.schema))
}

// rowCount returns "1 row" or "N rows".
func rowCount(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return strconv.FormatInt(n, 10) + " rows"
}

// copyTable copies the rows of t that follow from (all of them if it is
// empty), in key order, in batches of up to batchRows rows, each one
// INSERT ... ON CONFLICT DO NOTHING in a transaction of its own. It
// returns how many rows it inserted. A run killed at any point leaves the
// batches committed before, and the next run goes on after them (see
// existing).
//
// Fault points, in a binary built with the tag faults (see package
// fault): "migrate-data/SCHEMA.TABLE/batch-N" kills the process after the
// Nth batch of this run's copy of the table is inserted, before it
// commits.
func copyTable(ctx context.Context, src *Source, dst *Target, t Table, from position, batchRows int) (int64, error) {
	batchRows = min(batchRows, maxParams/len(t.Columns))
	var rows *liteRows
	var err error
	if from.last != nil {
		after := make([]any, len(t.Key))
		for i, k := range t.Key {
			after[i] = from.last[k]
		}
		rows, err = openLite(ctx, src, t, liteSelect(t, true, false), after...)
	} else {
		rows, err = openLite(ctx, src, t, liteSelect(t, false, false))
	}
	if err != nil {
		return 0, err
	}
	defer rows.close()

	var copied int64
	batch := make([]any, 0, batchRows*len(t.Columns))
	insert := func(n, number int) error {
		tx, err := dst.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("PostgreSQL: %w", err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
		tag, err := tx.Exec(ctx, insertSQL(t, n), batch...)
		if err != nil {
			return fmt.Errorf("PostgreSQL: batch %d: %w", number, err)
		}
		fault.Point("migrate-data/" + dst.schema + "." + t.Name + "/batch-" + strconv.Itoa(number))
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("PostgreSQL: batch %d: commit: %w", number, err)
		}
		copied += tag.RowsAffected()
		return nil
	}
	n, number := 0, 0
	for {
		row, err := rows.next()
		if err != nil {
			return copied, err
		}
		if row != nil {
			batch = append(batch, row...)
			n++
		}
		if n > 0 && (n == batchRows || row == nil) {
			number++
			if err := insert(n, number); err != nil {
				return copied, err
			}
			batch, n = batch[:0], 0
		}
		if row == nil {
			return copied, nil
		}
	}
}

// insertSQL returns the statement that inserts n rows of t, a parameter
// for each value, and leaves out those whose key (or another unique
// value) is there already.
func insertSQL(t Table, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + ident(t.Name) + " (" + columnList(t) + ") VALUES ")
	p := 1
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range t.Columns {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	b.WriteString(" ON CONFLICT DO NOTHING")
	return b.String()
}

// resetSequences sets each sequence that numbers a column of tables (an
// identity or serial column) past the largest value the column holds,
// and past the largest SQLite ever gave it (AUTOINCREMENT), and never
// back (PostgreSQL may have given numbers since: a move run again after
// the service wrote), so that the next row PostgreSQL numbers takes a
// number never used. A sequence already there is left as it is. It
// returns what it set, "TABLE.COLUMN: next N".
func resetSequences(ctx context.Context, src *Source, dst *Target, tables []Table) ([]string, error) {
	var set []string
	for _, t := range tables {
		for ci, c := range t.Columns {
			if c.Sequence == "" {
				continue
			}
			var largest *int64
			if err := dst.pool.QueryRow(ctx, "SELECT max("+ident(c.Name)+")::bigint FROM "+ident(t.Name)).Scan(&largest); err != nil {
				return set, fmt.Errorf("table %s: the largest %s: %w", t.Name, c.Name, err)
			}
			v := int64(0)
			if largest != nil {
				v = *largest
			}
			if len(t.Key) == 1 && t.Key[0] == ci {
				v = max(v, t.Autoincrement)
			}
			next, err := nextValue(ctx, dst, c.Sequence)
			if err != nil {
				return set, fmt.Errorf("table %s: the sequence of %s: %w", t.Name, c.Name, err)
			}
			if v < next {
				continue // the sequence gives a number past v already
			}
			if _, err := dst.pool.Exec(ctx, `SELECT setval($1::regclass, $2)`, c.Sequence, v); err != nil {
				return set, fmt.Errorf("table %s: set the sequence of %s: %w", t.Name, c.Name, err)
			}
			set = append(set, fmt.Sprintf("%s.%s: next %d", t.Name, c.Name, v+1))
		}
	}
	return set, nil
}

// nextValue returns the number that sequence, PostgreSQL's own name of
// it quoted as it needs (pg_get_serial_sequence), gives next.
func nextValue(ctx context.Context, dst *Target, sequence string) (int64, error) {
	var last, increment int64
	var called bool
	err := dst.pool.QueryRow(ctx, `SELECT s.last_value, s.is_called, p.seqincrement FROM `+sequence+` AS s, pg_sequence AS p WHERE p.seqrelid = $1::regclass`, sequence).
		Scan(&last, &called, &increment)
	if err != nil {
		return 0, err
	}
	if called {
		return last + increment, nil
	}
	return last, nil
}

// checkSequences returns how each sequence that numbers a column of t
// falls short, "" when none does: the number it gives next must be past
// the largest value of the column, and past the largest SQLite ever gave
// the key (AUTOINCREMENT), as resetSequences sets it; otherwise the next
// row PostgreSQL numbers would collide with a row moved, or take a
// deleted one's number.
func checkSequences(ctx context.Context, dst *Target, t Table) (string, error) {
	var short []string
	for ci, c := range t.Columns {
		if c.Sequence == "" {
			continue
		}
		var largest *int64
		if err := dst.pool.QueryRow(ctx, "SELECT max("+ident(c.Name)+")::bigint FROM "+ident(t.Name)).Scan(&largest); err != nil {
			return "", fmt.Errorf("table %s: the largest %s: %w", t.Name, c.Name, err)
		}
		want, what := int64(0), ""
		if largest != nil {
			want, what = *largest, fmt.Sprintf("the largest %s, %d", c.Name, *largest)
		}
		if len(t.Key) == 1 && t.Key[0] == ci && t.Autoincrement > want {
			want, what = t.Autoincrement, fmt.Sprintf("the largest %s SQLite gave, %d", c.Name, t.Autoincrement)
		}
		if what == "" {
			continue
		}
		next, err := nextValue(ctx, dst, c.Sequence)
		if err != nil {
			return "", fmt.Errorf("table %s: the sequence of %s: %w", t.Name, c.Name, err)
		}
		if next <= want {
			short = append(short, fmt.Sprintf("the sequence of %s (%s) gives %d next, not past %s: a new row would take a number already used (run the move again, which sets it)", c.Name, c.Sequence, next, what))
		}
	}
	return strings.Join(short, "; "), nil
}

// verified is the outcome of comparing a table on both sides.
type verified struct {
	rows     int64  // SQLite's
	checksum string // SQLite's
	problem  string // how the sides differ; "" when they do not
}

// verifyTable reads t from both sides at once, each in key order, and
// compares their numbers of rows and checksums; when they differ, it
// finds the first row that does.
func verifyTable(ctx context.Context, src *Source, dst *Target, t Table) (verified, error) {
	type side struct {
		sum *Checksum
		err error
	}
	read := func(s rowStream, err error) side {
		if err != nil {
			return side{err: err}
		}
		defer s.close()
		sum := NewChecksum()
		for {
			row, err := s.next()
			if err == nil && row != nil {
				err = sum.Add(row)
			}
			if err != nil {
				return side{err: err}
			}
			if row == nil {
				return side{sum: sum}
			}
		}
	}
	liteDone := make(chan side, 1)
	go func() { liteDone <- read(openLiteStream(ctx, src, t)) }()
	pg := read(openPGStream(ctx, dst, t))
	lite := <-liteDone
	if lite.err != nil {
		return verified{}, lite.err
	}
	if pg.err != nil {
		return verified{}, pg.err
	}
	v := verified{rows: lite.sum.Rows(), checksum: lite.sum.Sum()}
	if lite.sum.Rows() == pg.sum.Rows() && v.checksum == pg.sum.Sum() {
		return v, nil
	}
	how, err := firstDifference(ctx, src, dst, t, false)
	if err != nil {
		return v, err
	}
	v.problem = fmt.Sprintf("%d rows in SQLite, %d in PostgreSQL; checksums %.12s… and %.12s…; %s",
		lite.sum.Rows(), pg.sum.Rows(), v.checksum, pg.sum.Sum(), how)
	return v, nil
}

// openLiteStream and openPGStream open every row of t, in key order, as
// a rowStream.
func openLiteStream(ctx context.Context, src *Source, t Table) (rowStream, error) {
	return openLite(ctx, src, t, liteSelect(t, false, false))
}

func openPGStream(ctx context.Context, dst *Target, t Table) (rowStream, error) {
	return openPG(ctx, dst, pgSelect(t))
}

// firstDifference walks t on both sides in key order and says where
// they first part: a row one side has and the other not, or a row whose
// values differ in a column (named; its values are not shown, as they
// may be private). With partial, PostgreSQL is to hold the first rows of
// SQLite's only, and what it says first is a row PostgreSQL has that
// SQLite does not, or has otherwise; failing that, a row PostgreSQL lacks
// among those it has. It returns "no row differs" when it finds none.
func firstDifference(ctx context.Context, src *Source, dst *Target, t Table, partial bool) (string, error) {
	lite, err := openLiteStream(ctx, src, t)
	if err != nil {
		return "", err
	}
	defer lite.close()
	pg, err := openPGStream(ctx, dst, t)
	if err != nil {
		return "", err
	}
	defer pg.close()
	a, err := lite.next()
	if err != nil {
		return "", err
	}
	b, err := pg.next()
	if err != nil {
		return "", err
	}
	missing := ""
	for a != nil || b != nil {
		if partial && b == nil {
			break // the rows a cut-off move had not copied yet
		}
		var c int
		switch {
		case a == nil:
			c = 1
		case b == nil:
			c = -1
		default:
			c = compareKeys(t, a, b)
		}
		switch {
		case c < 0:
			m := fmt.Sprintf("row %s is in SQLite, missing from PostgreSQL", describeKey(t, a))
			if !partial {
				return "the first difference: " + m, nil
			}
			if missing == "" {
				missing = m + ", which has rows after it"
			}
			if a, err = lite.next(); err != nil {
				return "", err
			}
			continue
		case c > 0:
			return fmt.Sprintf("the first difference: row %s is in PostgreSQL, not in SQLite", describeKey(t, b)), nil
		}
		for i, col := range t.Columns {
			if !sameValue(a[i], b[i]) {
				return fmt.Sprintf("the first difference: row %s has another %s in PostgreSQL", describeKey(t, a), col.Name), nil
			}
		}
		if a, err = lite.next(); err != nil {
			return "", err
		}
		if b, err = pg.next(); err != nil {
			return "", err
		}
	}
	if missing != "" {
		return "the first difference: " + missing, nil
	}
	return "no row differs", nil
}
