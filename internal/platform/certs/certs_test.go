package certs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
)

// The services and identities the tests make certificates for, as the
// bookshop tool names them.
var (
	testServices   = []string{"catalog", "recommendations", "marketplace", "demo"}
	testIdentities = []string{"marketplace", "recommendations", "admin"}
)

// shop returns Options for testServices and testIdentities.
func shop() certs.Options {
	return certs.Options{Services: testServices, Identities: testIdentities}
}

// generate calls certs.Generate and fails the test on an error.
func generate(tb testing.TB, opts certs.Options) *certs.Set {
	tb.Helper()
	set, err := certs.Generate(opts)
	if err != nil {
		tb.Fatalf("Generate(%+v): %v", opts, err)
	}
	return set
}

// verify verifies cert against set's CA for usage, at time at (now when
// zero), with the DNS name or IP address name when it is not empty.
func verify(set *certs.Set, cert *x509.Certificate, usage x509.ExtKeyUsage, name string, at time.Time) error {
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       set.CertPool(),
		DNSName:     name,
		KeyUsages:   []x509.ExtKeyUsage{usage},
		CurrentTime: at,
	})
	return err
}

// TestGenerateCA checks that the CA is a CA that may sign leaves only.
func TestGenerateCA(t *testing.T) {
	ca := generate(t, shop()).CA.Certificate
	if !ca.IsCA || !ca.BasicConstraintsValid {
		t.Errorf("CA: IsCA = %v, BasicConstraintsValid = %v; want both true", ca.IsCA, ca.BasicConstraintsValid)
	}
	if ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA: MaxPathLen = %d, MaxPathLenZero = %v; want 0, true", ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; ca.KeyUsage != want {
		t.Errorf("CA: KeyUsage = %b, want %b (certSign, CRLSign)", ca.KeyUsage, want)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
}

// TestGenerateServer checks that the server certificate verifies for
// every name a Bookshop server answers to, for servers only.
func TestGenerateServer(t *testing.T) {
	set := generate(t, shop())
	server := set.Server.Certificate
	names := append(certs.ServerDNSNames(certs.DefaultNamespace, testServices),
		"recommendations-0.recommendations.bookshop.svc.cluster.local", // a pod of a headless service
		"127.0.0.1", "::1")
	for _, name := range []string{
		"localhost", "recommendations", "marketplace", "demo",
		"recommendations.bookshop.svc", "recommendations.bookshop.svc.cluster.local",
	} {
		if !slices.Contains(names, name) {
			t.Errorf("ServerDNSNames(%q) = %v, want %s among them", certs.DefaultNamespace, names, name)
		}
	}
	for _, name := range names {
		if err := verify(set, server, x509.ExtKeyUsageServerAuth, name, time.Time{}); err != nil {
			t.Errorf("server certificate for %q: %v", name, err)
		}
	}
	for _, name := range []string{"example.com", "a.b.recommendations.bookshop.svc.cluster.local", "10.0.0.1"} {
		if err := verify(set, server, x509.ExtKeyUsageServerAuth, name, time.Time{}); err == nil {
			t.Errorf("server certificate verifies for %q, want an error", name)
		}
	}
	if err := verify(set, server, x509.ExtKeyUsageClientAuth, "", time.Time{}); !isIncompatibleUsage(err) {
		t.Errorf("server certificate as a client certificate: %v, want an incompatible usage error", err)
	}
	if server.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("server KeyUsage = %b, want digitalSignature only", server.KeyUsage)
	}
	if server.IsCA {
		t.Error("server certificate is a CA")
	}
}

// TestGenerateClients checks that there is one client certificate for
// each identity, which carries it as its URI and CommonName, and verifies
// for clients only.
func TestGenerateClients(t *testing.T) {
	set := generate(t, shop())
	// The callers of Bookshop's services: the Marketplace, Recommendations
	// (which watches the Catalog) and the operators.
	if want := len(testIdentities); len(set.Clients) != want {
		t.Fatalf("Generate made %d client certificates, want %d: %v", len(set.Clients), want, testIdentities)
	}
	for _, id := range testIdentities {
		c, ok := set.Client(id)
		if !ok {
			t.Errorf("no client certificate for %q", id)
			continue
		}
		cert := c.Certificate
		if got, ok := certs.IdentityOf(cert); !ok || got != id {
			t.Errorf("IdentityOf(%s's certificate) = %q, %v; want %q, true", id, got, ok, id)
		}
		wantURI := "spiffe://bookshop/" + id
		if len(cert.URIs) != 1 || cert.URIs[0].String() != wantURI {
			t.Errorf("%s: URIs = %v, want [%s]", id, cert.URIs, wantURI)
		}
		if cert.Subject.CommonName != id {
			t.Errorf("%s: CommonName = %q, want %q", id, cert.Subject.CommonName, id)
		}
		if len(cert.DNSNames) != 0 || len(cert.IPAddresses) != 0 {
			t.Errorf("%s: DNS names %v and IPs %v, want none", id, cert.DNSNames, cert.IPAddresses)
		}
		if err := verify(set, cert, x509.ExtKeyUsageClientAuth, "", time.Time{}); err != nil {
			t.Errorf("%s as a client: %v", id, err)
		}
		if err := verify(set, cert, x509.ExtKeyUsageServerAuth, "", time.Time{}); !isIncompatibleUsage(err) {
			t.Errorf("%s as a server: %v, want an incompatible usage error", id, err)
		}
		if cert.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("%s: KeyUsage = %b, want digitalSignature only", id, cert.KeyUsage)
		}
	}
}

