package fromsqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Kind is the kind of a column's values, as both databases keep them.
type Kind int

// The kinds of column a move copies: those whose values go from SQLite to
// PostgreSQL and back unchanged.
const (
	Unsupported Kind = iota
	Integer          // SQLite INTEGER; PostgreSQL smallint, integer, bigint
	Text             // SQLite TEXT; PostgreSQL text, character varying
	Blob             // SQLite BLOB; PostgreSQL bytea
	Real             // SQLite REAL; PostgreSQL double precision
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case Integer:
		return "integer"
	case Text:
		return "text"
	case Blob:
		return "blob"
	case Real:
		return "real"
	}
	return "unsupported"
}

// Column is a column that both databases' tables have.
type Column struct {
	Name     string
	Kind     Kind
	SQLite   string // the declared type, such as INTEGER
	Postgres string // the type, such as bigint
	// Sequence is the sequence PostgreSQL numbers the column with (an
	// identity or serial column), schema-qualified; "" for none.
	Sequence string
}

// Table is a table that both databases have, with the same columns and
// primary key.
type Table struct {
	Name    string
	Columns []Column // in the SQLite table's order
	Key     []int    // the primary key: indexes into Columns, in the key's order
	Parents []string // the tables its foreign keys refer to, but itself
	// Autoincrement is SQLite's counter of the table's INTEGER PRIMARY
	// KEY AUTOINCREMENT: the largest id it ever gave, 0 if none.
	Autoincrement int64
}

