package rpc_test

import (
	"crypto/tls"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// TestMutualTLSWithTutorialCertificates serves with mutual TLS made the
// tutorial's way (a CA, client certificates whose identity is a Common
// Name alone) under each rule of naming callers, and calls as the
// tutorial's Marketplace, as its operator, and as someone whose verified
// certificate names no identity.
func TestMutualTLSWithTutorialCertificates(t *testing.T) {
	pki := rpctest.NewTutorialPKI(t)
	serverCert, serverKey := pki.Issue(t, "server", "recommendations", "localhost", "127.0.0.1")
	serverCfg, err := rpc.ServerTLS(serverCert, serverKey, pki.CAFile)
	if err != nil {
		t.Fatalf("ServerTLS with the tutorial's certificates (and a SAN): %v", err)
	}
	client := func(commonName string) *tls.Config {
		cert, key := pki.Issue(t, commonName, commonName)
		return clientTLS(t, pki.CAFile, cert, key)
	}
	marketplace, admin, person := client("marketplace"), client("admin"), client("Jane Doe")

	t.Run("spiffe, the default", func(t *testing.T) {
		addr, seen := startSecureBy(t, serverCfg, "")
		want := "/Recommendations/Recommend: verified certificate carries no identity we accept: no spiffe:// URI"
		for range 2 {
			err := callRecommend(t, tlsConn(t, addr, marketplace))
			if status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() != want {
				t.Errorf("Recommend as CN=marketplace = %v, want Unauthenticated: %s", err, want)
			}
		}
		// A Common Name is whatever the CA was asked to write: by default
		// it names nobody, admin least of all.
		if _, err := importOne(t, tlsConn(t, addr, admin), "Piranesi"); status.Code(err) != codes.Unauthenticated {
			t.Errorf("ImportBooks as CN=admin = %v, want Unauthenticated", err)
		}
		if err := checkHealth(t, tlsConn(t, addr, marketplace)); err != nil {
			t.Errorf("health as CN=marketplace: %v, want it open to anyone", err)
		}
		// The operator learns from the log, once, which flag accepts them.
		var said []string
		for _, l := range seen.log.Lines() {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, "-tls-client-identity spiffe-or-cn") {
				said = append(said, l)
			}
		}
		if len(said) != 1 || !strings.Contains(said[0], "common_name=marketplace") {
			t.Errorf("log lines naming -tls-client-identity spiffe-or-cn after three refused calls: %q, want one naming common_name=marketplace", said)
		}
		// The access log says why each was refused, and whose certificate.
		refused := 0
		for _, l := range seen.log.Lines() {
			if strings.Contains(l, "msg=rpc") && strings.Contains(l, "code=Unauthenticated") {
				refused++
				if !strings.Contains(l, `reason="/`) || !strings.Contains(l, `verified certificate carries no identity we accept: no spiffe:// URI"`) || !strings.Contains(l, `subject="CN=`) {
					t.Errorf("access log line of a refused call = %s\nwant its reason and subject", l)
				}
			}
		}
		if refused != 3 {
			t.Errorf("the access log has %d UNAUTHENTICATED lines, want 3", refused)
		}
	})

	t.Run("spiffe-or-cn", func(t *testing.T) {
		addr, seen := startSecureBy(t, serverCfg, certs.SPIFFEOrCommonName)
		if err := callRecommend(t, tlsConn(t, addr, marketplace)); err != nil {
			t.Fatalf("Recommend as CN=marketplace: %v", err)
		}
		if got := seen.last(); got != "marketplace" {
			t.Errorf("the handler saw identity %q, want marketplace", got)
		}
		if _, err := importOne(t, tlsConn(t, addr, marketplace), "Piranesi"); status.Code(err) != codes.PermissionDenied {
			t.Errorf("ImportBooks as CN=marketplace = %v, want PermissionDenied", err)
		}
		// The price of this rule: whoever holds CN=admin is admin.
		if resp, err := importOne(t, tlsConn(t, addr, admin), "Piranesi"); err != nil || resp.GetImported() != 1 {
			t.Errorf("ImportBooks as CN=admin = %v, %v; want 1 imported", resp, err)
		}
		err := callRecommend(t, tlsConn(t, addr, person))
		want := `verified certificate carries no identity we accept: no spiffe:// URI, and its Common Name "Jane Doe" is not an identity`
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(status.Convert(err).Message(), want) {
			t.Errorf("Recommend as CN=Jane Doe = %v, want Unauthenticated: ...%s...", err, want)
		}
		if l := seen.log.String(); strings.Contains(l, "-tls-client-identity spiffe-or-cn") {
			t.Errorf("the log advises -tls-client-identity spiffe-or-cn to a server that has it:\n%s", l)
		}
	})

	t.Run("any-verified", func(t *testing.T) {
		addr, seen := startSecureBy(t, serverCfg, certs.AnyVerified)
		if err := callRecommend(t, tlsConn(t, addr, marketplace)); err != nil {
			t.Errorf("Recommend as CN=marketplace = %v, want it served", err)
		}
		if got := seen.last(); got != "marketplace" {
			t.Errorf("the handler saw identity %q, want marketplace: any-verified names callers as spiffe-or-cn", got)
		}
		if err := callRecommend(t, tlsConn(t, addr, person)); err != nil {
			t.Errorf("Recommend as CN=Jane Doe = %v, want it served", err)
		}
		if got := seen.last(); got != "" {
			t.Errorf("the handler saw identity %q for CN=Jane Doe, want none", got)
		}
		if resp, err := importOne(t, tlsConn(t, addr, marketplace), "Piranesi"); err != nil || resp.GetImported() != 1 {
			t.Errorf("ImportBooks as CN=marketplace = %v, %v; want 1 imported: any verified caller may", resp, err)
		}
		if _, err := listServices(t, tlsConn(t, addr, person)); err != nil {
			t.Errorf("reflection as CN=Jane Doe = %v, want it served", err)
		}
		// The CA still decides: no certificate, no call.
		if err := callRecommend(t, tlsConn(t, addr, clientTLS(t, pki.CAFile, "", ""))); status.Code(err) != codes.Unavailable {
			t.Errorf("Recommend without a certificate = %v, want Unavailable", err)
		}
	})

	// A rule that is no rule, which commands refuse but a ServerConfig may
	// hold: the server says so and names callers as the default does.
	t.Run("no rule", func(t *testing.T) {
		addr, seen := startSecureBy(t, serverCfg, "cn")
		if err := callRecommend(t, tlsConn(t, addr, marketplace)); status.Code(err) != codes.Unauthenticated {
			t.Errorf("Recommend as CN=marketplace = %v, want Unauthenticated, as by spiffe", err)
		}
		if l := seen.log.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, `unknown rule of client identities`) || !strings.Contains(l, `\"cn\" is not a client identity rule`) {
			t.Errorf("server log = %s\nwant an error naming the rule \"cn\"", l)
		}
	})
}

