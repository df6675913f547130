package inventoryclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// A checkout dials the Inventory once, then speaks the kernel's types: it
// reserves the copies of a cart under the checkout's key, commits them
// once the card is charged, and tells the shopper which books sold out
// when a reservation is refused.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// An Inventory on loopback, its stock in memory: 3 copies of book 5
	// and the last one of book 16.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg := inventory.DefaultConfig()
	cfg.DB, cfg.Seed = ":memory:", map[int32]int{5: 3, 16: 1}
	serving, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- inventory.Run(serving, cfg, process.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis})
	}()
	defer func() { stop(); <-done }()

	conn, _ := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	defer conn.Close()
	stock := inventoryclient.New(conn, time.Second)

	// The key, one per checkout, makes the call safe to retry: sent again,
	// as after a lost answer, it returns the same reservation.
	cart := []bookshop.StockLine{{BookID: 5, Quantity: 2}, {BookID: 16, Quantity: 1}}
	r, _ := stock.Reserve(ctx, "checkout-7Hq2", cart, 0)
	fmt.Println(r.State, "until the order is placed")
	r, _ = stock.Commit(ctx, r.ID)
	fmt.Println(r.State)

	// Another shopper wants the same books: only one copy of book 5 is
	// left, and none of book 16.
	_, err := stock.Reserve(ctx, "checkout-9Kd1", cart, 0)
	fmt.Println(bookshop.ErrorCode(err), "-", bookshop.ErrorMessage(err))
	for _, s := range inventoryclient.SoldOutOf(err) {
		fmt.Printf("book %d: %d left\n", s.BookID, s.Available)
	}
	// Output:
	// held until the order is placed
	// committed
	// conflict - sold out: book 5 (1 left), book 16 (0 left)
	// book 5: 1 left
	// book 16: 0 left
}
