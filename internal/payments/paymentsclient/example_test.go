package paymentsclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// A caller of the Payments service, such as the Checkout, dials it once,
// then speaks the kernel's types. It makes a key for each payment it means
// to make, and sends it again with every retry of that payment: however
// often it asks, the card is charged once.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A Payments service on loopback, in memory.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	db, _ := sqlite.Open(ctx, sqlite.Memory)
	defer db.Close()
	srv, _ := payments.NewGRPCServer(payments.NewService(db, payments.Options{}), process.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis})
	serving, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Run(serving, lis) }()
	defer func() { stop(); <-served }() // before the database closes

	conn, _ := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	defer conn.Close()
	client := paymentsclient.New(conn, 5*time.Second)

	total := bookshop.Money{Units: 2598, Currency: "EUR"}
	card := bookshop.Card{Number: paymentsclient.TestCardApproved, ExpMonth: 12, ExpYear: time.Now().Year() + 2, CVC: "123"}
	charge, _ := client.Charge(ctx, "checkout-1-payment-1", total, card)
	fmt.Println(charge.State, charge.Amount.Format(), "on", charge.Brand, "ending", charge.Last4)

	retry, _ := client.Charge(ctx, "checkout-1-payment-1", total, card)
	fmt.Println("the retry is the same charge:", retry.ID == charge.ID)

	card.Number = paymentsclient.TestCardDeclined
	_, err := client.Charge(ctx, "checkout-2-payment-1", total, card)
	fmt.Println(bookshop.ErrorCode(err)+":", bookshop.ErrorMessage(err))

	card.Number, card.CVC = "4242 4242 4242 4241", "12"
	_, err = client.Charge(ctx, "checkout-3-payment-1", total, card)
	problems := paymentsclient.CardErrors(err)
	fmt.Println("beside the number:", problems[paymentsclient.FieldNumber])
	fmt.Println("beside the CVC:", problems[paymentsclient.FieldCVC])

	refunded, _ := client.Refund(ctx, charge.ID)
	fmt.Println(refunded.State)
	// Output:
	// approved €25.98 on visa ending 4242
	// the retry is the same charge: true
	// conflict: card declined: insufficient funds
	// beside the number: the number is not valid: check the digits
	// beside the CVC: want 3 digits (4 for American Express)
	// refunded
}
