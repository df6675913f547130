package catalogclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// A caller of the Catalog dials it once, then speaks the kernel's types:
// here it reads a book, imports one, and follows the catalog as
// Recommendations does.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	logger := slog.New(slog.DiscardHandler)

	// A Catalog on loopback, in memory, seeded with one book.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	db, _ := sqlite.Open(ctx, sqlite.Memory, []bookshop.Book{
		{ID: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930, Category: bookshop.Mystery},
	})
	defer db.Close()
	srv, _ := catalog.NewGRPCServer(catalog.NewService(db, 0, nil), process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	serving, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Run(serving, lis) }()
	defer func() { stop(); <-served }() // before the database closes

	conn, _ := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	defer conn.Close()
	client := catalogclient.New(conn, time.Second)

	b, _ := client.Book(ctx, 1)
	fmt.Println(b.Title, "by", b.Author)

	res, _ := client.ImportBooks(ctx, []bookshop.ImportItem{{Book: bookshop.Book{Title: "Dune", Author: "Frank Herbert", Year: 1965, Category: bookshop.ScienceFiction}}})
	fmt.Println("imported", res.Imported)

	watching, done := context.WithCancel(ctx)
	client.Watch(watching,
		func(books []bookshop.Book) error {
			fmt.Println("the catalog holds", len(books), "books")
			done()
			return nil
		},
		func([]bookshop.Book) error { return nil })
	// Output:
	// The Maltese Falcon by Dashiell Hammett
	// imported 1
	// the catalog holds 2 books
}
