package tool_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/tool"
)

// TestRunRefusesBadConfiguration checks that each command refuses a bad
// setting at start, with a message that names it.
func TestRunRefusesBadConfiguration(t *testing.T) {
	badCatalog := filepath.Join(t.TempDir(), "books.csv")
	if err := os.WriteFile(badCatalog, []byte("id,category,title,author,year,price\n1,mystery,The Maltese Falcon,Dashiell Hammett,1930,10.99\n2,poetry,Leaves of Grass,Walt Whitman,1855,9.99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // words the error must hold
		usage   bool   // a mistake in the settings: exit status 2
	}{
		{"no command", nil, nil, "no command", true},
		{"unknown command", []string{"serve"}, nil, `unknown command "serve"`, true},
		{"unknown flag", []string{"up", "-colour"}, nil, "colour", true},
		{"stray argument", []string{"recommendations", "extra"}, nil, `unexpected argument "extra"`, true},
		{"port out of range", []string{"marketplace", "-port=70000"}, nil, "-port or MARKETPLACE_PORT 70000", true},
		{"MARKETPLACE_PORT not a number", []string{"marketplace"}, map[string]string{"MARKETPLACE_PORT": "eighty"}, "MARKETPLACE_PORT", true},
		{"CATALOG_PORT not a number", []string{"catalog"}, map[string]string{"CATALOG_PORT": "x"}, "CATALOG_PORT", true},
		{"bad CATALOG_CURRENCY", []string{"catalog"}, map[string]string{"CATALOG_CURRENCY": "euro"}, `-currency or CATALOG_CURRENCY: currency "euro"`, true},
		{"another currency than the built-in catalog's", []string{"catalog", "-currency=USD"}, nil, "the built-in catalog is priced in EUR", true},
		{"RECOMMENDATIONS_PORT not a number", []string{"recommendations"}, map[string]string{"RECOMMENDATIONS_PORT": "x"}, "RECOMMENDATIONS_PORT", true},
		{"bad RECOMMENDATIONS_HOST", []string{"marketplace", "-port=0"}, map[string]string{"RECOMMENDATIONS_HOST": "recs:0"}, "RECOMMENDATIONS_HOST", true},
		{"bad CATALOG_HOST", []string{"marketplace", "-port=0"}, map[string]string{"CATALOG_HOST": "catalog:0"}, "CATALOG_HOST", true},
		{"bad timeout", []string{"marketplace", "-port=0", "-call-timeout=0s"}, nil, "-call-timeout", true},
		{"bad MARKETPLACE_CALL_TIMEOUT", []string{"marketplace", "-port=0"}, map[string]string{"MARKETPLACE_CALL_TIMEOUT": "soon"}, "MARKETPLACE_CALL_TIMEOUT", true},
		{"bad log format", []string{"recommendations", "-port=0", "-log-format=xml"}, nil, "-log-format", true},
		{"bad LOG_LEVEL", []string{"recommendations", "-port=0"}, map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL", true},
		{"removed flag", []string{"recommendations", "-port=0", "-db=:memory:"}, nil, "db", true},
		{"missing catalog file", []string{"catalog", "-port=0", "-db=:memory:", "-file=/nonexistent/books.csv"}, nil, "/nonexistent/books.csv", false},
		{"empty catalog db", []string{"catalog", "-port=0", "-db="}, nil, "-db", true},
		{"bad catalog names line and field", upArgs("-admin-addr="), map[string]string{"CATALOG_FILE": badCatalog}, `books.csv:3: field "category"`, false},
		{"bad replicas", upArgs("-admin-addr=", "-recommendations-replicas=0"), nil, "-recommendations-replicas", true},
		{"bad max books", []string{"recommendations", "-port=0", "-max-books=0"}, nil, "-max-books or RECOMMENDATIONS_MAX_BOOKS", true},
		{"bad SHUTDOWN_TIMEOUT", []string{"catalog", "-port=0"}, map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, "SHUTDOWN_TIMEOUT", true},
		{"bad ACCOUNTS_SESSION_TTL", []string{"accounts", "-port=0", "-db=:memory:"}, map[string]string{"ACCOUNTS_SESSION_TTL": "10s"}, "-session-ttl or ACCOUNTS_SESSION_TTL 10s", true},
		{"empty accounts db", []string{"accounts", "-port=0", "-db="}, nil, "-db or ACCOUNTS_DB", true},
		{"incomplete TLS_DIR", upArgs("-admin-addr="), map[string]string{"TLS_DIR": t.TempDir()}, "bookshop certs -force", true},
		{"client certificate without its key", []string{"marketplace", "-port=0", "-tls-ca=/x/ca.crt", "-tls-client-cert=/x/m.crt"}, nil, "-tls-client-cert and -tls-client-key go together", true},
		{"bad TLS_CLIENT_IDENTITY", []string{"recommendations", "-port=0"}, map[string]string{"TLS_CLIENT_IDENTITY": "cn"}, `-tls-client-identity or TLS_CLIENT_IDENTITY: "cn" is not a client identity rule: use spiffe, spiffe-or-cn or any-verified`, true},
		{"client identity without a client CA", []string{"recommendations", "-port=0", "-tls-client-identity=spiffe-or-cn"}, nil, `-tls-client-identity or TLS_CLIENT_IDENTITY "spiffe-or-cn" needs -tls-client-ca (TLS_CLIENT_CA)`, true},
		{"TLS_CLIENT_IDENTITY with TLS but no client CA", []string{"demo", "serve", "-port=0", "-tls-cert=/x/s.crt", "-tls-key=/x/s.key"}, map[string]string{"TLS_CLIENT_IDENTITY": "any-verified"}, `"any-verified" needs -tls-client-ca`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := tool.Run(testContext(t, 10*time.Second), tt.args, env(tt.env), &stdout, &stderr)
			if err == nil {
				t.Fatalf("Run(%q) = nil, want an error containing %q", tt.args, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run(%q) = %q, want it to contain %q", tt.args, err, tt.wantErr)
			}
			if isUsage := errors.As(err, new(*config.UsageError)); isUsage != tt.usage {
				t.Errorf("Run(%q) = %v: a usage error (exit status 2) %v, want %v", tt.args, err, isUsage, tt.usage)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var stdout bytes.Buffer
	if err := tool.Run(testContext(t, 5*time.Second), []string{"help"}, env(nil), &stdout, io.Discard); err != nil {
		t.Fatalf("Run(help) = %v", err)
	}
	for _, cmd := range []string{"up", "catalog", "recommendations", "marketplace", "import", "export"} {
		if !strings.Contains(stdout.String(), cmd) {
			t.Errorf("help does not list %q:\n%s", cmd, stdout.String())
		}
	}
	var stderr bytes.Buffer
	err := tool.Run(testContext(t, 5*time.Second), []string{"up", "-h"}, env(nil), io.Discard, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Run(up -h) = %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-marketplace-port", "-recommendations-port", "-recommendations-replicas", "-catalog-port", "-catalog-db", "-catalog-file", "MARKETPLACE_PORT", "CATALOG_PORT"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("up -h does not mention %s:\n%s", f, stderr.String())
		}
	}
	// "help up" is "up -h".
	var help bytes.Buffer
	if err := tool.Run(testContext(t, 5*time.Second), []string{"help", "up"}, env(nil), io.Discard, &help); !errors.Is(err, flag.ErrHelp) || help.String() != stderr.String() {
		t.Errorf("Run(help up) = %v, printing %d bytes; want flag.ErrHelp and what up -h prints", err, help.Len())
	}
}

// TestUpPortInUse checks the advice given when the port is taken.
func TestUpPortInUse(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	port := lis.Addr().(*net.TCPAddr).Port
	err = tool.Run(testContext(t, 10*time.Second),
		[]string{"up", "-host=127.0.0.1", "-recommendations-port=0", "-catalog-port=0", "-admin-addr=", "-catalog-db=:memory:", "-accounts-port=0", "-accounts-db=:memory:", "-cart-port=0", "-cart-db=:memory:", "-inventory-port=0", "-inventory-db=:memory:", "-payments-port=0", "-payments-db=:memory:", "-orders-port=0", "-orders-db=:memory:", "-promotions-port=0", "-promotions-db=:memory:", "-checkout-port=0", "-checkout-db=:memory:"},
		env(map[string]string{"MARKETPLACE_PORT": itoa(port)}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "MARKETPLACE_PORT") {
		t.Errorf("up on a taken port = %v, want advice that the port is in use and how to change it", err)
	}
}

// TestUpPortTwice checks that up refuses two of its services on one
// port, naming both settings, before it listens on any: a replica takes
// the port after its service's.
func TestUpPortTwice(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-cart-port=43560", "-catalog-port=43560"}, "-catalog-port or CATALOG_PORT and -cart-port or CART_PORT give port 43560 to two services"},
		{[]string{"-recommendations-port=43570", "-recommendations-replicas=2", "-catalog-port=43571"}, "-catalog-port or CATALOG_PORT and -recommendations-port or RECOMMENDATIONS_PORT give port 43571 to two services"},
	} {
		err := tool.Run(testContext(t, 10*time.Second), append([]string{"up", "-host=127.0.0.1", "-admin-addr="}, tt.args...), env(nil), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("up %v = %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestUpServesCustomCatalog checks -catalog-file end to end: the page shows
// books from the file given.
func TestUpServesCustomCatalog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "books.csv")
	content := "# A tiny catalog\ntitle,author,year,id,category,price\nA Study in Scarlet,Arthur Conan Doyle,1887,100,mystery,8.99\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	url := startUp(t, "-catalog-file="+path)
	body := get(t, url, http.StatusOK)
	if !strings.Contains(body, "A Study in Scarlet") {
		t.Errorf("homepage with a one-book catalog does not show it:\n%s", body)
	}
	body = get(t, url+"?category=self_help", http.StatusOK)
	if !strings.Contains(body, "We have no books in this category right now") {
		t.Errorf("self_help page with no self_help books lacks the notice:\n%s", body)
	}
}

// get fetches url and checks its status.
func get(tb testing.TB, url string, wantStatus int) string {
	tb.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: read body: %v", url, err)
	}
	if resp.StatusCode != wantStatus {
		tb.Fatalf("GET %s = %d, want %d", url, resp.StatusCode, wantStatus)
	}
	return string(b)
}

// TestUpWithMutualTLS makes certificates with `bookshop certs`, runs the
// system with mutual TLS between the services, and loads the page.
func TestUpWithMutualTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if err := tool.Run(testContext(t, 30*time.Second), []string{"certs", dir}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("bookshop certs: %v", err)
	}
	url := startUp(t, "-tls-dir", dir, "-recommendations-replicas", "2")
	body := get(t, url, http.StatusOK)
	if !strings.Contains(body, `class="book"`) || strings.Contains(body, "unavailable") {
		t.Errorf("homepage over mutual TLS shows no books:\n%s", body)
	}
}

// TestMarketplaceWithoutCertificate runs Recommendations with mutual TLS
// and a Marketplace that trusts its CA but has no certificate of its own:
// the page still answers, with the note, and the log says why.
func TestMarketplaceWithoutCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if err := tool.Run(testContext(t, 30*time.Second), []string{"certs", dir}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("bookshop certs: %v", err)
	}
	recsPort := freePort(t)
	startCommand(t, []string{"recommendations", "-port", itoa(recsPort),
		"-tls-cert", filepath.Join(dir, "server.crt"), "-tls-key", filepath.Join(dir, "server.key"),
		"-tls-client-ca", filepath.Join(dir, "ca.crt"), "-log-level=debug"}, nil)
	webPort := freePort(t)
	startCommand(t, []string{"marketplace", "-port", itoa(webPort), "-recommendations-host", "localhost:" + itoa(recsPort),
		"-catalog-host", "localhost:" + itoa(freePort(t)), "-tls-ca", filepath.Join(dir, "ca.crt")}, nil)
	url := fmt.Sprintf("http://127.0.0.1:%d/", webPort)
	waitFor(t, "the Marketplace", func() bool {
		resp, err := http.Get(url + "healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	if body := get(t, url, http.StatusOK); !strings.Contains(body, "Recommendations are unavailable right now") {
		t.Errorf("a Marketplace without a client certificate shows books, or no note:\n%s", body)
	}
}

// TestHealthCommand checks `bookshop health` against a running system:
// healthy over gRPC and HTTP, unhealthy against a closed port.
func TestHealthCommand(t *testing.T) {
	recsPort := freePort(t)
	startCommand(t, []string{"recommendations", "-port", itoa(recsPort)}, nil)
	addr := "127.0.0.1:" + itoa(recsPort)
	waitFor(t, "Recommendations", func() bool {
		return tool.Run(testContext(t, 5*time.Second), []string{"health", "-grpc", addr}, env(nil), io.Discard, io.Discard) == nil
	})
	var out bytes.Buffer
	if err := tool.Run(testContext(t, 5*time.Second), []string{"health", "-grpc", addr, "-service", "Recommendations"}, env(nil), &out, io.Discard); err != nil || !strings.Contains(out.String(), "SERVING") {
		t.Errorf("health -grpc %s -service Recommendations = %v, %q; want healthy", addr, err, out.String())
	}
	if err := tool.Run(testContext(t, 5*time.Second), []string{"health", "-grpc", addr, "-service", "NoSuchService"}, env(nil), io.Discard, io.Discard); err == nil {
		t.Error("health of an unknown service succeeded, want unhealthy")
	}
	closed := "127.0.0.1:" + itoa(freePort(t))
	if err := tool.Run(testContext(t, 5*time.Second), []string{"health", "-grpc", closed, "-timeout", "500ms"}, env(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "unhealthy") {
		t.Errorf("health -grpc of a closed port = %v, want unhealthy", err)
	}
	// A Recommendations whose Catalog is not there: not ready, but alive,
	// which health tells apart when asked for liveness (the probe of a
	// container without a shell) whatever the server's overall status.
	lonePort := freePort(t)
	startCommand(t, []string{"recommendations", "-port", itoa(lonePort), "-catalog-host", closed}, nil)
	lone := "127.0.0.1:" + itoa(lonePort)
	waitFor(t, "Recommendations without its Catalog", func() bool {
		return tool.Run(testContext(t, 5*time.Second), []string{"health", "-grpc", lone, "-service", "liveness"}, env(nil), io.Discard, io.Discard) == nil
	})
	if err := tool.Run(testContext(t, 5*time.Second), []string{"health", "-grpc", lone, "-timeout", "1s"}, env(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("health -grpc of a Recommendations without its Catalog = %v, want unhealthy: NOT_SERVING", err)
	}

	url := startUp(t)
	if err := tool.Run(testContext(t, 5*time.Second), []string{"health", "-http", url + "readyz"}, env(nil), io.Discard, io.Discard); err != nil {
		t.Errorf("health -http %sreadyz = %v, want healthy", url, err)
	}
	if err := tool.Run(testContext(t, 5*time.Second), []string{"health", "-http", url + "nope"}, env(nil), io.Discard, io.Discard); err == nil {
		t.Errorf("health -http of a 404 succeeded, want unhealthy")
	}
	if err := tool.Run(testContext(t, 5*time.Second), []string{"health"}, env(nil), io.Discard, io.Discard); err == nil {
		t.Error("health with no target succeeded, want a usage error")
	}
	for _, bad := range []string{"not a url", "ftp://x/", "http://"} {
		var usage *config.UsageError
		if err := tool.Run(testContext(t, 5*time.Second), []string{"health", "-http", bad}, env(nil), io.Discard, io.Discard); !errors.As(err, &usage) {
			t.Errorf("health -http %q = %v, want a usage error (exit 2)", bad, err)
		}
	}
	// Its TLS flags, named as health has them, with no environment
	// variable: health reads none (see RunHealth).
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-tls-ca", "ca.crt", "-tls-cert", "admin.crt"}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-cert", "admin.crt", "-tls-key", "admin.key"}, "-tls-ca is needed to call over TLS"},
	} {
		err := tool.Run(testContext(t, 5*time.Second), append([]string{"health", "-grpc", addr}, tt.args...), env(nil), io.Discard, io.Discard)
		if err == nil || err.Error() != tt.want {
			t.Errorf("health %v = %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestReflectionListsEveryService lists the services of the real
// Catalog, Recommendations, Accounts, Cart, Inventory, Payments,
// Promotions and demo servers through server reflection, as grpcurl does.
func TestReflectionListsEveryService(t *testing.T) {
	catPort, recsPort, accountsPort, cartPort := freePort(t), freePort(t), freePort(t), freePort(t)
	inventoryPort, paymentsPort, promotionsPort := freePort(t), freePort(t), freePort(t)
	startCommand(t, []string{"inventory", "-port", itoa(inventoryPort), "-db=:memory:"}, nil)
	startCommand(t, []string{"promotions", "-port", itoa(promotionsPort), "-db=:memory:"}, nil)
	startCommand(t, []string{"payments", "-port", itoa(paymentsPort), "-db=:memory:"}, nil)
	startCommand(t, []string{"catalog", "-port", itoa(catPort), "-db=:memory:"}, nil)
	startCommand(t, []string{"accounts", "-port", itoa(accountsPort), "-db=:memory:"}, nil)
	startCommand(t, []string{"cart", "-port", itoa(cartPort), "-db=:memory:", "-catalog-host", "127.0.0.1:" + itoa(catPort)}, nil)
	startCommand(t, []string{"recommendations", "-port", itoa(recsPort)}, nil)
	demoAddr := startDemo(t)
	for addr, want := range map[string][]string{
		"127.0.0.1:" + itoa(catPort):        {"bookshop.catalog.v1.CatalogService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"},
		"127.0.0.1:" + itoa(accountsPort):   {"bookshop.accounts.v1.AccountsService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"},
		"127.0.0.1:" + itoa(cartPort):       {"bookshop.cart.v1.CartService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"},
		"127.0.0.1:" + itoa(inventoryPort):  {"bookshop.inventory.v1.InventoryService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"},
		"127.0.0.1:" + itoa(paymentsPort):   {"bookshop.payments.v1.PaymentsService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"},
		"127.0.0.1:" + itoa(promotionsPort): {"bookshop.promotions.v1.PromotionsService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"},
		"127.0.0.1:" + itoa(recsPort): {"Recommendations", "bookshop.recommendations.v1.LiveRecommendationsService",
			"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"},
		demoAddr: {"unary.Unary", "bidirectional.Bidirectional", "bookshop.demo.v1.ServerStreamingService",
			"bookshop.demo.v1.ClientStreamingService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"},
	} {
		var got []string
		waitFor(t, "reflection at "+addr, func() bool {
			got = listServices(t, addr)
			return got != nil
		})
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("reflection at %s lists %v, want %s among them", addr, got, w)
			}
		}
	}
}

// listServices asks the server at addr for its services by reflection; nil
// if it cannot be reached yet.
func listServices(t *testing.T, addr string) []string {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stream, err := grpc_reflection_v1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil
	}
	if err := stream.Send(&grpc_reflection_v1.ServerReflectionRequest{
		MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{},
	}); err != nil {
		return nil
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names
}
