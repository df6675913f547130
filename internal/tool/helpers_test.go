package tool_test

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/tool"
)

// testContext returns a context that ends with the test or after d.
func testContext(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// env returns a getenv that reads only vars, so tests do not depend on the
// environment they run in.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

var marketplaceURL = regexp.MustCompile(`http://\S+/`)

// startUp runs `bookshop up` as the README's first command does, on free
// ports, until the test ends. It returns the Marketplace URL it prints.
func startUp(tb testing.TB, args ...string) string {
	tb.Helper()
	args = append(upArgs("-admin-addr=127.0.0.1:0"), args...)
	url := startCommand(tb, args, marketplaceURL)[0]
	waitReady(tb, url)
	return url
}

// waitReady waits until the Marketplace at url is ready: its /readyz
// answers 200 once Recommendations is SERVING, which it is once it holds
// the Catalog's books. Until then a page would have no recommendations.
func waitReady(tb testing.TB, url string) {
	tb.Helper()
	waitFor(tb, "the Marketplace at "+url+" to be ready", func() bool {
		return tool.Run(testContext(tb, 5*time.Second), []string{"health", "-http", url + "readyz", "-timeout", "1s"}, env(nil), io.Discard, io.Discard) == nil
	})
}

// waitServing waits until the gRPC service at addr reports service
// SERVING, as `bookshop health -grpc` sees it.
func waitServing(tb testing.TB, addr, service string) {
	tb.Helper()
	waitFor(tb, service+" at "+addr+" to be SERVING", func() bool {
		return tool.Run(testContext(tb, 5*time.Second), []string{"health", "-grpc", addr, "-service", service, "-timeout", "1s"}, env(nil), io.Discard, io.Discard) == nil
	})
}

// upArgs returns the arguments of `bookshop up` on free ports with a
// catalog, the accounts, the carts, the stock, the charges, the orders,
// the promotion's uses and the checkouts in memory, then extra.
func upArgs(extra ...string) []string {
	return append([]string{"up", "-marketplace-port=0", "-recommendations-port=0", "-catalog-port=0", "-catalog-db=:memory:",
		"-accounts-port=0", "-accounts-db=:memory:", "-cart-port=0", "-cart-db=:memory:",
		"-inventory-port=0", "-inventory-db=:memory:", "-payments-port=0", "-payments-db=:memory:",
		"-orders-port=0", "-orders-db=:memory:", "-promotions-port=0", "-promotions-db=:memory:", "-checkout-port=0", "-checkout-db=:memory:"}, extra...)
}

// startCommand runs the bookshop command args until the test ends, and
// waits for it to print lines that match ready. It returns the match
// and its submatches; with a nil ready it returns at once, nil. It fails the test if the command stops first, prints
// no such line within 15s, or does not stop cleanly at the end.
func startCommand(tb testing.TB, args []string, ready *regexp.Regexp) []string {
	tb.Helper()
	return startCommandEnv(tb, nil, args, ready)
}

// startCommandEnv is startCommand with the environment variables vars.
func startCommandEnv(tb testing.TB, vars map[string]string, args []string, ready *regexp.Regexp) []string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	var stderr logtest.Buffer
	done := make(chan error, 1)
	go func() {
		err := tool.Run(ctx, args, env(vars), stdoutW, &stderr)
		stdoutW.CloseWithError(io.EOF)
		done <- err
	}()
	name := "bookshop " + strings.Join(args[:min(2, len(args))], " ")
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("%s returned %v after shutdown, want nil", name, err)
			}
		case <-time.After(15 * time.Second):
			tb.Errorf("%s did not stop within 15s of shutdown", name)
		}
		if tb.Failed() {
			tb.Logf("%s log:\n%s", name, stderr.String())
		}
	})

	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdoutR)
		sent := false
		// What was printed so far: ready may span lines. The loop reads to
		// the end, so that the command never blocks on stdout.
		var out strings.Builder
		for sc.Scan() {
			if ready == nil || sent {
				continue
			}
			out.WriteString(sc.Text() + "\n")
			m := ready.FindStringSubmatch(sc.Text())
			if m == nil {
				m = ready.FindStringSubmatch(out.String())
			}
			if m != nil {
				found <- m
				sent = true
			}
		}
	}()
	if ready == nil {
		return nil
	}
	select {
	case m := <-found:
		return m
	case err := <-done:
		done <- nil // for the cleanup: the failure is reported here
		tb.Fatalf("%s stopped before it was ready: %v", name, err)
	case <-time.After(15 * time.Second):
		tb.Fatalf("%s printed no line matching %q within 15s", name, ready)
	}
	return nil
}