func isIncompatibleUsage(err error) bool {
	var invalid x509.CertificateInvalidError
	return errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage
}

// TestGenerateKeysAndSerials checks the keys (P-256, PKCS #8 in PEM), the
// serial numbers (random, positive, at most 128 bits) and the default
// validity of a year.
func TestGenerateKeysAndSerials(t *testing.T) {
	set := generate(t, shop())
	pairs := append([]certs.KeyPair{set.CA, set.Server}, set.Clients...)
	serials := make(map[string]bool)
	for _, p := range pairs {
		name := p.Certificate.Subject.CommonName
		if p.Key.Curve != elliptic.P256() {
			t.Errorf("%s: curve %v, want P-256", name, p.Key.Curve.Params().Name)
		}
		block, rest := pem.Decode(p.KeyPEM)
		if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
			t.Fatalf("%s: KeyPEM is not one PEM PRIVATE KEY block:\n%s", name, p.KeyPEM)
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatalf("%s: key is not PKCS #8: %v", name, err)
		}
		if !key.(*ecdsa.PrivateKey).Equal(p.Key) {
			t.Errorf("%s: KeyPEM holds another key", name)
		}
		block, _ = pem.Decode(p.CertPEM)
		if block == nil || block.Type != "CERTIFICATE" || string(block.Bytes) != string(p.Certificate.Raw) {
			t.Errorf("%s: CertPEM does not hold the certificate", name)
		}

		sn := p.Certificate.SerialNumber
		if sn.Sign() <= 0 || sn.BitLen() > 128 || sn.BitLen() < 64 {
			t.Errorf("%s: serial %v (%d bits), want a positive random number of up to 128 bits", name, sn, sn.BitLen())
		}
		if serials[sn.String()] {
			t.Errorf("%s: serial %v used twice", name, sn)
		}
		serials[sn.String()] = true

		if got := p.Certificate.NotAfter.Sub(p.Certificate.NotBefore); got != certs.DefaultValidity {
			t.Errorf("%s: valid for %v, want %v", name, got, certs.DefaultValidity)
		}
		if since := time.Since(p.Certificate.NotBefore); since < 0 || since > time.Minute {
			t.Errorf("%s: NotBefore %v, want about now", name, p.Certificate.NotBefore)
		}
	}
}

// TestGenerateOptions checks the namespace, identities and validity
// options.
func TestGenerateOptions(t *testing.T) {
	set := generate(t, certs.Options{Namespace: "shop", Services: testServices, Identities: []string{"reporting"}, Validity: 48 * time.Hour})
	if err := verify(set, set.Server.Certificate, x509.ExtKeyUsageServerAuth, "recommendations.shop.svc.cluster.local", time.Time{}); err != nil {
		t.Errorf("namespace shop: %v", err)
	}
	if err := verify(set, set.Server.Certificate, x509.ExtKeyUsageServerAuth, "recommendations.bookshop.svc", time.Time{}); err == nil {
		t.Error("namespace shop: the certificate is valid in namespace bookshop too")
	}
	if _, ok := set.Client("reporting"); !ok || len(set.Clients) != 1 {
		t.Errorf("Identities [reporting]: clients %d, reporting found %v; want only reporting", len(set.Clients), ok)
	}
	if got := set.Server.Certificate.NotAfter.Sub(set.Server.Certificate.NotBefore); got != 48*time.Hour {
		t.Errorf("Validity 48h: valid for %v", got)
	}
}

