package tool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// RunUp is the `bookshop up` command: the whole system in one process on
// embedded defaults. Each service listens on its own port and the services
// talk real gRPC over loopback, as they would on several machines. Each
// service's settings are its own, under its own prefix (-catalog-port,
// CATALOG_PORT): up takes the services from the list of services, and
// tells each where the others listen; it names none of them, but for
// warning of a catalog database of an earlier version.
func RunUp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	all := services()
	fs := flagSet("bookshop up", "Runs the whole system on this machine: every service of the shop, each on\nits own port, talking gRPC over loopback. Prints the URL to open.", stderr)
	var (
		pf         launch.Process
		host       string
		tlsDirName string
	)
	fs.StringVar(&host, "host", "localhost", "interface to listen on; use 0.0.0.0 to be reachable from other machines")
	fs.Process().String(&tlsDirName, "tls-dir", "", "run with mutual TLS between the services, with the certificates made by bookshop certs DIR")
	sets := make([]*config.Set, len(all))
	replicas := make([]int, len(all))
	for i, s := range all {
		sets[i] = fs.Service(s.Name, false)
		s.Flags(sets[i])
		replicas[i] = 1
		if s.Scales {
			sets[i].Int(&replicas[i], "replicas", 1, "how many "+s.Title+" replicas to run, on consecutive ports; their callers balance over them")
		}
	}
	pf.Register(fs.Process(), false, false, "localhost:9464")
	if err := fs.Parse(args, getenv); err != nil {
		return err
	}
	for i, s := range all {
		if err := s.Validate(sets[i]); err != nil {
			return err
		}
		if replicas[i] < 1 || replicas[i] > 32 {
			return usageErrorf("%s %d: want 1 to 32", sets[i].Setting("replicas"), replicas[i])
		}
	}
	if err := checkPorts(all, sets, replicas); err != nil {
		return err
	}
	if tlsDirName != "" {
		if err := checkTLSDir(tlsDirName, all); err != nil {
			return err
		}
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	r, err := pf.Start(ctx, getenv, stderr, names...)
	if err != nil {
		return err
	}
	defer r.Close(ctx)
	warnOldDatabase(r.Logger, fs)

	// Listen for every replica of every service first, so that each can be
	// told where the others are.
	listeners := make([][]net.Listener, len(all))
	closeAll := func() {
		for _, ls := range listeners {
			for _, l := range ls {
				l.Close()
			}
		}
	}
	addrs := make(map[string]string)
	for i, s := range all {
		var shown []string
		for n := range replicas[i] {
			port := s.Port()
			if port != 0 {
				port += n // replicas take the ports that follow
			}
			l, err := launch.Listen(host, port, sets[i].Setting("port"))
			if err != nil {
				closeAll()
				return err
			}
			listeners[i] = append(listeners[i], l)
			shown = append(shown, launch.LoopbackAddr(l.Addr()))
		}
		addrs[s.Name] = strings.Join(shown, ",")
	}
	var run []func(context.Context) error
	for i, s := range all {
		if s.Wire != nil {
			s.Wire(addrs)
		}
		srv, cli := launch.TLSDir(tlsDirName, s.Identity)
		if tlsDirName == "" || !s.Serves {
			srv = launch.ServerTLS{}
		}
		if tlsDirName == "" || s.Identity == "" {
			cli = launch.ClientTLS{}
		}
		for _, l := range listeners[i] {
			deps, err := r.Deps(s.Name, l, srv, cli)
			if err != nil {
				closeAll()
				return err
			}
			run = append(run, func(ctx context.Context) error { return s.Run(ctx, deps) })
		}
	}
	run = append(run, r.ServeAdmin)

	// The front door first: the services in the reverse of their start.
	fmt.Fprintln(stdout, "Bookshop is up.")
	for _, s := range slices.Backward(all) {
		if s.HTTP {
			fmt.Fprintf(stdout, "  %-17shttp://%s/\n", s.Title+":", addrs[s.Name])
		} else {
			fmt.Fprintf(stdout, "  %-17s%s (gRPC)\n", s.Title+":", strings.ReplaceAll(addrs[s.Name], ",", ", "))
		}
	}
	if a := r.AdminAddr(); a != nil {
		fmt.Fprintf(stdout, "  %-17shttp://%s/metrics\n", "Metrics:", launch.LoopbackAddr(a))
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	// When any service stops, for a signal or a failure, the others stop.
	return process.RunAll(ctx, run...)
}

// warnOldDatabase warns when the working directory holds the catalog
// database of a Bookshop from before the Catalog was a service of its own
// (bookshop.db) and up was not told to use it: its imports would
// otherwise seem lost.
func warnOldDatabase(logger *slog.Logger, fs *config.FlagSet) {
	f := fs.Lookup("catalog-db")
	if f == nil || f.Value.String() != f.DefValue {
		return
	}
	if _, err := os.Stat("bookshop.db"); err != nil {
		return
	}
	if _, err := os.Stat(f.DefValue); err == nil {
		return
	}
	logger.Warn("bookshop.db is the catalog of an earlier Bookshop; the Catalog now keeps its books in " + f.DefValue +
		": start with -catalog-db bookshop.db (or CATALOG_DB=bookshop.db) to keep the books imported there")
}

// checkTLSDir refuses a -tls-dir that lacks a file the services need,
// such as a set made before a service with an identity of its own was
// added, with advice on making a new one.
func checkTLSDir(dir string, all []*launch.Service) error {
	need := []string{"ca.crt", "server.crt", "server.key"}
	for _, s := range all {
		if s.Identity != "" {
			need = append(need, s.Identity+".crt", s.Identity+".key")
		}
	}
	for _, name := range need {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return usageErrorf("-tls-dir or TLS_DIR %s: no %s; make a complete set with bookshop certs -force %s", dir, name, dir)
		}
	}
	return nil
}

// checkPorts refuses two services given one port, counting the ports
// that replicas take after their service's: the second to listen would
// find the port taken, and its advice to stop what uses it would point at
// up itself. Port 0 (any free port) is never taken twice.
func checkPorts(all []*launch.Service, sets []*config.Set, replicas []int) error {
	taken := make(map[int]string) // port -> the setting of the service that has it
	for i, s := range all {
		port := s.Port()
		if port == 0 {
			continue
		}
		for n := range replicas[i] {
			if other, ok := taken[port+n]; ok {
				return usageErrorf("%s and %s give port %d to two services: give each its own (replicas take the ports after their service's)",
					other, sets[i].Setting("port"), port+n)
			}
			taken[port+n] = sets[i].Setting("port")
		}
	}
	return nil
}
