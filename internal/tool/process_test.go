package tool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/bookshop-go/bookshop/internal/platform/porttest"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/tool"
)

// binaries builds the three commands once for the process tests, with the
// fault points.
var binaries = struct {
	once sync.Once
	dir  string
	err  error
}{}

func buildBinaries(tb testing.TB) string {
	tb.Helper()
	binaries.once.Do(func() {
		dir, err := os.MkdirTemp("", "bookshop-bin-")
		if err != nil {
			binaries.err = err
			return
		}
		binaries.dir = dir
		// With the fault points (see internal/platform/fault), which do
		// nothing unless a test arms one in a process's environment.
		cmd := exec.Command("go", "build", "-tags", "faults", "-o", dir+string(filepath.Separator),
			"../../cmd/bookshop", "../../cmd/recommendations", "../../cmd/marketplace")
		if out, err := cmd.CombinedOutput(); err != nil {
			binaries.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaries.err != nil {
		tb.Fatal(binaries.err)
	}
	return binaries.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// process is a command started for a test.
type process struct {
	cmd    *exec.Cmd
	stdout *logtest.Buffer
	stderr *logtest.Buffer
	done   chan error
}

// start runs the built binary name with args and extra environment.
func start(tb testing.TB, name string, env []string, args ...string) *process {
	tb.Helper()
	p := &process{
		cmd:    exec.Command(filepath.Join(buildBinaries(tb), name), args...),
		stdout: new(logtest.Buffer),
		stderr: new(logtest.Buffer),
		done:   make(chan error, 1),
	}
	// A catalog in memory, and a working directory of the test's own, so
	// that no test leaves a database file behind.
	p.cmd.Env = append(append(os.Environ(), "CATALOG_DB=:memory:"), env...)
	p.cmd.Dir = tb.TempDir()
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if tb.Failed() {
			tb.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, p.stdout, name, p.stderr)
		}
	})
	return p
}

// stop sends sig and returns the exit code, failing the test if the
// process does not exit within 15s.
func (p *process) stop(tb testing.TB, sig os.Signal) int {
	tb.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("signal: %v", err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if exit, ok := errors.AsType[*exec.ExitError](err); ok {
			return exit.ExitCode()
		}
		if err != nil {
			tb.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(15 * time.Second):
		tb.Fatalf("process did not exit within 15s of %v", sig)
		return -1
	}
}

// waitFor polls until cond holds or 15s pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	tb.Fatalf("timed out waiting for %s", what)
}

// TestBinaryUpStopsOnSignal runs the built `bookshop up` as a user does,
// loads the page, and stops it with SIGTERM and with SIGINT: it must exit 0.
func TestBinaryUpStopsOnSignal(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			p := start(t, "bookshop", nil, "up", "-marketplace-port=0", "-recommendations-port=0", "-catalog-port=0", "-accounts-port=0", "-cart-port=0", "-inventory-port=0", "-payments-port=0", "-orders-port=0", "-promotions-port=0", "-checkout-port=0", "-admin-addr=127.0.0.1:0")
			var url string
			waitFor(t, "the URL on stdout", func() bool {
				url = marketplaceURL.FindString(p.stdout.String())
				return url != ""
			})
			if body := get(t, url, http.StatusOK); !strings.Contains(body, "Mystery books you may like") {
				t.Errorf("homepage lacks the heading:\n%s", body)
			}
			if code := p.stop(t, sig); code != 0 {
				t.Errorf("bookshop up exited %d after %v, want 0", code, sig)
			}
			if log := p.stderr.String(); !strings.Contains(log, "shutting down") {
				t.Errorf("log shows no graceful shutdown:\n%s", log)
			}
		})
	}
}

// TestBinaryServicesAlone runs each service as its own process, as they
// are deployed: Recommendations follows the Catalog at CATALOG_HOST, and
// the Marketplace finds both through RECOMMENDATIONS_HOST and
// CATALOG_HOST.
func TestBinaryServicesAlone(t *testing.T) {
	catPort, recsPort, webPort := freePort(t), freePort(t), freePort(t)
	cat := start(t, "bookshop", []string{"CATALOG_PORT=" + itoa(catPort)}, "catalog")
	recs := start(t, "recommendations", []string{"RECOMMENDATIONS_PORT=" + itoa(recsPort), "CATALOG_HOST=localhost:" + itoa(catPort)})
	web := start(t, "marketplace", []string{"MARKETPLACE_PORT=" + itoa(webPort),
		"RECOMMENDATIONS_HOST=localhost:" + itoa(recsPort), "CATALOG_HOST=localhost:" + itoa(catPort)})

	url := fmt.Sprintf("http://127.0.0.1:%d/", webPort)
	waitFor(t, "the Marketplace to show books", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(b.String(), `class="book"`)
	})
	if body := get(t, url+"healthz", http.StatusOK); body != "ok\n" {
		t.Errorf("GET /healthz = %q, want %q", body, "ok\n")
	}
	// A book page asks the Catalog for its book.
	if body := get(t, url+"books/1", http.StatusOK); !strings.Contains(body, "The Maltese Falcon") {
		t.Errorf("GET /books/1 lacks the book's title from the Catalog:\n%s", body)
	}

	// With Recommendations gone, the page still renders, with a notice.
	if code := recs.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("recommendations exited %d after SIGTERM, want 0", code)
	}
	if body := get(t, url, http.StatusOK); !strings.Contains(body, "Recommendations are unavailable right now") {
		t.Errorf("with Recommendations down the page lacks the notice:\n%s", body)
	}
	if code := web.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("marketplace exited %d after SIGTERM, want 0", code)
	}
	if code := cat.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("bookshop catalog exited %d after SIGTERM, want 0", code)
	}
}

