package ordersclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Checkout records an order once it has charged the card, under the key
// of its checkout, and calls again with the same key when it did not hear
// the answer; the Marketplace shows the customer their orders.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// An Orders service on loopback, in memory.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	db, _ := sqlite.Open(ctx, sqlite.Memory)
	defer db.Close()
	srv, _ := orders.NewGRPCServer(orders.NewService(db, orders.Options{}), process.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis})
	serving, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Run(serving, lis) }()
	defer func() { stop(); <-served }() // before the database closes

	conn, _ := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	defer conn.Close()
	client := ordersclient.New(conn, 5*time.Second)

	eur := func(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }
	order := bookshop.Order{
		CustomerID: 42,
		Lines: []bookshop.OrderLine{
			{BookID: 7, Title: "Solaris", UnitPrice: eur(999), Quantity: 2, Total: eur(1998)},
		},
		Subtotal:  eur(1998),
		Total:     eur(1998),
		PaymentID: "ch_2k4j",
		Shipping:  bookshop.Address{Name: "Ada", Line1: "1 Main St", City: "Oslo", PostalCode: "0150", Country: "NO"},
	}
	placed, _ := client.Create(ctx, "checkout-5f1c", order)
	again, _ := client.Create(ctx, "checkout-5f1c", order) // a retry
	fmt.Println(placed.State, placed.Total, "; the retry returns the same order:", again.ID == placed.ID)

	page, _ := client.List(ctx, 42, "", 10)
	fmt.Println("customer 42 has", len(page.Orders), "order")

	_, err := client.Order(ctx, 43, placed.ID)
	fmt.Println("customer 43 asking for it:", bookshop.ErrorCode(err), bookshop.ErrorMessage(err))
	// Output:
	// placed 19.98 EUR ; the retry returns the same order: true
	// customer 42 has 1 order
	// customer 43 asking for it: not_found no such order
}
