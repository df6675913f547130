// Command fixedweb is the comparison server of performance target 2 (see
// scripts/bench.sh): the least a Go web front end of the homepage can do.
// Each GET makes one Recommend call, over gRPC with the same generated
// client as the Marketplace, to the fixed-response server (fixedgrpc), and
// executes one fixed html/template with the books it returns: no
// middleware, no access log, no rate limit, no security headers.
// Its garbage collector's target is the services' (heapstats.MatchServices).
//
// On SIGUSR1 it writes a line of its heap's figures to its output, for
// scripts/allocs.sh: what it allocated and how often it collected.
//
//	fixedweb -addr 127.0.0.1:8081 -recommendations 127.0.0.1:50061
package main

import (
	"context"
	"flag"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bookshop-go/bookshop/bench/internal/heapstats"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "fixedweb: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	heapstats.MatchServices(os.Getenv)
	fs := flag.NewFlagSet("fixedweb", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "address to serve HTTP on")
	recs := fs.String("recommendations", "127.0.0.1:50061", "the fixed Recommendations server, host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := grpc.NewClient(*recs, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	page, err := template.New("page").Parse(pageTemplate)
	if err != nil {
		return err
	}
	h := home(recommendationspb.NewRecommendationsClient(conn), page)

	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	// SIGUSR1 writes a line of the heap's figures, for scripts/allocs.sh.
	heapstats.ReportOnSignal(ctx, os.Stdout)
	fmt.Printf("fixedweb serving on %s\n", lis.Addr())
	if err := srv.Serve(lis); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// home serves the page: one Recommend call, one template.
func home(client recommendationspb.RecommendationsClient, page *template.Template) http.Handler {
	req := &recommendationspb.RecommendationRequest{UserId: 1, Category: recommendationspb.BookCategory_MYSTERY, MaxResults: 3}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		resp, err := client.Recommend(ctx, req)
		if err != nil {
			http.Error(w, "recommendations are unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, resp.GetRecommendations())
	})
}

// pageTemplate is a homepage of the size and shape of the Marketplace's.
const pageTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Online Books For You</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header>
  <a href="/">Online Books For You</a>
  <nav><ul>
    <li><a href="/?category=mystery" aria-current="page">Mystery</a></li>
    <li><a href="/?category=science_fiction">Science fiction</a></li>
    <li><a href="/?category=self_help">Self-help</a></li>
  </ul></nav>
</header>
<main>
<h1>Mystery books you may like</h1>
<p><a href="/categories/mystery">See all mystery books</a></p>
<ol class="books">
{{- range .}}
  <li class="book" data-book-id="{{.Id}}">
    <a class="book-link" href="/books/{{.Id}}"><cite class="book-title">{{.Title}}</cite></a>
    <p class="book-meta"><span class="book-author">by {{.Author}}</span>, <span class="book-year">{{.Year}}</span></p>
  </li>
{{- end}}
</ol>
</main>
<footer>Bookshop: a Go reference for microservices with gRPC.</footer>
</body>
</html>
`
