package sqlitedb_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

// A service opens its database with its durability choice and a few
// readers, migrates it with its embedded migrations (here in a map, for
// the example; a service embeds a migrations directory and passes it
// through fs.Sub), writes through Write and reads through Read.
func Example() {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, sqlitedb.Memory, sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	migrations := fstest.MapFS{
		"0001_notes.sql": {Data: []byte(`CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL) STRICT;`)},
	}
	if err := sqlitedb.Migrate(ctx, db, sqlitedb.Schema{Name: "notes database", Migrations: migrations}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := db.Write.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('buy milk')`); err != nil {
		fmt.Println(err)
		return
	}
	var text string
	if err := db.Read.QueryRowContext(ctx, `SELECT text FROM notes`).Scan(&text); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(text)
	// Output: buy milk
}
