package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/grpclog"

	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/demo"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// pythonEnv is a Python with grpcio, and a directory of the tutorial's
// stubs generated for it, shared by the tests of this package.
var pythonEnv struct {
	once      sync.Once
	python    string
	stubs     string
	err       string
	cleanupFn func()
}

// grpcLog is grpc-go's log in these tests, as in a process that
// launch.Main runs: errors on stderr, unless a test gives it its logger.
var grpcLog = telemetry.NewGRPCLog(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))

func TestMain(m *testing.M) {
	grpclog.SetLoggerV2(grpcLog) // before any gRPC work, as launch.Main does
	code := m.Run()
	if pythonEnv.cleanupFn != nil {
		pythonEnv.cleanupFn()
	}
	os.Exit(code)
}

// setup finds a Python 3 with grpcio and grpc_tools ($PYTHON, Debian's
// /usr/bin/python3, or python3 on PATH) and generates the tutorial's stubs.
func setup(tb testing.TB) (python, stubs string) {
	tb.Helper()
	pythonEnv.once.Do(func() {
		var candidates []string
		if p := os.Getenv("PYTHON"); p != "" {
			candidates = append(candidates, p)
		}
		candidates = append(candidates, "/usr/bin/python3", "python3")
		for _, c := range candidates {
			if exec.Command(c, "-c", "import grpc, grpc_tools").Run() == nil {
				pythonEnv.python = c
				break
			}
		}
		if pythonEnv.python == "" {
			pythonEnv.err = "no Python 3 with grpcio and grpc_tools: install Debian's python3-grpcio and python3-grpc-tools (./scripts/test.sh does), or set PYTHON"
			return
		}
		dir, err := os.MkdirTemp("", "bookshop-interop-")
		if err != nil {
			pythonEnv.err = err.Error()
			return
		}
		pythonEnv.cleanupFn = func() { os.RemoveAll(dir) }
		cmd := exec.Command(pythonEnv.python, "-m", "grpc_tools.protoc", "-I", "testdata/tutorial",
			"--python_out="+dir, "--grpc_python_out="+dir,
			"recommendations.proto", "unary.proto", "bidirectional.proto")
		if out, err := cmd.CombinedOutput(); err != nil {
			pythonEnv.err = "generate the tutorial's Python stubs: " + err.Error() + "\n" + string(out)
			return
		}
		pythonEnv.stubs = dir
	})
	if pythonEnv.err != "" {
		tb.Fatal(pythonEnv.err)
	}
	return pythonEnv.python, pythonEnv.stubs
}

// pythonCmd returns a command that runs one of testdata's scripts with the
// tutorial's stubs importable.
func pythonCmd(ctx context.Context, tb testing.TB, script string, args ...string) *exec.Cmd {
	tb.Helper()
	python, stubs := setup(tb)
	cmd := exec.CommandContext(ctx, python, append([]string{filepath.Join("testdata", script)}, args...)...)
	cmd.Env = append(os.Environ(),
		"PYTHONPATH="+stubs,
		"PYTHONDONTWRITEBYTECODE=1",
		// The stubs of Debian's grpc_tools predate protobuf's upb runtime;
		// the pure-Python runtime reads them on any protobuf version.
		"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python",
	)
	return cmd
}

