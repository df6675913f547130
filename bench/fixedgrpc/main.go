// Command fixedgrpc is the comparison server of performance target 1 (see
// scripts/bench.sh): the least a grpc-go server of the Recommendations
// contract can do. It registers the same generated service as Bookshop's
// Recommendations, and answers every Recommend call with one response
// built at start: no interceptors, no logging, no catalog, no health
// service. What Bookshop's server does beyond it is what its figures are
// compared against.
// Its garbage collector's target is the services' (heapstats.MatchServices).
//
// On SIGUSR1 it writes a line of its heap's figures to its output, for
// scripts/allocs.sh: what it allocated and how often it collected.
//
//	fixedgrpc -addr 127.0.0.1:50061
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/bench/internal/heapstats"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "fixedgrpc: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	heapstats.MatchServices(os.Getenv)
	fs := flag.NewFlagSet("fixedgrpc", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:50061", "address to serve gRPC on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	recommendationspb.RegisterRecommendationsServer(srv, fixed{response: fixedResponse()})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	// SIGUSR1 writes a line of the heap's figures, for scripts/allocs.sh.
	heapstats.ReportOnSignal(ctx, os.Stdout)
	fmt.Printf("fixedgrpc serving on %s\n", lis.Addr())
	return srv.Serve(lis)
}

// fixedResponse is the answer to every call: the homepage's three mystery
// books of the built-in catalog, with their authors, years and prices, as
// Bookshop's Recommendations answers: the same fields, and so the same
// work for the client that decodes them. (Before the prices were here,
// the comparison's client decoded three messages fewer a call from this
// server than from ours.)
func fixedResponse() *recommendationspb.RecommendationResponse {
	return &recommendationspb.RecommendationResponse{Recommendations: []*recommendationspb.BookRecommendation{
		{Id: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930, Price: &moneyv1.Money{Units: 1099, Currency: "EUR"}},
		{Id: 2, Title: "Murder on the Orient Express", Author: "Agatha Christie", Year: 1934, Price: &moneyv1.Money{Units: 999, Currency: "EUR"}},
		{Id: 3, Title: "The Hound of the Baskervilles", Author: "Arthur Conan Doyle", Year: 1902, Price: &moneyv1.Money{Units: 799, Currency: "EUR"}},
	}}
}

// fixed answers every Recommend call with one precomputed response.
type fixed struct {
	recommendationspb.UnimplementedRecommendationsServer
	response *recommendationspb.RecommendationResponse // shared, never written
}

// Recommend returns the fixed response, whatever the request.
func (f fixed) Recommend(context.Context, *recommendationspb.RecommendationRequest) (*recommendationspb.RecommendationResponse, error) {
	return f.response, nil
}
