package accountsclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// A caller of the Accounts service, such as the Marketplace, dials it
// once, then speaks the kernel's types: it signs a shopper up, keeps the
// token in a cookie, finds the customer from it on each page, and signs
// out.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	logger := slog.New(slog.DiscardHandler)

	// An Accounts service on loopback, in memory.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	db, _ := sqlite.Open(ctx, sqlite.Memory)
	defer db.Close()
	svc, _ := accounts.NewService(ctx, db, accounts.Options{})
	srv, _ := accounts.NewGRPCServer(svc, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	serving, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Run(serving, lis) }()
	defer func() { stop(); <-served }() // before the database closes

	conn, _ := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	defer conn.Close()
	client := accountsclient.New(conn, 5*time.Second)

	// The client is the shopper's address, for the throttling of sign-ins
	// and sign-ups.
	sess, _ := client.SignUp(ctx, bookshop.NewAccount{Email: "Ada@Example.com", Name: "Ada", Password: "analytical-engine-1843"}, "192.0.2.1")
	fmt.Println("signed up:", sess.Customer.Email, "customer", sess.Customer.ID)

	same, _ := client.Session(ctx, sess.Token)
	fmt.Println("the cookie's token is", same.Customer.Name)

	_, err := client.SignIn(ctx, "ada@example.com", "not-the-password", "192.0.2.1")
	fmt.Println(bookshop.ErrorCode(err)+":", bookshop.ErrorMessage(err))

	client.SignOut(ctx, sess.Token)
	_, err = client.Session(ctx, sess.Token)
	fmt.Println("after sign-out:", bookshop.ErrorCode(err))
	// Output:
	// signed up: ada@example.com customer 1
	// the cookie's token is Ada
	// unauthenticated: wrong email or password
	// after sign-out: not_found
}
