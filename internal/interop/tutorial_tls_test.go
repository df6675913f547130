package interop_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// tutorialMystery are the tutorial's mystery books, as its server sends
// them: an id and a title, nothing else.
var tutorialMystery = []string{"1: The Maltese Falcon", "2: Murder on the Orient Express", "3: The Hound of the Baskervilles"}

// tutorialPKI makes certificates as the tutorial's gen_certs.sh does (see
// rpctest.TutorialPKI), in one directory, under the names its programs
// read, and more:
//
//   - client: the tutorial's Marketplace's, CN=marketplace;
//   - someone: CN=Jane Doe, which names no identity;
//   - server: the tutorial's Recommendations', CN=recommendations, with
//     docs/security.md's fix, a subject alternative name for the host
//     dialled (here localhost and 127.0.0.1), which Go requires;
//   - server-cn-only: the tutorial's exactly, CN=localhost and no subject
//     alternative name.
func tutorialPKI(tb testing.TB) *rpctest.TutorialPKI {
	tb.Helper()
	pki := rpctest.NewTutorialPKI(tb)
	pki.Issue(tb, "client", "marketplace")
	pki.Issue(tb, "someone", "Jane Doe")
	pki.Issue(tb, "server", "recommendations", "localhost", "127.0.0.1")
	pki.Issue(tb, "server-cn-only", "localhost")
	return pki
}

// TestTutorialMarketplaceCallsOurRecommendationsWithMutualTLS runs a
// Python client shaped like the tutorial's published Marketplace
// (grpc.ssl_channel_credentials with the CA, its key and its
// certificate) against our Recommendations serving mutual TLS with the
// tutorial's certificates, exactly as gen_certs.sh makes them: the
// server's has a Common Name and no subject alternative name, which
// Python's gRPC checks the host name against, as Go's does not; the
// client's names it by Common Name alone, which our default rule refuses,
// saying why, and -tls-client-identity spiffe-or-cn accepts, as the
// README and docs/interop.md say to run it; one that names no identity is
// told so.
func TestTutorialMarketplaceCallsOurRecommendationsWithMutualTLS(t *testing.T) {
	pki := tutorialPKI(t)
	in := func(name string) string { return pki.Dir + "/" + name }
	serverTLS, err := rpc.ServerTLS(in("server-cn-only.pem"), in("server-cn-only.key"), in("ca.pem"))
	if err != nil {
		t.Fatalf("ServerTLS with the tutorial's certificates: %v", err)
	}
	target := func(addr string) string {
		_, port, _ := net.SplitHostPort(addr)
		return "localhost:" + port // the server certificate's Common Name, as the tutorial dials "recommendations"
	}

	byDefault := target(startRecommendations(t, builtin(t), serverTLS, ""))
	lines := runPython(t, "recommendations_client.py", byDefault, "MYSTERY", "3", pki.Dir)
	wantErr := "error: UNAUTHENTICATED: /Recommendations/Recommend: verified certificate carries no identity we accept: no spiffe:// URI"
	if len(lines) != 1 || lines[0] != wantErr {
		t.Errorf("the tutorial's client against our default rule printed %q, want %s", lines, wantErr)
	}

	byCommonName := target(startRecommendations(t, builtin(t), serverTLS, certs.SPIFFEOrCommonName))
	lines = runPython(t, "recommendations_client.py", byCommonName, "MYSTERY", "3", pki.Dir)
	if len(lines) != 3 {
		t.Fatalf("the tutorial's client over mutual TLS printed %q, want 3 books", lines)
	}
	want := titles(builtin(t), bookshop.Mystery)
	for _, l := range lines {
		if !slices.Contains(want, l) {
			t.Errorf("the tutorial's client over mutual TLS got %q, not a mystery book of the catalog", l)
		}
	}

	lines = runPython(t, "recommendations_client.py", byCommonName, "MYSTERY", "3", pki.Dir, "someone")
	wantErr = `error: UNAUTHENTICATED: /Recommendations/Recommend: verified certificate carries no identity we accept: no spiffe:// URI, and its Common Name "Jane Doe" is not an identity`
	if len(lines) != 1 || !strings.HasPrefix(lines[0], wantErr) {
		t.Errorf("a client whose certificate names no identity printed %q, want %s...", lines, wantErr)
	}
}