// runPython runs a Python client to the end and returns its output lines.
func runPython(tb testing.TB, script string, args ...string) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := pythonCmd(ctx, tb, script, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %q: %v\n%s", script, args, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// startPythonServer runs a Python server on a free port, with args after
// the port, until the test ends or stop is called, and returns its
// address once it is ready.
func startPythonServer(tb testing.TB, script string, args ...string) (addr string, stop func()) {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()

	cmd := pythonCmd(context.Background(), tb, script, append([]string{strconv.Itoa(port)}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stdin.Close() // the server stops when its stdin closes
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	tb.Cleanup(stop)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ready <- sc.Scan() && sc.Text() == "listening"
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case ok := <-ready:
		if !ok {
			<-done
			tb.Fatalf("%s did not start:\n%s", script, stderr.String())
		}
	case <-time.After(30 * time.Second):
		tb.Fatalf("%s not ready after 30s:\n%s", script, stderr.String())
	}
	return "127.0.0.1:" + strconv.Itoa(port), stop
}

func builtin(tb testing.TB) *bookshop.Shelf {
	tb.Helper()
	c, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// titles returns the "id: title" lines of a category, as the Python client
// prints them.
func titles(c *bookshop.Shelf, cat bookshop.Category) []string {
	books, _ := c.BooksInCategory(context.Background(), cat)
	var out []string
	for _, b := range books {
		out = append(out, strconv.Itoa(int(b.ID))+": "+b.Title)
	}
	return out
}

// startRecommendations serves Recommendations over the books of c, as the
// standalone recommendations command does without a Catalog (validators,
// health and all), on loopback until the test ends, and returns its
// address once it holds the books. With serverTLS it serves TLS, and
// authorizes callers by identity, named by rule, when that is mutual TLS.
func startRecommendations(tb testing.TB, c *bookshop.Shelf, serverTLS *tls.Config, rule certs.IdentityRule) string {
	tb.Helper()
	logger := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	books := recommendations.NewBooks(0)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		books.Follow(ctx, recommendations.StaticBooks(c.Books()), logger)
	}()
	srv, err := recommendations.NewGRPCServer(books, process.Deps{Logger: logger, DrainTimeout: time.Second, ServerTLS: serverTLS, ClientIdentity: rule})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Recommendations: %v", err)
		}
		<-followed
	})
	select {
	case <-books.Ready():
	case <-time.After(10 * time.Second):
		tb.Fatal("Recommendations did not take the books within 10s")
	}
	return lis.Addr().String()
}

// TestPythonClientCallsOurRecommendations runs the tutorial's kind of
// Python client, built from the tutorial's contract, against our server.
func TestPythonClientCallsOurRecommendations(t *testing.T) {
	books := builtin(t)
	addr := startRecommendations(t, books, nil, "")

	lines := runPython(t, "recommendations_client.py", addr, "SCIENCE_FICTION", "3")
	if len(lines) != 3 {
		t.Fatalf("Python client printed %q, want 3 books", lines)
	}
	want := titles(books, bookshop.ScienceFiction)
	for _, l := range lines {
		if !slices.Contains(want, l) {
			t.Errorf("Python client got %q, not a science fiction book of the catalog", l)
		}
	}
	if lines := runPython(t, "recommendations_client.py", addr, "MYSTERY", "-1"); len(lines) != 1 || !strings.HasPrefix(lines[0], "error: INVALID_ARGUMENT: max_results") {
		t.Errorf("Python client with max_results -1 printed %q, want INVALID_ARGUMENT about max_results", lines)
	}
}

// TestOurClientCallsPythonRecommendations runs the tutorial's kind of
// Python server and calls it with our client, and with our Marketplace.
func TestOurClientCallsPythonRecommendations(t *testing.T) {
	addr, _ := startPythonServer(t, "recommendations_server.py")
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := recommendationsclient.New(conn, 10*time.Second)

	got, err := client.Recommend(context.Background(), bookshop.RecommendRequest{UserID: 1, Category: bookshop.SelfHelp, MaxResults: 2})
	if err != nil {
		t.Fatalf("Recommend from the Python server: %v", err)
	}
	if len(got) != 2 || got[0].ID == got[1].ID {
		t.Fatalf("Recommend from the Python server = %+v, want 2 distinct books", got)
	}
	tutorial := map[int32]string{7: "The 7 Habits of Highly Effective People", 8: "How to Win Friends and Influence People", 9: "Man's Search for Meaning"}
	for _, b := range got {
		if tutorial[b.ID] != b.Title {
			t.Errorf("Recommend from the Python server gave %d %q, want one of %v", b.ID, b.Title, tutorial)
		}
	}
	_, err = client.Recommend(context.Background(), bookshop.RecommendRequest{Category: 5, MaxResults: 1})
	if bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Recommend of category 5 from the Python server = %v, want NotFound", err)
	}

	// Our Marketplace in front of the tutorial's Python Recommendations,
	// which has only the tutorial's service: the homepage works, the book
	// pages degrade.
	site := startMarketplace(t, conn, slog.New(slog.DiscardHandler))
	resp, err := http.Get(site.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("homepage over the Python server = %d", resp.StatusCode)
	}
	for _, title := range []string{"The Maltese Falcon", "Murder on the Orient Express", "The Hound of the Baskervilles"} {
		if !strings.Contains(string(body), title) {
			t.Errorf("homepage over the Python server lacks %q", title)
		}
	}
}

