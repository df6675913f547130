package tool

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// RunUp is the `bookshop up` command: the whole system in one process on
// embedded defaults. Each service listens on its own port and the services
// talk real gRPC over loopback, as they would on several machines. Each
// service's settings are its own, under its own prefix (-catalog-port,
// CATALOG_PORT): up composes the services from their configs and wires
// who calls whom.
func RunUp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop up", "Runs the whole system on this machine: the Catalog, Recommendations and the\nMarketplace, each on its own port, talking gRPC over loopback. Prints the URL\nto open.", stderr)
	var (
		pf         processFlags
		host       string
		replicas   int
		tlsDirName string
		cat        = catalog.DefaultConfig()
		recs       = recommendations.DefaultConfig()
		web        = marketplace.DefaultConfig()
	)
	proc := fs.Process()
	fs.StringVar(&host, "host", "localhost", "interface to listen on; use 0.0.0.0 to be reachable from other machines")
	proc.String(&tlsDirName, "tls-dir", "", "run with mutual TLS between the services, with the certificates made by bookshop certs DIR")
	catSet, recsSet, webSet := fs.Service("catalog", false), fs.Service("recommendations", false), fs.Service("marketplace", false)
	cat.Flags(catSet)
	recs.Flags(recsSet)
	recsSet.Int(&replicas, "replicas", 1, "how many Recommendations replicas to run; the Marketplace balances its calls over them")
	web.Flags(webSet)
	pf.register(proc, false, false, "localhost:9464")
	if err := fs.Parse(args, getenv); err != nil {
		return err
	}
	for _, err := range []error{cat.Validate(catSet), recs.Validate(recsSet), web.Validate(webSet)} {
		if err != nil {
			return err
		}
	}
	if replicas < 1 || replicas > 32 {
		return usageErrorf("%s %d: want 1 to 32", recsSet.Setting("replicas"), replicas)
	}
	r, err := pf.start(ctx, getenv, stderr, "catalog", "recommendations", "marketplace")
	if err != nil {
		return err
	}
	defer r.close(ctx)

	// The TLS of each service: the server certificate, and the client
	// certificate of its own identity.
	tlsOf := func(identity string) (serverTLSFlags, clientTLSFlags) {
		if tlsDirName == "" {
			return serverTLSFlags{}, clientTLSFlags{}
		}
		return tlsDir(tlsDirName, identity)
	}

	var lis []net.Listener
	closeAll := func() {
		for _, l := range lis {
			l.Close()
		}
	}
	listenAt := func(port int, setting string) (net.Listener, error) {
		l, err := listen(host, port, setting)
		if err == nil {
			lis = append(lis, l)
		}
		return l, err
	}
	catLis, err := listenAt(cat.Port, catSet.Setting("port"))
	if err != nil {
		return err
	}
	var recsLis []net.Listener
	for i := range replicas {
		p := recs.Port
		if p != 0 {
			p += i // replicas take the ports that follow
		}
		l, err := listenAt(p, recsSet.Setting("port"))
		if err != nil {
			closeAll()
			return err
		}
		recsLis = append(recsLis, l)
	}
	webLis, err := listenAt(web.Port, webSet.Setting("port"))
	if err != nil {
		closeAll()
		return err
	}

	// Who calls whom, over loopback.
	recs.CatalogHost = loopbackAddr(catLis.Addr())
	web.CatalogHost = recs.CatalogHost
	var recsAddrs []string
	for _, l := range recsLis {
		recsAddrs = append(recsAddrs, loopbackAddr(l.Addr()))
	}
	web.RecommendationsHost = strings.Join(recsAddrs, ",")

	var run []func(context.Context) error
	// The Catalog calls no service: it has no client certificate.
	srv, _ := tlsOf("catalog")
	catDeps, err := r.deps("catalog", catLis, srv, clientTLSFlags{})
	if err != nil {
		closeAll()
		return err
	}
	run = append(run, func(ctx context.Context) error { return catalog.Run(ctx, cat, catDeps) })
	for _, l := range recsLis {
		srv, cli := tlsOf("recommendations")
		d, err := r.deps("recommendations", l, srv, cli)
		if err != nil {
			closeAll()
			return err
		}
		run = append(run, func(ctx context.Context) error {
			return recommendations.Run(ctx, recs, recommendations.Deps{Deps: d})
		})
	}
	_, cli := tlsOf("marketplace")
	webDeps, err := r.deps("marketplace", webLis, serverTLSFlags{}, cli)
	if err != nil {
		closeAll()
		return err
	}
	run = append(run,
		func(ctx context.Context) error { return marketplace.Run(ctx, web, webDeps) },
		func(ctx context.Context) error { return r.obs.serveAdmin(ctx, r.logger) })

	fmt.Fprintf(stdout, "Bookshop is up.\n  Marketplace:     http://%s/\n  Recommendations: %s (gRPC)\n  Catalog:         %s (gRPC)\n",
		loopbackAddr(webLis.Addr()), strings.Join(recsAddrs, ", "), recs.CatalogHost)
	if r.obs.admin != nil {
		fmt.Fprintf(stdout, "  Metrics:         http://%s/metrics\n", loopbackAddr(r.obs.admin.Addr()))
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	// When any service stops, for a signal or a failure, the others stop.
	return process.RunAll(ctx, run...)
}
