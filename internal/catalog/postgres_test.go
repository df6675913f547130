package catalog_test

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/postgres"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// runCatalog runs the Catalog, as `bookshop catalog` does, with cfg on a
// port of its own until the test ends, and returns its address once it
// answers.
func runCatalog(tb testing.TB, cfg catalog.Config, logger *slog.Logger) string {
	tb.Helper()
	addr := rpctest.Run(tb, "catalog.Run", func(ctx context.Context, deps process.Deps) error { return catalog.Run(ctx, cfg, deps) }, logger)
	client := catalogv1.NewCatalogServiceClient(dial(tb, addr))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := client.GetBooks(testContext(tb), &catalogv1.GetBooksRequest{}); err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			tb.Fatal("the Catalog did not answer within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor returns the next value of ch, failing the test after within.
func waitFor[T any](tb testing.TB, ch <-chan T, within time.Duration, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		tb.Fatalf("no %s within %v", what, within)
		panic("unreachable")
	}
}

// TestReplicasOnPostgres runs two Catalogs, as `bookshop catalog` with a
// database URL, on one PostgreSQL database, the first through a proxy:
// an import through the first reaches a watch of the second at once
// (within PollInterval however it goes), and its search; the import's
// key, sent again to the second, replays the first's answer. While the
// proxy is down the first stays SERVING, serves the books it holds and
// refuses imports (UNAVAILABLE), and the second imports; once it is
// back, the first's watchers get what the second imported meanwhile.
func TestReplicasOnPostgres(t *testing.T) {
	st := pgtest.Settings(t)
	proxy := pgtest.NewProxy(t, st.URL)
	discard := slog.New(slog.DiscardHandler)
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	cfg := catalog.DefaultConfig()
	cfg.Database = st
	cfg.Database.URL, cfg.Database.ConnectTimeout = proxy.URL(st.URL), time.Second
	addrA := runCatalog(t, cfg, logger)
	cfg.Database = st
	addrB := runCatalog(t, cfg, discard)
	a := catalogclient.New(dial(t, addrA), 10*time.Second)
	b := catalogclient.New(dial(t, addrB), 10*time.Second)

	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	snapshotsB, addedB, _ := watch(ctx, b)
	if n := len(waitFor(t, snapshotsB, 5*time.Second, "snapshot of the second replica")); n != 45 {
		t.Fatalf("the second replica's snapshot holds %d books, want the 45 built-in", n)
	}
	start := time.Now()
	items := newBooks("Replicated", 3)
	res, err := a.ImportBooks(ctx, "k-replicas-1", items)
	if err != nil || res.Imported != 3 {
		t.Fatalf("ImportBooks through the first replica = %+v, %v; want 3 imported", res, err)
	}
	got := waitFor(t, addedB, postgres.PollInterval+3*time.Second, "change on the second replica's watch")
	t.Logf("an import through one replica reached a watch of the other %v after it began", time.Since(start).Round(time.Millisecond))
	if ids := bookIDs(got); !slices.Equal(ids, []int32{46, 47, 48}) {
		t.Errorf("the second replica's watch got books %v, want 46 to 48", ids)
	}
	found, err := b.Search(ctx, bookshop.SearchQuery{Text: "replicated", Limit: 10})
	if err != nil || found.Total != 3 {
		t.Errorf("Search(replicated) on the second replica = %+v, %v; want the 3 books imported through the first", found, err)
	}
	again, err := b.ImportBooks(ctx, "k-replicas-1", items)
	if err != nil || !again.Replayed || again.Imported != 3 {
		t.Errorf("the same import through the second replica = %+v, %v; want the first's answer, replayed", again, err)
	}

	snapshotsA, addedA, _ := watch(ctx, a)
	if n := len(waitFor(t, snapshotsA, 5*time.Second, "snapshot of the first replica")); n != 48 {
		t.Fatalf("the first replica's snapshot holds %d books, want 48", n)
	}
	health := grpc_health_v1.NewHealthClient(rpctest.Dial(t, addrA))
	waitHealth := func(want grpc_health_v1.HealthCheckResponse_ServingStatus, when string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: catalogv1.CatalogService_ServiceDesc.ServiceName})
			if err == nil && resp.GetStatus() == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health %s = %v, %v; want %v", when, resp.GetStatus(), err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitHealth(grpc_health_v1.HealthCheckResponse_SERVING, "with the database")
	proxy.Down()
	waitLog := func(line, when string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), line); {
			if time.Now().After(deadline) {
				t.Fatalf("the replica did not log %s:\n%s", when, logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog("cannot follow the other replicas' imports", "its database away")
	waitHealth(grpc_health_v1.HealthCheckResponse_SERVING, "without the database")
	if book, err := a.Book(ctx, 47); err != nil || book.Title != "Replicated 1" {
		t.Errorf("Book(47) from the replica without its database = %+v, %v; want the book it holds", book, err)
	}
	if _, err := a.ImportBooks(ctx, "", newBooks("Refused", 1)); status.Code(err) != codes.Unavailable && bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("ImportBooks through the replica without its database = %v, want UNAVAILABLE", err)
	}
	if n := exportCount(t, a); n != 48 {
		t.Errorf("the replica without its database exports %d books, want the 48 it holds", n)
	}
	if res, err := b.ImportBooks(ctx, "", newBooks("While Away", 2)); err != nil || res.Imported != 2 {
		t.Fatalf("ImportBooks through the other replica meanwhile = %+v, %v; want 2 imported", res, err)
	}
	proxy.Up()
	// Follow tries again within its longest pause, 5 s.
	if got := waitFor(t, addedA, 15*time.Second, "change on the first replica once its database is back"); len(got) != 2 || got[0].Title != "While Away 0" {
		t.Errorf("the first replica's watch got %+v once its database was back, want the 2 books imported meanwhile", got)
	}
	if n := exportCount(t, a); n != 50 {
		t.Errorf("the first replica exports %d books once its database is back, want 50", n)
	}
	waitLog("following the other replicas' imports again", "its database back")
}

// TestRunHidesPasswordOnPostgres runs the Catalog on a database URL with
// a password: the log names the database with the password hidden, and
// so does the error of a start whose database cannot be reached.
func TestRunHidesPasswordOnPostgres(t *testing.T) {
	const password = "S3cret-Pa55word"
	st := pgtest.Settings(t)
	parsed, err := url.Parse(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password) // the test server trusts any
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	cfg := catalog.DefaultConfig()
	cfg.Database = st
	cfg.Database.URL = parsed.String()
	addr := runCatalog(t, cfg, logger)
	if _, err := catalogclient.New(dial(t, addr), 5*time.Second).Book(testContext(t), 1); err != nil {
		t.Errorf("Book(1): %v", err)
	}
	if !strings.Contains(logs.String(), "xxxxx@") || strings.Contains(logs.String(), password) {
		t.Errorf("the log does not hide the password as xxxxx:\n%s", logs)
	}

	parsed.Host = rpctest.ClosedAddr(t)
	cfg.Database.URL, cfg.Database.ConnectTimeout = parsed.String(), time.Second
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = catalog.Run(testContext(t), cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "xxxxx@") {
		t.Errorf("Run without its database = %v, want an error that hides the password as xxxxx", err)
	}
}
