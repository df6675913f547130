package promotionsclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// A checkout dials the Promotions service once, then speaks the kernel's
// types: the offer says whether an order may earn a discount at all; it
// claims the customer's one use for its order, under its own key, with
// the order's lines, and gets the discount with its line for people;
// confirms it once the order is placed (or releases it if the order
// fails); and a second order of the customer is refused, saying why.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A Promotions service on loopback, its claims in memory, running
	// "buy two books, get the third free".
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg := promotions.DefaultConfig()
	cfg.DB, cfg.Promotion = ":memory:", promotions.BuyTwoGetOneFree()
	serving, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- promotions.Run(serving, cfg, process.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis})
	}()
	defer func() { stop(); <-done }()

	conn, _ := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	defer conn.Close()
	promos := promotionsclient.New(conn, time.Second)

	// Three books: two copies of one, and a cheaper one, which is free.
	order := []bookshop.PromoLine{
		{BookID: 5, UnitPrice: bookshop.Money{Units: 1299, Currency: "EUR"}, Quantity: 2, Title: "Dune"},
		{BookID: 16, UnitPrice: bookshop.Money{Units: 899, Currency: "EUR"}, Quantity: 1, Title: "Emma"},
	}
	offer, _ := promos.Offer(ctx, 42)
	fmt.Println("worth asking:", offer.MayEarn(order))
	d, outcome, _ := promos.Claim(ctx, 42, "checkout-7Hq2", order)
	fmt.Println(outcome, d.Amount.Format(), "off:", d.Label)
	_ = promos.Confirm(ctx, 42, "checkout-7Hq2")

	// The customer's next order: the promotion is used.
	_, outcome, _ = promos.Claim(ctx, 42, "checkout-9Kd1", order)
	fmt.Println(outcome)
	offer, _ = promos.Offer(ctx, 42)
	fmt.Println("banner shown:", offer.Active && offer.Eligible)
	// Output:
	// worth asking: true
	// granted €8.99 off: Buy two, get one free: one Emma free
	// used
	// banner shown: false
}
