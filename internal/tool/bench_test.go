package tool_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/loadgen"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
	"github.com/bookshop-go/bookshop/internal/tool"
)

// TestBench runs `bookshop bench` briefly against each target of a
// running `bookshop up`, and checks its report, its record file and its
// chart.
func TestBench(t *testing.T) {
	m := startCommand(t, upArgs("-admin-addr=", "-marketplace-rate-limit=0"), upServices)
	grpcAddr, catalogAddr := m[2], m[3]
	waitServing(t, grpcAddr, "Recommendations") // it holds the Catalog's books
	up := startCommand(t, upArgs("-admin-addr=127.0.0.1:0", "-marketplace-rate-limit=0"), upSiteAndStock)
	siteURL, checkoutAddr, inventoryAddr, cartAddr := up[1], up[2], up[3], up[4]
	waitReady(t, siteURL)
	dir := t.TempDir()
	record := filepath.Join(dir, "records.jsonl")
	chart := filepath.Join(dir, "latency.svg")
	// The metrics of this process, where the services of up run: what
	// they allocate per call is measured from them.
	admin := httptest.NewServer(telemetry.AdminHandler(telemetry.NewMetrics()))
	defer admin.Close()

	for _, args := range [][]string{
		{"-target", "recommend", "-addr", grpcAddr, "-c", "1,4", "-d", "200ms", "-warmup", "50ms", "-record", record, "-chart", chart, "-label", "test", "-server-metrics", admin.URL + "/metrics"},
		{"-target", "home", "-url", siteURL, "-c", "2", "-n", "20", "-d", "0"},
		{"-target", "home-customer", "-url", siteURL, "-c", "2", "-n", "20", "-d", "0"},
		// 450 calls: past the 400 that a worker adds to one cart.
		{"-target", "add-to-cart", "-url", siteURL, "-c", "1", "-n", "450", "-d", "0"},
		{"-target", "export", "-addr", catalogAddr, "-n", "2", "-d", "0"},
		{"-target", "import", "-addr", catalogAddr, "-books", "50", "-n", "2", "-d", "0"},
		// After the import: its books are among what the queries find.
		{"-target", "search", "-addr", catalogAddr, "-c", "2", "-n", "30", "-d", "0"},
		{"-target", "live", "-addr", grpcAddr, "-c", "10", "-n", "30", "-d", "0"},
		{"-target", "live-web", "-url", siteURL, "-c", "10", "-n", "30", "-d", "0"},
		// Book 21, of which the Inventory of up has 25 copies.
		{"-target", "checkout", "-url", siteURL, "-book", "21", "-c", "2", "-n", "10", "-d", "0"},
		// Three copies of book 34, of which it has 24: two customers, each
		// of whose first order of three has the promotion.
		{"-target", "checkout", "-url", siteURL, "-book", "34", "-copies", "3", "-c", "2", "-n", "6", "-d", "0"},
		// Two more first orders of three copies of book 34, each a new
		// customer's, with the promotion.
		{"-target", "first-orders", "-addr", checkoutAddr, "-cart-addr", cartAddr, "-book", "34", "-copies", "3", "-c", "2", "-n", "2", "-d", "0"},
		{"-target", "checkout-limit", "-c", "2", "-n", "20", "-d", "0"},
	} {
		t.Run(args[1], func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := tool.RunBench(testContext(t, 30*time.Second), args, env(nil), &stdout, &stderr); err != nil {
				t.Fatalf("bench %q = %v\nstdout:\n%s\nstderr:\n%s", args, err, &stdout, &stderr)
			}
			out := stdout.String()
			for _, want := range []string{"calls/s", "p50", "p90", "p99", "p99.9", "errors"} {
				if !strings.Contains(out, want) {
					t.Errorf("bench %q printed no %s column:\n%s", args, want, out)
				}
			}
			// The purchase's POST, timed on its own too.
			if part := "POST /checkout alone: p50 "; (args[1] == "checkout") != strings.Contains(out, part) {
				t.Errorf("bench %q printed %q: %v, want it for checkout alone:\n%s", args, part, strings.Contains(out, part), out)
			}
		})
	}

	// Eight orders of three copies each: 24 of book 34's 24 sold.
	var stock bytes.Buffer
	if err := tool.Run(testContext(t, 10*time.Second), []string{"stock", "-inventory-host", inventoryAddr, "-book", "34"}, env(nil), &stock, io.Discard); err != nil {
		t.Fatalf("bookshop stock -book 34 = %v", err)
	}
	if want := "Book 34: 0 on hand, 0 held by checkouts, 0 available.\n"; stock.String() != want {
		t.Errorf("after 8 purchases of 3 copies, bookshop stock -book 34 = %q, want %q", &stock, want)
	}

	f, err := os.Open(record)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := loadgen.ReadRecords(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Concurrency != 1 || recs[1].Concurrency != 4 || recs[0].Label != "test" || recs[0].Calls == 0 {
		t.Errorf("record file = %+v, want one record for each of 1 and 4 in flight", recs)
	}
	for _, r := range recs {
		// A Recommend call costs the server some 6 KB in some 70 objects
		// (scripts/allocs.sh); this process allocates for the load too.
		if r.ServerAllocBytes < 1000 || r.ServerAllocs < 10 {
			t.Errorf("record of %d in flight: %v B, %v objects allocated per call, want what a call allocates", r.Concurrency, r.ServerAllocBytes, r.ServerAllocs)
		}
	}
	svg, err := os.ReadFile(chart)
	if err != nil || !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Errorf("chart file = %.40q, %v; want an SVG", svg, err)
	}
}

