package pgdb_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// A service opens its schema with its embedded migrations (here in a map,
// for the example; a service embeds a migrations directory and passes it
// through fs.Sub), makes each change in Tx, which may run its function
// more than once, and reads through Pool. Its queries name their tables
// unqualified: the search_path is the service's schema.
func Example() {
	ctx := context.Background()
	settings := pgdb.DefaultSettings()
	settings.URL = "postgres://bookshop:secret@localhost:5432/bookshop"
	db, err := pgdb.Open(ctx, settings, pgdb.Schema{
		Name: "notes",
		Migrations: fstest.MapFS{
			"0001_notes.sql": {Data: []byte(`CREATE TABLE notes (id bigserial PRIMARY KEY, text text NOT NULL)`)},
		},
	})
	if err != nil {
		fmt.Println(err) // names the database as postgres://bookshop:xxxxx@localhost:5432/bookshop
		return
	}
	defer db.Close()
	var id int64
	err = db.Tx(ctx, func(tx pgx.Tx) error {
		// Set, never append: a retry runs this again.
		return tx.QueryRow(ctx, `INSERT INTO notes (text) VALUES ('buy milk') RETURNING id`).Scan(&id)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var text string
	if err := db.Pool.QueryRow(ctx, `SELECT text FROM notes WHERE id = $1`, id).Scan(&text); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(text)
}
