package tool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/fromsqlite"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
)

// TestMovablesCoverEveryPostgresStore: every service with a PostgreSQL
// store (internal/NAME/postgres) is one that migrate-data moves, so that
// a service moved to PostgreSQL later cannot be left out of the move, nor
// out of TestMovedSchemasMatch.
func TestMovablesCoverEveryPostgresStore(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "*", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var stores []string
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			stores = append(stores, filepath.Base(filepath.Dir(d)))
		}
	}
	var moved []string
	for _, m := range movables() {
		moved = append(moved, m.name)
		if serviceNamed(m.name) == nil {
			t.Errorf("movable %q is no service of the shop", m.name)
		}
	}
	for _, s := range stores {
		if !slices.Contains(moved, s) {
			t.Errorf("internal/%s/postgres is a PostgreSQL store that migrate-data does not move: add the %s service to movables() in migratecmd.go (and its rows to the generated shop of shopgen_test.go; docs/database.md, 'Moving another service to PostgreSQL', step 7)", s, s)
		}
	}
	if len(stores) == 0 {
		t.Error("found no internal/*/postgres: the test looks in the wrong place")
	}
}

// TestMovedSchemasMatch: for every service migrate-data moves, the schema
// its SQLite store makes and the one its PostgreSQL store makes have the
// same tables, with the same columns, of kinds whose values move as they
// are, and the same primary keys (fromsqlite.Plan), so that its data can
// move. A difference is a bug in one of the two stores.
func TestMovedSchemasMatch(t *testing.T) {
	for _, m := range movables() {
		t.Run(m.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			path := filepath.Join(t.TempDir(), m.name+".db")
			if err := m.sqlite(ctx, path); err != nil {
				t.Fatal(err)
			}
			st := pgdb.DefaultSettings()
			st.URL = pgtest.NewDatabase(t)
			if err := m.postgres(ctx, st); err != nil {
				t.Fatal(err)
			}
			src, err := fromsqlite.OpenSource(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			dst, err := fromsqlite.OpenTarget(ctx, st.URL, m.schema)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			tables, err := fromsqlite.Plan(ctx, src, dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(tables) == 0 {
				t.Error("no tables to move")
			}
			for _, tb := range tables {
				t.Logf("%s: %d columns, key of %d", tb.Name, len(tb.Columns), len(tb.Key))
			}
		})
	}
}

// TestHideSecrets checks that a password is taken out of a message where
// a connection string holds it, and, when long, wherever it is, while a
// short one leaves the words that hold its letters alone.
func TestHideSecrets(t *testing.T) {
	for _, tt := range []struct {
		url, msg, want string
	}{
		{"postgres://u:p@127.0.0.1:1/db",
			"open catalog database: dial tcp 127.0.0.1:1: connect: postgres://u:p@127.0.0.1:1/db refused",
			"open catalog database: dial tcp 127.0.0.1:1: connect: postgres://u:xxxxx@127.0.0.1:1/db refused"},
		{"postgres://u:postgres@h/db", "user=u password=postgres host=h: postgres refused",
			"user=u password=xxxxx host=h: postgres refused"},
		{"postgres://u:Pa55-w0rd-secret@h/db", "server said: Pa55-w0rd-secret is wrong",
			"server said: xxxxx is wrong"},
		{"postgres://u@h/db", "no password: unchanged", "no password: unchanged"},
	} {
		got := hideSecrets(errors.New(tt.msg), passwords(tt.url))
		if got.Error() != tt.want {
			t.Errorf("hideSecrets(%q) with the password of %s = %q, want %q", tt.msg, tt.url, got, tt.want)
		}
	}
}

// serviceNamed returns the service called name, or nil.
func serviceNamed(name string) *launch.Service {
	for _, s := range services() {
		if s.Name == name {
			return s
		}
	}
	return nil
}