// TestBenchCheckoutLimitPostgres runs the limit on PostgreSQL, as
// scripts/bench.sh does, and checks that the report names the limit's
// database without the password. It skips without a PostgreSQL to test
// with (pgtest).
func TestBenchCheckoutLimitPostgres(t *testing.T) {
	server := pgtest.URL(t)
	var stdout, stderr bytes.Buffer
	args := []string{"-target", "checkout-limit", "-database-url", server, "-c", "2", "-n", "20", "-d", "0"}
	if err := tool.RunBench(testContext(t, 30*time.Second), args, env(nil), &stdout, &stderr); err != nil {
		t.Fatalf("bench %q = %v\nstdout:\n%s\nstderr:\n%s", args, err, &stdout, &stderr)
	}
	out := stdout.String()
	if !strings.Contains(out, "at PostgreSQL ") || !strings.Contains(out, "/"+loadgen.PostgresCheckoutLimitPrefix) {
		t.Errorf("bench %q named no limit's database of its own on PostgreSQL:\n%s", args, out)
	}
	if u, err := url.Parse(server); err == nil {
		if pw, has := u.User.Password(); has && strings.Contains(out, pw) {
			t.Errorf("bench %q printed the server's password:\n%s", args, out)
		}
	}
	if !strings.Contains(out, " 20 ") {
		t.Errorf("bench %q did not report 20 calls:\n%s", args, out)
	}
}

// upSiteAndStock matches what `bookshop up` prints: the Marketplace URL
// and the addresses of the Checkout, the Inventory and the Cart.
var upSiteAndStock = regexp.MustCompile(`(?s)Marketplace:\s+(http://\S+/).*Checkout:\s+(\S+) \(gRPC\).*Inventory:\s+(\S+) \(gRPC\).*Cart:\s+(\S+) \(gRPC\)`)

// TestBenchFailures checks that calls that fail make bench fail, after
// its report, and that bad flags are usage errors.
func TestBenchFailures(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	var stdout bytes.Buffer
	err := tool.RunBench(ctx, []string{"-addr", "127.0.0.1:1", "-c", "1", "-n", "3", "-d", "0"}, env(nil), &stdout, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "3 of 3 calls failed") {
		t.Errorf("bench against a closed port = %v, want 3 of 3 calls failed", err)
	}
	if !strings.Contains(stdout.String(), "Unavailable") {
		t.Errorf("bench against a closed port printed no error sample:\n%s", &stdout)
	}
	// The servers' CPU per call, here this process's, in a column of its
	// own when asked for.
	stdout.Reset()
	_ = tool.RunBench(ctx, []string{"-addr", "127.0.0.1:1", "-c", "1", "-n", "3", "-d", "0", "-server-pids", strconv.Itoa(os.Getpid())}, env(nil), &stdout, new(bytes.Buffer))
	if runtime.GOOS == "linux" && !strings.Contains(stdout.String(), "server CPU/call") {
		t.Errorf("bench -server-pids printed no server CPU column:\n%s", &stdout)
	}

	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-target", "nope"}, "-target"},
		{[]string{"-c", "0"}, "-c"},
		{[]string{"-c", "1,x"}, "-c"},
		{[]string{"-d", "0"}, "-d 0 needs -n"},
		{[]string{"-chart", "x.svg"}, "-record"},
		{[]string{"-books", "0"}, "-books"},
		{[]string{"-target", "checkout", "-book", "0"}, "-book"},
		{[]string{"-target", "checkout", "-copies", "0"}, "-copies"},
		{[]string{"-target", "checkout", "-copies", "11"}, "-copies"},
		{[]string{"-timeout", "0"}, "-timeout"},
		{[]string{"-target", "recommend", "-database-url", "postgres://127.0.0.1:1/x"}, "-database-url"},
		{[]string{"-server-pids", "12,x"}, "-server-pids"},
		{[]string{"-server-pids", "1073741824"}, "-server-pids"},
		{[]string{"-server-metrics", "127.0.0.1:9090/metrics"}, "-server-metrics"},
		{[]string{"-server-metrics", "http://127.0.0.1:9090/metrics,ftp://x/metrics"}, "-server-metrics"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		err := tool.RunBench(ctx, tt.args, env(nil), new(bytes.Buffer), new(bytes.Buffer))
		if err == nil || errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("bench %q = %v, want an error about %s", tt.args, err, tt.wantErr)
		}
	}
}