// TestBinaryUsageError checks the exit status of a bad command line.
func TestBinaryUsageError(t *testing.T) {
	cmd := exec.CommandContext(testContext(t, 30*time.Second), filepath.Join(buildBinaries(t), "bookshop"), "up", "-marketplace-port=-1")
	out, err := cmd.CombinedOutput()
	exit, ok := errors.AsType[*exec.ExitError](err)
	if !ok || exit.ExitCode() != 2 {
		t.Fatalf("bookshop up -marketplace-port=-1: %v, want exit status 2", err)
	}
	if !strings.Contains(string(out), "-marketplace-port or MARKETPLACE_PORT -1") {
		t.Errorf("bookshop up -marketplace-port=-1 printed %q, want the bad setting named", out)
	}
}

// freePort returns a TCP port that nothing listens on, outside the range
// the kernel gives outgoing connections (see porttest).
func freePort(tb testing.TB) int { return porttest.Pick(tb) }

func itoa(i int) string { return strconv.Itoa(i) }

// TestReplicaSIGTERMUnderLoad runs two Recommendations processes behind
// one Marketplace process, loads the homepage from 10 clients at once, and
// sends SIGTERM to one replica half-way: it drains and exits 0, and no page
// load fails or loses its books.
func TestReplicaSIGTERMUnderLoad(t *testing.T) {
	ports := []int{freePort(t), freePort(t)}
	var replicas []*process
	for _, p := range ports {
		replicas = append(replicas, start(t, "recommendations", []string{"RECOMMENDATIONS_PORT=" + itoa(p)}))
	}
	webPort := freePort(t)
	start(t, "marketplace", []string{
		"MARKETPLACE_PORT=" + itoa(webPort),
		fmt.Sprintf("RECOMMENDATIONS_HOST=localhost:%d,localhost:%d", ports[0], ports[1]),
		"CATALOG_HOST=localhost:" + itoa(freePort(t)), // the homepage does not call the Catalog
		"MARKETPLACE_RATE_LIMIT=0",                    // all the load comes from one address
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/", webPort)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	served := func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(b.String(), `class="book"`)
	}
	waitFor(t, "the Marketplace to show books", served)

	const total, half = 600, 300
	var (
		next     atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
		stopped  = make(chan int, 1)
	)
	for range 10 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				if i == half {
					go func() { stopped <- replicas[0].stop(t, syscall.SIGTERM) }()
				}
				if !served() {
					failures.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if code := <-stopped; code != 0 {
		t.Errorf("replica exited %d after SIGTERM, want 0", code)
	}
	t.Logf("%d page loads, %d failed, one replica stopped with SIGTERM half-way", total, failures.Load())
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d page loads failed or lost their books while a replica drained", n, total)
	}
}

// TestCatalogAndRecommendationsProcesses runs `bookshop catalog` and a
// `bookshop recommendations` that follows it as processes of their own,
// imports a book into the Catalog with `bookshop import`, and checks that
// Recommendations starts recommending it, without a restart.
func TestCatalogAndRecommendationsProcesses(t *testing.T) {
	catPort, recsPort := freePort(t), freePort(t)
	catAddr := "localhost:" + itoa(catPort)
	start(t, "bookshop", nil, "catalog", "-port", itoa(catPort), "-db", ":memory:")
	start(t, "bookshop", nil, "recommendations", "-port", itoa(recsPort), "-catalog-host", catAddr)

	conn, err := grpc.NewClient("127.0.0.1:"+itoa(recsPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	recs := recommendationspb.NewRecommendationsClient(conn)
	// A category of the built-in catalog has 15 books; with the new one,
	// 16: ask for more than that, so that every book in it comes back.
	const maxResults = 50
	recommendMystery := func() ([]*recommendationspb.BookRecommendation, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := recs.Recommend(ctx, &recommendationspb.RecommendationRequest{
			UserId: 1, Category: recommendationspb.BookCategory_MYSTERY, MaxResults: maxResults})
		return resp.GetRecommendations(), err
	}
	var before []*recommendationspb.BookRecommendation
	waitFor(t, "Recommendations to answer from the Catalog's books", func() bool {
		before, err = recommendMystery()
		return err == nil
	})
	health := grpc_health_v1.NewHealthClient(conn)
	if resp, err := health.Check(testContext(t, 5*time.Second), &grpc_health_v1.HealthCheckRequest{Service: "Recommendations"}); err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("Health.Check(Recommendations) = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	const title = "The Clockwork Alibi"
	if len(before) != 15 {
		t.Errorf("Recommend(mystery, max_results %d) = %d books before the import, want the built-in 15", maxResults, len(before))
	}
	for _, b := range before {
		if b.GetTitle() == title {
			t.Fatalf("Recommend(mystery) recommends %q before it is imported", title)
		}
	}

	csv := filepath.Join(t.TempDir(), "books.csv")
	if err := os.WriteFile(csv, []byte("title,author,year,category,price\n"+title+",Ada Marsh,2024,mystery,15.99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	imp := exec.CommandContext(testContext(t, 30*time.Second), filepath.Join(buildBinaries(t), "bookshop"), "import", "-catalog-host", catAddr, csv)
	out, err := imp.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Imported 1 of 1 books") {
		t.Fatalf("bookshop import -catalog-host %s = %v, printed %q; want 1 of 1 imported", catAddr, err, out)
	}

	var after []*recommendationspb.BookRecommendation
	deadline := time.Now().Add(15 * time.Second)
	for found := false; !found; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Recommend(mystery, max_results %d) = %d books %v, 15s after the import; want %q among them", maxResults, len(after), after, title)
		}
		if after, err = recommendMystery(); err != nil {
			continue
		}
		for _, b := range after {
			if b.GetTitle() == title {
				if b.GetAuthor() != "Ada Marsh" || b.GetYear() != 2024 {
					t.Errorf("Recommend recommends %v, want %q by Ada Marsh, 2024", b, title)
				}
				found = true
			}
		}
	}
	if len(after) != 16 {
		t.Errorf("Recommend(mystery, max_results %d) = %d books after the import, want 16", maxResults, len(after))
	}
}

// TestImportAnswerLost kills the Catalog (SIGKILL, at the fault point
// catalog/after-import) once it has committed an import and before it
// answers: `bookshop import` fails, saying the import may have been
// written and to run the same command again. The Catalog restarted on
// the same database, the same command reports the first import, and
// writes nothing twice.
func TestImportAnswerLost(t *testing.T) {
	testImportAnswerLost(t, "-db", filepath.Join(t.TempDir(), "catalog.db"))
}

// TestImportAnswerLostOnPostgres is TestImportAnswerLost with the catalog
// in PostgreSQL.
func TestImportAnswerLostOnPostgres(t *testing.T) {
	testImportAnswerLost(t, "-database-url", pgtest.NewDatabase(t))
}

// testImportAnswerLost is TestImportAnswerLost with the Catalog's
// database given by flag and value.
func testImportAnswerLost(t *testing.T, flag, db string) {
	dir := t.TempDir()
	file := filepath.Join(dir, "books.csv")
	if err := os.WriteFile(file, []byte("id,category,title,author,year,price\n"+
		",mystery,Lost Answer One,A. Writer,2001,9.99\n"+
		",mystery,Lost Answer Two,A. Writer,2002,9.99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := "127.0.0.1:" + itoa(port)
	vars := map[string]string{"CATALOG_HOST": addr}
	importFile := func() (string, error) {
		var out bytes.Buffer
		err := tool.Run(testContext(t, 30*time.Second), []string{"import", file}, env(vars), &out, io.Discard)
		return out.String(), err
	}

	p := start(t, "bookshop", []string{"BOOKSHOP_FAULT=catalog/after-import"}, "catalog", "-port", itoa(port), flag, db)
	waitServing(t, addr, "bookshop.catalog.v1.CatalogService")
	if out, err := importFile(); err == nil || !strings.Contains(err.Error(), "Run the same command again") {
		t.Fatalf("import, the Catalog killed before it answered = %q, %v; want an error saying to run it again", out, err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != -1 {
			t.Errorf("the Catalog ended with %v, want killed by SIGKILL", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the Catalog was not killed at catalog/after-import")
	}

	start(t, "bookshop", nil, "catalog", "-port", itoa(port), flag, db)
	waitServing(t, addr, "bookshop.catalog.v1.CatalogService")
	out, err := importFile()
	if err != nil || !strings.Contains(out, "This file was imported before") || !strings.Contains(out, "Imported 2 of 2 books") {
		t.Errorf("the same import again = %q, %v; want the first import's report", out, err)
	}
	var export bytes.Buffer
	if err := tool.Run(testContext(t, 30*time.Second), []string{"export"}, env(vars), &export, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(export.String(), "Lost Answer"); n != 2 {
		t.Errorf("the catalog holds %d of the imported books, want 2, once each:\n%s", n, export.String())
	}
}