// sanFixPointer is where the error for a server certificate without a
// subject alternative name sends its reader.
const sanFixPointer = "(the one-line fix for a certificate made with openssl: docs/security.md#a-server-certificate-made-with-openssl-needs-a-subject-alternative-name)"

// TestClientExplainsCommonNameOnlyServerCertificate calls a server whose
// certificate is the tutorial's exactly, a Common Name and no subject
// alternative name, which Go refuses: the error says why, and how to fix
// the certificate.
func TestClientExplainsCommonNameOnlyServerCertificate(t *testing.T) {
	pki := rpctest.NewTutorialPKI(t)
	serverCert, serverKey := pki.Issue(t, "server", "localhost")
	serverCfg, err := rpc.ServerTLS(serverCert, serverKey, "")
	if err != nil {
		t.Fatalf("ServerTLS with the tutorial's server certificate: %v", err)
	}
	addr, _ := startSecure(t, serverCfg)
	port := addr[strings.LastIndexByte(addr, ':'):]
	for _, tc := range []struct{ target, want string }{
		{"localhost" + port, "subjectAltName=DNS:localhost"},
		{addr, "subjectAltName=IP:127.0.0.1"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			conn, err := rpc.Dial(tc.target, rpc.ClientConfig{TLS: clientTLS(t, pki.CAFile, "", "")})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, err = recommendationsclient.New(conn, 5*time.Second).Recommend(testContext(t),
				bookshop.RecommendRequest{UserID: 1, Category: bookshop.Mystery, MaxResults: 3})
			for _, want := range []string{"the server's certificate (CN=localhost) has no subject alternative name, only a Common Name", tc.want, sanFixPointer} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Recommend over TLS to a server with a CN-only certificate = %v\nwant an error containing %q", err, want)
				}
			}
		})
	}

	// Where the error points, the fix is.
	t.Run("docs/security.md", func(t *testing.T) {
		doc, err := os.ReadFile("../../../docs/security.md")
		if err != nil {
			t.Fatal(err)
		}
		_, section, found := strings.Cut(string(doc), "\n### A server certificate made with openssl needs a subject alternative name\n")
		section, _, _ = strings.Cut(section, "\n#")
		if !found || !strings.Contains(section, "openssl x509 -req") || !strings.Contains(section, "-extfile /dev/stdin") {
			t.Errorf("docs/security.md has no section %q with the openssl line that adds a SAN, where the error points", "A server certificate made with openssl needs a subject alternative name")
		}
	})

	t.Run("a CA the client does not trust", func(t *testing.T) {
		serverCert, serverKey := pki.Issue(t, "server-san", "localhost", "127.0.0.1")
		serverCfg, err := rpc.ServerTLS(serverCert, serverKey, "")
		if err != nil {
			t.Fatal(err)
		}
		addr, _ := startSecure(t, serverCfg)
		other := rpctest.NewTutorialPKI(t)
		conn, err := rpc.Dial(addr, rpc.ClientConfig{TLS: clientTLS(t, other.CAFile, "", "")})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		err = checkHealth(t, conn)
		if want := "is signed by O=me, a CA this client does not trust: give the client that CA's certificate (-tls-ca)"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("health over TLS to a server of another CA = %v\nwant an error containing %q", err, want)
		}
	})
}