// startMarketplace serves our Marketplace over HTTP on loopback until the
// test ends, calling every service over conn, with readiness following
// Recommendations' health, or its Recommend for a server without health,
// as marketplace.Run wires it.
func startMarketplace(tb testing.TB, conn *grpc.ClientConn, logger *slog.Logger) *httptest.Server {
	tb.Helper()
	recommender := recommendationsclient.New(conn, 10*time.Second)
	handler, err := marketplace.NewServer(marketplace.Options{
		Logger:           logger,
		Recommender:      recommender,
		Catalog:          catalogclient.New(conn, 10*time.Second),
		Searcher:         catalogclient.New(conn, 10*time.Second),
		Live:             recommendationsclient.NewLiveClient(conn),
		Accounts:         accountsclient.New(conn, 10*time.Second),
		Carts:            cartclient.New(conn, 10*time.Second),
		Inventory:        inventoryclient.New(conn, 10*time.Second),
		Checkout:         checkoutclient.New(conn, 10*time.Second),
		Orders:           ordersclient.New(conn, 10*time.Second),
		Promotions:       promotionsclient.New(conn, 10*time.Second),
		RecommendTimeout: 10 * time.Second,
		Ready:            marketplace.RecommendationsReady(conn, recommender),
	})
	if err != nil {
		tb.Fatal(err)
	}
	site := httptest.NewServer(handler)
	tb.Cleanup(site.Close)
	return site
}

// startDemo serves our four demo services on loopback.
func startDemo(tb testing.TB) string {
	tb.Helper()
	return rpctest.Start(tb, func(srv *rpc.Server, _ *slog.Logger) { demo.Register(srv) })
}

func TestPythonDemoClientsCallOurDemoServer(t *testing.T) {
	addr := startDemo(t)
	got := runPython(t, "unary_client.py", addr)
	want := []string{
		"request: Hello Server you there?",
		`response: Hello I am up and running received "Hello Server you there?" message from you received=True`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Python unary client printed\n%q\nwant\n%q", got, want)
	}
	got = runPython(t, "bidirectional_client.py", addr)
	want = nil
	for _, m := range demo.BidirectionalMessages() {
		want = append(want, "Hello from the server received your "+m)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Python bidirectional client printed\n%q\nwant\n%q", got, want)
	}
}

func TestOurDemoClientsCallPythonDemoServer(t *testing.T) {
	addr, _ := startPythonServer(t, "demo_server.py")
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	var out bytes.Buffer
	if err := demo.CallUnary(context.Background(), conn, &out, "Hello Server you there?"); err != nil {
		t.Fatalf("CallUnary against the Python server: %v", err)
	}
	if want := `received: message:"Hello I am up and running received \"Hello Server you there?\" message from you" received:true`; !strings.Contains(out.String(), want) {
		t.Errorf("CallUnary against the Python server printed\n%s\nwant a line %s", out.String(), want)
	}

	out.Reset()
	if err := demo.CallBidirectional(context.Background(), conn, &out, demo.BidirectionalMessages()); err != nil {
		t.Fatalf("CallBidirectional against the Python server: %v", err)
	}
	for _, m := range demo.BidirectionalMessages() {
		if want := `received: message:"` + m + `"`; !strings.Contains(out.String(), want) {
			t.Errorf("CallBidirectional against the Python server lacks %s:\n%s", want, out.String())
		}
	}
}
