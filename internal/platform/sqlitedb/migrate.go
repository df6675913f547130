package sqlitedb

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"github.com/bookshop-go/bookshop/internal/platform/migrations"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// Schema is what a service's database holds: its migrations, and what to
// call the database in errors.
type Schema struct {
	// Name says what the database is, after "not a Bookshop", in the error
	// that refuses another program's file: "catalog", "cart database". If
	// empty, "database".
	Name string
	// Migrations holds the schema changes, one file per version at its
	// root, named NNNN_what.sql (NNNN a version from 1, each version once)
	// and holding SQL statements. A service embeds them (go:embed) and
	// passes the directory through fs.Sub. A migration, once released, is
	// never changed: a later change is a new file.
	Migrations fs.FS
	// Seed, if not nil, fills a new database: it runs in the migrating
	// transaction, after the migrations, when the database had none
	// applied before. If it fails, nothing is written.
	Seed func(ctx context.Context, tx *Tx) error
}

// Migrate brings the database to the latest version of s.Migrations: it
// applies, in version order, each migration newer than the database's
// version, and records it in the table schema_migrations (version INTEGER
// PRIMARY KEY, name TEXT, applied_at TEXT in RFC 3339, UTC; STRICT). On a
// new database it then runs s.Seed.
//
// All of it is one transaction, which takes the write lock at once: a
// crash half-way leaves the file as it was, and a second process that
// migrates the same new file waits for the first, then finds it done. A
// database already at the latest version is only read: no write lock, so
// that a writer elsewhere does not hold up a start.
//
// Migrate refuses a database whose version is newer than the latest
// migration (a newer binary migrated it), and one that holds tables but no
// schema_migrations: another program's database, which it must not write
// into; that error tells the operator to give -db, the setting every
// service names its file with, a new file.
func Migrate(ctx context.Context, db *DB, s Schema) error {
	ms, err := migrations.Read(s.Migrations)
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	// An up-to-date database, the usual case, needs no write lock. A
	// missing table (a new database) is an error here, and a reason to go
	// on: the transaction below checks again, under the lock.
	var current int
	err = db.Write.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current)
	if err == nil && current == latest {
		return nil
	}
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	tables, err := tableNames(ctx, tx)
	if err != nil {
		return fmt.Errorf("read the schema: %w", err)
	}
	if len(tables) > 0 && !slices.Contains(tables, "schema_migrations") {
		return fmt.Errorf("not a Bookshop %s: the file has tables (%s) but no schema_migrations; give -db a new file", cmp.Or(s.Name, "database"), strings.Join(tables, ", "))
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if current > latest {
		return fmt.Errorf("the database has schema version %d, newer than this binary knows (%d): run a newer bookshop", current, latest)
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	if current == 0 && s.Seed != nil {
		if err := s.Seed(ctx, &Tx{Tx: tx, stmts: db.writes}); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	if db.wal != nil {
		if err := db.wal.durable(); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// tableNames returns the names of the tables in the database, but
// SQLite's own, in order.
func tableNames(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rows.Err()
}
