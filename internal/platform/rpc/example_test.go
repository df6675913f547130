package rpc_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Every Bookshop server is made the same way: NewServer with what every
// server has, the services registered on it, then Run until the context
// ends. Every client is made with Dial, once per target.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	// What the process gives the slice, the slice's policy and request
	// rules (none here), then the slice's services registered on srv.
	deps := process.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis}
	cfg, err := rpc.ServiceConfig(deps, rpc.Policy{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := rpc.NewServer(cfg)
	serving, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(serving, lis) }()

	conn, _ := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	defer conn.Close()
	ready := rpc.HealthReady(conn, "")
	for ready(ctx) != nil {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("serving")
	stop()
	fmt.Println("stopped:", <-done)
	// Output:
	// serving
	// stopped: <nil>
}
