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

	// A Catalog on loopback, in memory, seeded with one book. Prices are
	// integer minor units and a currency, never a float.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	db, _ := sqlite.Open(ctx, sqlite.Memory, []bookshop.Book{
		{ID: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930, Category: bookshop.Mystery,
			Price: bookshop.Money{Units: 1099, Currency: "EUR"}},
	})
	defer db.Close()
	srv, _ := catalog.NewGRPCServer(catalog.NewService(db, "", 0, nil), process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	serving, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Run(serving, lis) }()
	defer func() { stop(); <-served }() // before the database closes

	conn, _ := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	defer conn.Close()
	client := catalogclient.New(conn, time.Second)

	b, _ := client.Book(ctx, 1)
	fmt.Println(b.Title, "by", b.Author, "for", b.Price.Format())

	dune, _ := bookshop.ParseMoney("12.99", "EUR")
	res, _ := client.ImportBooks(ctx, "", []bookshop.ImportItem{{Book: bookshop.Book{Title: "Dune", Author: "Frank Herbert", Year: 1965, Category: bookshop.ScienceFiction, Price: dune}}})
	fmt.Println("imported", res.Imported)

	books, _ := client.Books(ctx, []int32{2, 1, 99})
	for _, b := range books {
		fmt.Println(b.ID, b.Title, b.Price)
	}

	watching, done := context.WithCancel(ctx)
	client.Watch(watching,
		func(books []bookshop.Book) error {
			fmt.Println("the catalog holds", len(books), "books")
			done()
			return nil
		},
		func([]bookshop.Book) error { return nil })
	// Output:
	// The Maltese Falcon by Dashiell Hammett for €10.99
	// imported 1
	// 2 Dune 12.99 EUR
	// 1 The Maltese Falcon 10.99 EUR
	// the catalog holds 2 books
}
