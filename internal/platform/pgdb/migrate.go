package pgdb

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/platform/migrations"
)

// migration is one schema change, as package migrations reads it.
type migration = migrations.Migration

// LockKey returns the key of the advisory lock under which the migrations
// of schema run: the first 8 bytes of the FNV-1a hash of
// "bookshop migrations " and the schema's name. Every replica of a
// service computes the same key, and each service a key of its own.
func LockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("bookshop migrations " + schema))
	return int64(h.Sum64())
}

// migrate brings db's schema to the latest of ms, on one connection that
// holds PostgreSQL's session advisory lock LockKey(schema) throughout, so
// that replicas starting at once take turns: the first migrates, and the
// others find the schema done. Under the lock it creates the schema if it
// is missing, refuses one that holds tables but no schema_migrations
// (another program's) and one whose version is newer than ms knows, then
// applies each migration newer than the schema's version in its own
// transaction, which records it in schema_migrations (version integer
// primary key, name, applied_at); a crash between two leaves the first
// applied and recorded, and the next start goes on from there. A new
// schema (no migration recorded) is made in one transaction: every
// migration, then seed; a failure or a crash leaves it empty, to be made
// again, seed and all, at the next start.
//
// The connection is closed afterwards, not given back to the pool: its
// session ends, and the lock with it, whatever happened meanwhile.
func (db *DB) migrate(ctx context.Context, ms []migration, seed func(context.Context, pgx.Tx) error) error {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	c := conn.Hijack()
	defer c.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing ends the session and its lock; nothing to report

	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1)`, LockKey(db.schema)); err != nil {
		return fmt.Errorf("wait for the migration lock: %w", err)
	}
	schema := pgx.Identifier{db.schema}.Sanitize()
	// CREATE SCHEMA needs the right to create in the database even when
	// the schema is there: a role given only its schema need not have it.
	var exists bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, db.schema).Scan(&exists); err != nil {
		return fmt.Errorf("look for the schema: %w", err)
	}
	if !exists {
		if _, err := c.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
			return fmt.Errorf("create the schema: %w", err)
		}
	}
	var tables []string
	rows, err := c.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, db.schema)
	if err == nil {
		tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return fmt.Errorf("read the schema's tables: %w", err)
	}
	if len(tables) > 0 && !slices.Contains(tables, "schema_migrations") {
		return fmt.Errorf("not a Bookshop schema: it has tables (%s) but no schema_migrations; give the service a database of its own", strings.Join(tables, ", "))
	}
	if _, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+schema+`.schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	var current int
	if err := c.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+schema+`.schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	latest := ms[len(ms)-1].Version
	if current > latest {
		return fmt.Errorf("the schema has version %d, newer than this binary knows (%d): run a bookshop as new as the one that migrated it", current, latest)
	}
	// A new schema is made whole or not at all: every migration and the
	// seed in one transaction. An existing one takes each migration in a
	// transaction of its own.
	apply := func(tx pgx.Tx, m migration) error {
		// No arguments: the simple protocol, which runs a file of several
		// statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+schema+`.schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		return nil
	}
	if current == 0 {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			for _, m := range ms {
				if err := apply(tx, m); err != nil {
					return err
				}
			}
			if seed != nil {
				if err := seed(ctx, tx); err != nil {
					return fmt.Errorf("seed: %w", err)
				}
			}
			return nil
		})
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return apply(tx, m) }); err != nil {
			return err
		}
	}
	return nil
}
