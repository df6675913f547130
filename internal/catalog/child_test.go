package catalog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/postgres"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// serveEnv, set in its environment to "DB", makes the test binary a child
// process that serves the Catalog of the database DB, a file or a
// postgres:// URL (see startChild), or, as "kill-staged:DB", one that
// kills itself with SIGKILL once an import has staged its first batch of
// books.
const serveEnv = "CATALOG_TEST_SERVE"

func TestMain(m *testing.M) {
	if what := os.Getenv(serveEnv); what != "" {
		os.Exit(rpctest.ServeChild(func(ctx context.Context, lis net.Listener) error {
			return serveChild(ctx, lis, what)
		}))
	}
	os.Exit(m.Run())
}

// serveChild serves the Catalog on lis as what (serveEnv's value) says,
// and memtest.Handler on a port it prints as "held URL".
func serveChild(ctx context.Context, lis net.Listener, what string) error {
	heldLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	metrics := telemetry.NewMetrics()
	mux := http.NewServeMux()
	mux.Handle("/", memtest.Handler())
	mux.Handle("/metrics", metrics.Handler())
	go http.Serve(heldLis, mux) //nolint:errcheck // ends with the process
	fmt.Printf("held http://%s/\n", heldLis.Addr())
	path, killStaged := strings.CutPrefix(what, "kill-staged:")
	db, err := openStore(ctx, path, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	var store catalog.Store = db
	if killStaged {
		store = killingStore{db}
	}
	logger := slog.New(slog.DiscardHandler)
	srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second})
	catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(catalog.NewService(store, "", 0, metrics), logger))
	return srv.Run(ctx, lis)
}

// child is the Catalog running in a child process of the test, so that
// what it holds is not mixed with what the test's clients hold, and so
// that the test can kill it.
type child struct {
	proc *rpctest.Child
	addr string // its gRPC address
	held string // the URL of its memtest.Handler
}

// startChild runs the Catalog of the database at path (a file, or a
// postgres:// URL) in a child process (as "kill-staged:PATH", one that kills itself once an import
// has staged a batch) and waits until it serves.
func startChild(tb testing.TB, what string) child {
	tb.Helper()
	proc, addr := rpctest.StartChild(tb, serveEnv+"="+what)
	held, ok := strings.CutPrefix(proc.Line(tb), "held ")
	if !ok {
		tb.Fatal("the child process did not say where to read what it holds")
	}
	c := child{proc: proc, addr: addr, held: held}
	client := catalogv1.NewCatalogServiceClient(dial(tb, addr))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := client.GetBooks(testContext(tb), &catalogv1.GetBooksRequest{}); err == nil {
			return c
		}
		if time.Now().After(deadline) {
			tb.Fatal("the child's Catalog did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// heldBytes returns what the child holds (memtest.Held).
func (c child) heldBytes(tb testing.TB) uint64 {
	tb.Helper()
	n, err := memtest.ReadHeld(c.held)
	if err != nil {
		tb.Fatalf("read what the child holds: %v", err)
	}
	return n
}

// openStore opens the catalog's database at where, an SQLite file or a
// postgres:// URL, seeded with seed when new.
func openStore(ctx context.Context, where string, seed []bookshop.Book) (catalog.Database, error) {
	if strings.HasPrefix(where, "postgres://") {
		return postgres.Open(ctx, pgdb.Settings{URL: where}, seed, postgres.Limits{})
	}
	return sqlite.Open(ctx, where, seed)
}

// killingStore is a Store whose imports kill the process, with SIGKILL as
// kill -9 does, once they have staged killAfter books: the first batch
// written to the database, inside the import's transaction.
type killingStore struct{ catalog.Store }

// killAfter is past the books that a store stages in one batch
// (catalogdb.BatchRows, 256).
const killAfter = 300

func (s killingStore) BeginImport(ctx context.Context, key string) (bookshop.PendingImport, error) {
	im, err := s.Store.BeginImport(ctx, key)
	if err != nil {
		return nil, err
	}
	return &killingImport{PendingImport: im}, nil
}

// killingImport is an import of killingStore.
type killingImport struct {
	bookshop.PendingImport
	n int
}

func (im *killingImport) Add(ctx context.Context, it bookshop.ImportItem) error {
	if err := im.PendingImport.Add(ctx, it); err != nil {
		return err
	}
	if im.n++; im.n == killAfter {
		fmt.Fprintln(os.Stderr, "killed after staging", killAfter, "books")
		if self, err := os.FindProcess(os.Getpid()); err == nil {
			self.Kill() //nolint:errcheck // SIGKILL: the process ends here
		}
		select {}
	}
	return nil
}

// watches returns the watches the child serves, as its gauge
// bookshop_catalog_watches says.
func (c child) watches(tb testing.TB) int {
	tb.Helper()
	resp, err := http.Get(c.held + "metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "bookshop_catalog_watches "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				tb.Fatalf("bookshop_catalog_watches %q", v)
			}
			return n
		}
	}
	return 0
}