// Plan reads the tables of src (but SQLite's own and schema_migrations)
// and of dst's schema (but schema_migrations), and returns them in the
// order to copy them: each after the tables its foreign keys refer to.
// It fails, naming every difference, unless both have the same tables,
// each with the same columns (by name, of kinds that keep their values:
// see Kind) and the same primary key; unless every table has a primary
// key, whose text columns sort byte by byte (SQLite's BINARY); and when
// foreign keys make a cycle. A difference is a bug in one of the two
// stores, which the service's migrations must fix: the move does not
// paper over it.
func Plan(ctx context.Context, src *Source, dst *Target) ([]Table, error) {
	lite, err := src.tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("SQLite file %s: read the tables: %w", src.path, err)
	}
	pg, err := dst.tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: read the tables: %w", dst, err)
	}
	var problems []string
	var tables []Table
	for _, name := range sortedKeys(lite) {
		l := lite[name]
		p, ok := pg[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("table %s is in SQLite, not in PostgreSQL", name))
			continue
		}
		t, diffs := match(l, p)
		problems = append(problems, diffs...)
		tables = append(tables, t)
	}
	for _, name := range sortedKeys(pg) {
		if _, ok := lite[name]; !ok {
			problems = append(problems, fmt.Sprintf("table %s is in PostgreSQL, not in SQLite", name))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("the SQLite file %s and %s differ, which is a bug in one of the service's two stores (their migrations must make the same tables and columns): %s",
			src.path, dst, strings.Join(problems, "; "))
	}
	return parentsFirst(tables)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// liteTable and pgTable are a table as one database describes it.
type (
	liteTable struct {
		name          string
		columns       []liteColumn
		parents       []string
		binaryKey     bool // every text column of the key sorts BINARY
		autoincrement int64
	}
	liteColumn struct {
		name, decl string
		key        int // its place in the primary key, from 1; 0 if not in it
	}
	pgTable struct {
		name    string
		columns map[string]pgColumn
		key     []string
		parents []string
	}
	pgColumn struct {
		typ, sequence string
	}
)

// match returns the table that l and p are, and the differences between
// them.
func match(l liteTable, p pgTable) (Table, []string) {
	t := Table{Name: l.name, Autoincrement: l.autoincrement}
	var problems []string
	seen := make(map[string]bool)
	var liteKey []string
	keyAt := make(map[int]int) // place in the key -> column index
	for _, lc := range l.columns {
		seen[lc.name] = true
		pc, ok := p.columns[lc.name]
		if !ok {
			problems = append(problems, fmt.Sprintf("table %s: column %s is in SQLite, not in PostgreSQL", l.name, lc.name))
			continue
		}
		c := Column{Name: lc.name, Kind: liteKind(lc.decl), SQLite: lc.decl, Postgres: pc.typ, Sequence: pc.sequence}
		if pk := pgKind(pc.typ); c.Kind == Unsupported || pk != c.Kind {
			problems = append(problems, fmt.Sprintf("table %s: column %s is %s in SQLite, %s in PostgreSQL: a move keeps the values of integer, text, blob and real columns only, each the same kind on both sides",
				l.name, lc.name, cmp.Or(lc.decl, "untyped"), pc.typ))
		}
		if lc.key > 0 {
			keyAt[lc.key] = len(t.Columns)
		}
		t.Columns = append(t.Columns, c)
	}
	for name := range p.columns {
		if !seen[name] {
			problems = append(problems, fmt.Sprintf("table %s: column %s is in PostgreSQL, not in SQLite", l.name, name))
		}
	}
	for i := 1; i <= len(keyAt); i++ {
		ci, ok := keyAt[i]
		if !ok {
			break
		}
		t.Key = append(t.Key, ci)
		liteKey = append(liteKey, t.Columns[ci].Name)
	}
	switch {
	case len(liteKey) == 0:
		problems = append(problems, fmt.Sprintf("table %s has no primary key in SQLite: a move copies and compares rows in primary-key order", l.name))
	case !slices.Equal(liteKey, p.key):
		problems = append(problems, fmt.Sprintf("table %s: the primary key is (%s) in SQLite, (%s) in PostgreSQL",
			l.name, strings.Join(liteKey, ", "), strings.Join(p.key, ", ")))
	}
	if !l.binaryKey {
		problems = append(problems, fmt.Sprintf("table %s: a text column of the primary key has a collation other than BINARY in SQLite: a move compares keys byte by byte", l.name))
	}
	parents := make(map[string]bool)
	for _, ps := range [][]string{l.parents, p.parents} {
		for _, parent := range ps {
			if parent != l.name && !parents[parent] {
				parents[parent] = true
				t.Parents = append(t.Parents, parent)
			}
		}
	}
	slices.Sort(t.Parents)
	return t, problems
}

// liteKind returns the kind of a column of SQLite's declared type decl,
// by SQLite's rules of type affinity; Unsupported for NUMERIC affinity
// (and ANY), whose values may change type on the way.
func liteKind(decl string) Kind {
	d := strings.ToUpper(decl)
	switch {
	case strings.Contains(d, "INT"):
		return Integer
	case strings.Contains(d, "CHAR"), strings.Contains(d, "CLOB"), strings.Contains(d, "TEXT"):
		return Text
	case strings.Contains(d, "BLOB"):
		return Blob
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"):
		return Real
	}
	return Unsupported
}

// pgKind returns the kind of a column of PostgreSQL's type typ, as
// information_schema.columns names it.
func pgKind(typ string) Kind {
	switch typ {
	case "smallint", "integer", "bigint":
		return Integer
	case "text", "character varying":
		return Text
	case "bytea":
		return Blob
	case "double precision":
		return Real
	}
	return Unsupported
}

// parentsFirst returns tables ordered so that each comes after its
// parents, and otherwise by name. A parent that is not among them (in
// another schema) is left to be there. It fails on a cycle.
func parentsFirst(tables []Table) ([]Table, error) {
	byName := make(map[string]Table, len(tables))
	for _, t := range tables {
		byName[t.Name] = t
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int)
	var ordered []Table
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		t, ok := byName[name]
		if !ok {
			return nil
		}
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("the foreign keys of tables %s make a cycle: a move copies parents before children", strings.Join(append(path, name), " -> "))
		}
		state[name] = visiting
		for _, p := range t.Parents {
			if err := visit(p, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		ordered = append(ordered, t)
		return nil
	}
	for _, t := range tables {
		if err := visit(t.Name, nil); err != nil {
			return nil, err
		}
	}
	return ordered, nil
}

// tables returns the file's tables, but SQLite's own and
// schema_migrations, by name.
func (s *Source) tables(ctx context.Context) (map[string]liteTable, error) {
	names, err := queryStrings(ctx, s, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var hasSequence bool
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'`).Scan(&hasSequence); err != nil {
		return nil, err
	}
	tables := make(map[string]liteTable, len(names))
	for _, name := range names {
		t := liteTable{name: name, binaryKey: true}
		rows, err := s.db.QueryContext(ctx, `SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid`, name)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		for rows.Next() {
			var c liteColumn
			if err := rows.Scan(&c.name, &c.decl, &c.key); err != nil {
				rows.Close()
				return nil, fmt.Errorf("table %s: %w", name, err)
			}
			t.columns = append(t.columns, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		if t.parents, err = queryStrings(ctx, s, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?) ORDER BY 1`, name); err != nil {
			return nil, fmt.Errorf("table %s: foreign keys: %w", name, err)
		}
		// The collations of the key's columns: those of the index that
		// makes the key (none for an INTEGER PRIMARY KEY, the rowid).
		colls, err := queryStrings(ctx, s, `SELECT x.coll FROM pragma_index_list(?) AS l, pragma_index_xinfo(l.name) AS x
			WHERE l.origin = 'pk' AND x.key = 1`, name)
		if err != nil {
			return nil, fmt.Errorf("table %s: the primary key's collation: %w", name, err)
		}
		for _, c := range colls {
			if !strings.EqualFold(c, "BINARY") {
				t.binaryKey = false
			}
		}
		if hasSequence {
			err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?`, name).Scan(&t.autoincrement)
			if err != nil {
				return nil, fmt.Errorf("table %s: its AUTOINCREMENT counter: %w", name, err)
			}
		}
		tables[name] = t
	}
	return tables, nil
}

// queryStrings returns the one text column of query's rows.
func queryStrings(ctx context.Context, s *Source, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// tables returns the schema's tables, but schema_migrations, by name.
func (t *Target) tables(ctx context.Context) (map[string]pgTable, error) {
	tables := make(map[string]pgTable)
	rows, err := t.pool.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type,
			coalesce(pg_get_serial_sequence(format('%I.%I', c.table_schema, c.table_name), c.column_name), '')
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_migrations'
		ORDER BY c.table_name, c.ordinal_position`, t.schema)
	if err != nil {
		return nil, err
	}
	var table, column string
	var c pgColumn
	_, err = pgx.ForEachRow(rows, []any{&table, &column, &c.typ, &c.sequence}, func() error {
		pt, ok := tables[table]
		if !ok {
			pt = pgTable{name: table, columns: make(map[string]pgColumn)}
		}
		pt.columns[column] = c
		tables[table] = pt
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows, err = t.pool.Query(ctx, `SELECT c.relname, a.attname
		FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
		WHERE n.nspname = $1 AND i.indisprimary
		ORDER BY c.relname, k.ord`, t.schema)
	if err != nil {
		return nil, err
	}
	_, err = pgx.ForEachRow(rows, []any{&table, &column}, func() error {
		if pt, ok := tables[table]; ok {
			pt.key = append(pt.key, column)
			tables[table] = pt
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var parent string
	rows, err = t.pool.Query(ctx, `SELECT DISTINCT c.relname, p.relname
		FROM pg_constraint f
		JOIN pg_class c ON c.oid = f.conrelid
		JOIN pg_class p ON p.oid = f.confrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE f.contype = 'f' AND n.nspname = $1
		ORDER BY 1, 2`, t.schema)
	if err != nil {
		return nil, err
	}
	_, err = pgx.ForEachRow(rows, []any{&table, &parent}, func() error {
		if pt, ok := tables[table]; ok {
			pt.parents = append(pt.parents, parent)
			tables[table] = pt
		}
		return nil
	})
	return tables, err
}