// TestGenerateExpired checks that NotBefore and NotAfter are honoured: a
// set made for last year verifies then, and not now.
func TestGenerateExpired(t *testing.T) {
	notBefore := time.Now().AddDate(-1, 0, 0)
	notAfter := notBefore.Add(24 * time.Hour)
	opts := shop()
	opts.NotBefore, opts.NotAfter = notBefore, notAfter
	set := generate(t, opts)
	mp, _ := set.Client("marketplace")
	for _, c := range []struct {
		name  string
		cert  *x509.Certificate
		usage x509.ExtKeyUsage
	}{
		{"server", set.Server.Certificate, x509.ExtKeyUsageServerAuth},
		{"marketplace", mp.Certificate, x509.ExtKeyUsageClientAuth},
	} {
		if err := verify(set, c.cert, c.usage, "", notBefore.Add(time.Hour)); err != nil {
			t.Errorf("%s, within its validity: %v", c.name, err)
		}
		var invalid x509.CertificateInvalidError
		if err := verify(set, c.cert, c.usage, "", time.Time{}); !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
			t.Errorf("%s, now: %v, want an expired error", c.name, err)
		}
		if !c.cert.NotBefore.Equal(notBefore.Truncate(time.Second)) || !c.cert.NotAfter.Equal(notAfter.Truncate(time.Second)) {
			t.Errorf("%s: valid %v to %v, want %v to %v", c.name, c.cert.NotBefore, c.cert.NotAfter, notBefore, notAfter)
		}
	}
}

// TestIssueClient checks a client certificate issued later from the same
// CA: an expired one for tests.
func TestIssueClient(t *testing.T) {
	opts := shop()
	opts.NotBefore = time.Now().Add(-72 * time.Hour)
	set := generate(t, opts)
	start := time.Now().Add(-48 * time.Hour)
	c, err := set.IssueClient("marketplace", start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(set, c.Certificate, x509.ExtKeyUsageClientAuth, "", start.Add(time.Minute)); err != nil {
		t.Errorf("issued certificate within its validity: %v", err)
	}
	var invalid x509.CertificateInvalidError
	if err := verify(set, c.Certificate, x509.ExtKeyUsageClientAuth, "", time.Time{}); !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Errorf("issued certificate after it expired: %v, want an expired error", err)
	}
	if want := len(testIdentities); len(set.Clients) != want {
		t.Errorf("IssueClient changed the set: %d clients, want %d", len(set.Clients), want)
	}
	if _, err := set.IssueClient("Bad Name", start, start.Add(time.Hour)); err == nil {
		t.Error(`IssueClient("Bad Name") = nil error, want one`)
	}
	if _, err := (&certs.Set{}).IssueClient("marketplace", start, start.Add(time.Hour)); err == nil {
		t.Error("IssueClient on a Set without a CA = nil error, want one")
	}
}

// TestGenerateRefusesBadOptions checks that Generate refuses bad options
// with a message that says what is wrong.
func TestGenerateRefusesBadOptions(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		opts    certs.Options
		wantErr string
	}{
		{"namespace with a dot", certs.Options{Namespace: "a.b"}, `namespace "a.b"`},
		{"namespace in upper case", certs.Options{Namespace: "Shop"}, `namespace "Shop"`},
		{"identity with a slash", certs.Options{Identities: []string{"a/b"}}, `identity "a/b"`},
		{"identity starting with a digit", certs.Options{Identities: []string{"1st"}}, `identity "1st"`},
		{"empty identity", certs.Options{Identities: []string{"admin", ""}}, `identity ""`},
		{"identity taken by a file", certs.Options{Identities: []string{"server"}}, `identity "server"`},
		{"identity twice", certs.Options{Identities: []string{"admin", "admin"}}, "twice"},
		{"negative validity", certs.Options{Validity: -time.Hour}, "validity"},
		{"NotAfter before NotBefore", certs.Options{NotBefore: now, NotAfter: now.Add(-time.Hour)}, "NotAfter"},
		{"NotAfter before now", certs.Options{NotAfter: now.Add(-time.Hour)}, "NotAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.Generate(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Generate(%+v) = %v, want an error containing %q", tt.opts, err, tt.wantErr)
			}
		})
	}
}