// TestOurMarketplaceCallsTutorialRecommendationsWithMutualTLS serves a
// Python server shaped like the tutorial's published Recommendations
// (grpc.ssl_server_credentials with require_client_auth=True, books with
// no author and no year, no health service) and puts our Marketplace in
// front of it, with the tutorial's client certificate: the homepage shows
// the books with no empty "by", /readyz says ready, a book's page says
// which book it is, and grpc-go's complaint about the missing health
// service is one warning; once the server stops, /readyz says so. A
// server certificate made exactly the tutorial's way, without a subject
// alternative name, gets an error that says how to fix it.
func TestOurMarketplaceCallsTutorialRecommendationsWithMutualTLS(t *testing.T) {
	pki := tutorialPKI(t)
	in := func(name string) string { return pki.Dir + "/" + name }
	clientTLS, err := rpc.ClientTLS(in("ca.pem"), in("client.pem"), in("client.key"))
	if err != nil {
		t.Fatalf("ClientTLS with the tutorial's client certificate: %v", err)
	}

	t.Run("their server certificate with a SAN", func(t *testing.T) {
		var logs logtest.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		grpcLog.SetLogger(logger, nil)
		t.Cleanup(func() { grpcLog.SetLogger(slog.New(slog.DiscardHandler), nil) })

		addr, stop := startPythonServer(t, "recommendations_server.py", pki.Dir)
		_, port, _ := net.SplitHostPort(addr)
		conn, err := rpc.Dial("localhost:"+port, rpc.ClientConfig{TLS: clientTLS})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		site := startMarketplace(t, conn, logger)

		for range 3 { // several page loads, one connection's worth of log
			status, body := fetch(t, site, "/")
			if status != http.StatusOK {
				t.Fatalf("homepage over the tutorial's mutual TLS = %d:\n%s", status, body)
			}
			for _, l := range tutorialMystery {
				if title := l[strings.Index(l, " ")+1:]; !strings.Contains(body, title) {
					t.Errorf("homepage over the tutorial's mutual TLS lacks %q", title)
				}
			}
			if m := emptyBy.FindString(body); m != "" {
				t.Errorf("homepage shows %q for books that have no author", m)
			}
		}
		if status, body := fetch(t, site, "/readyz"); status != http.StatusOK || body != "ready" {
			t.Errorf("/readyz behind a server without health = %d %q, want 200 ready", status, body)
		}
		status, body := fetch(t, site, "/books/1")
		if status != http.StatusOK || !strings.Contains(body, "The Maltese Falcon") || !strings.Contains(body, "We cannot show all of this book") {
			t.Errorf("/books/1 behind the tutorial's server = %d, want 200 with its title and a notice:\n%s", status, body)
		}

		var noHealth, errs []string
		for _, l := range logs.Lines() {
			switch {
			case strings.Contains(l, "level=ERROR"):
				errs = append(errs, l)
			case strings.Contains(l, "level=WARN") && strings.Contains(l, "no health service"):
				noHealth = append(noHealth, l)
			}
		}
		if len(noHealth) != 1 || len(errs) != 0 {
			t.Errorf("the log has %d warnings of the missing health service and errors %q; want 1 and none. Log:\n%s",
				len(noHealth), errs, strings.Join(logs.Lines(), "\n"))
		}

		// Readiness follows whether the server answers.
		stop()
		deadline := time.Now().Add(10 * time.Second)
		for {
			status, body := fetch(t, site, "/readyz")
			if status == http.StatusServiceUnavailable {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz 10s after the server stopped = %d %q, want 503", status, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("their server certificate exactly", func(t *testing.T) {
		addr, _ := startPythonServer(t, "recommendations_server.py", pki.Dir, "server-cn-only")
		_, port, _ := net.SplitHostPort(addr)
		conn, err := rpc.Dial("localhost:"+port, rpc.ClientConfig{TLS: clientTLS})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_, err = recommendationsclient.New(conn, 10*time.Second).Recommend(context.Background(),
			bookshop.RecommendRequest{UserID: 1, Category: bookshop.Mystery, MaxResults: 3})
		for _, want := range []string{"has no subject alternative name, only a Common Name", "subjectAltName=DNS:localhost"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Recommend from a server whose certificate has a Common Name only = %v\nwant an error containing %q", err, want)
			}
		}
	})
}

// emptyBy finds a "by" with nothing after it.
var emptyBy = regexp.MustCompile(`\bby\s*<`)

// fetch GETs target from site and returns the status and the body.
func fetch(tb testing.TB, site *httptest.Server, target string) (int, string) {
	tb.Helper()
	resp, err := http.Get(site.URL + target)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}