// TestIdentityOf checks which URIs name an identity.
func TestIdentityOf(t *testing.T) {
	tests := []struct {
		uris   []string
		want   string
		wantOK bool
	}{
		{[]string{"spiffe://bookshop/marketplace"}, "marketplace", true},
		{[]string{"https://example.com/", "spiffe://bookshop/admin"}, "admin", true},
		{nil, "", false},
		{[]string{"spiffe://other/marketplace"}, "", false},
		{[]string{"spiffe://bookshop/marketplace", "spiffe://bookshop/admin"}, "", false},
		{[]string{"spiffe://bookshop/a/b"}, "", false},
		{[]string{"spiffe://bookshop/"}, "", false},
		{[]string{"spiffe://bookshop/admin?x=1"}, "", false},
		{[]string{"spiffe://bookshop:8443/admin"}, "", false},
		{[]string{"https://bookshop/admin"}, "", false},
	}
	for _, tt := range tests {
		cert := &x509.Certificate{}
		for _, s := range tt.uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			cert.URIs = append(cert.URIs, u)
		}
		got, ok := certs.IdentityOf(cert)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("IdentityOf(URIs %v) = %q, %v; want %q, %v", tt.uris, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestGenerateDefaults checks what the zero Options make: a server
// certificate for localhost alone, and the operators' identity.
func TestGenerateDefaults(t *testing.T) {
	set := generate(t, certs.Options{})
	if got := set.Server.Certificate.DNSNames; !slices.Equal(got, []string{"localhost"}) {
		t.Errorf("server DNS names = %v, want [localhost]", got)
	}
	if len(set.Clients) != 1 {
		t.Fatalf("Generate made %d client certificates, want 1 (admin)", len(set.Clients))
	}
	if _, ok := set.Client(certs.AdminIdentity); !ok {
		t.Errorf("no client certificate for %q", certs.AdminIdentity)
	}
	if _, err := certs.Generate(certs.Options{Services: []string{"Not A Label"}}); err == nil {
		t.Error("Generate with a service name that is no DNS label = nil error, want one")
	}
}

// TestIdentify checks how each rule names the holder of a certificate: by
// its spiffe:// URI, by its Common Name only when it has no spiffe:// URI
// and the rule allows it, and otherwise not at all, with the reason.
func TestIdentify(t *testing.T) {
	cert := func(cn string, uris ...string) *x509.Certificate {
		c := &x509.Certificate{}
		c.Subject.CommonName = cn
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			c.URIs = append(c.URIs, u)
		}
		return c
	}
	tests := []struct {
		name    string
		cert    *x509.Certificate
		rule    certs.IdentityRule
		want    string
		wantErr string // "" for none
	}{
		{"URI", cert("ignored", "spiffe://bookshop/marketplace"), certs.SPIFFEOnly, "marketplace", ""},
		{"URI over CN", cert("admin", "spiffe://bookshop/marketplace"), certs.SPIFFEOrCommonName, "marketplace", ""},
		{"the tutorial's client certificate", cert("marketplace"), certs.SPIFFEOrCommonName, "marketplace", ""},
		{"the zero rule is spiffe", cert("marketplace"), "", "", "no spiffe:// URI"},
		{"a rule of no name is spiffe", cert("marketplace"), "cn", "", "no spiffe:// URI"},
		{"any-verified names as spiffe-or-cn", cert("marketplace"), certs.AnyVerified, "marketplace", ""},
		{"CN with another URI", cert("marketplace", "https://example.com/"), certs.SPIFFEOrCommonName, "marketplace", ""},
		{"CN refused by spiffe", cert("marketplace"), certs.SPIFFEOnly, "", "no spiffe:// URI"},
		{"no CN", cert(""), certs.SPIFFEOrCommonName, "", "no spiffe:// URI, and no Common Name"},
		{"CN that is no identity", cert("Bookshop server"), certs.SPIFFEOrCommonName, "", `Common Name "Bookshop server" is not an identity`},
		{"bad URI, no CN fallback", cert("admin", "spiffe://other/admin"), certs.SPIFFEOrCommonName, "", "not of the trust domain"},
		{"two URIs", cert("admin", "spiffe://bookshop/a", "spiffe://bookshop/b"), certs.SPIFFEOrCommonName, "", "more than one spiffe:// URI"},
		{"URI without identity", cert("admin", "spiffe://bookshop/Admin"), certs.SPIFFEOrCommonName, "", "names no valid identity"},
		{"URI with a query", cert("admin", "spiffe://bookshop/admin?x=1"), certs.SPIFFEOrCommonName, "", "is not spiffe://bookshop/<identity>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rule.Identify(tt.cert)
			switch {
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Errorf("%q.Identify = %q, %v; want %q, nil", tt.rule, got, err, tt.want)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != ""):
				t.Errorf("%q.Identify = %q, %v; want an error containing %q", tt.rule, got, err, tt.wantErr)
			}
		})
	}
	if _, err := certs.SPIFFEOnly.Identify(cert("marketplace")); !errors.Is(err, certs.ErrNoSPIFFE) {
		t.Errorf("spiffe.Identify(CN only) = %v, want ErrNoSPIFFE", err)
	}
}

// TestParseIdentityRule checks the names of the rules.
func TestParseIdentityRule(t *testing.T) {
	for _, r := range certs.IdentityRules() {
		if got, err := certs.ParseIdentityRule(string(r)); got != r || err != nil {
			t.Errorf("ParseIdentityRule(%q) = %q, %v; want it back", r, got, err)
		}
	}
	if got, err := certs.ParseIdentityRule(""); got != certs.SPIFFEOnly || err != nil {
		t.Errorf(`ParseIdentityRule("") = %q, %v; want %q`, got, err, certs.SPIFFEOnly)
	}
	if _, err := certs.ParseIdentityRule("cn"); err == nil || !strings.Contains(err.Error(), "spiffe-or-cn") {
		t.Errorf(`ParseIdentityRule("cn") = %v, want an error naming the rules`, err)
	}
}
