package rpctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TutorialPKI makes certificates the way the tutorial's gen_certs.sh
// makes them with openssl, for tests of interop with its mutual TLS: a
// self-signed CA whose subject is "O=me", and certificates it signs whose
// subject is a Common Name alone ("/CN=marketplace"), with no extended key
// usage and no URI, so no spiffe:// identity; RSA keys, PKCS #8 PEM.
// Keys are 2048 bits rather than the tutorial's 4096, which take seconds
// to make and change nothing that is tested. Files are written to a
// temporary directory under the tutorial's names (ca.pem, NAME.pem,
// NAME.key).
type TutorialPKI struct {
	// Dir is the directory of the files, as the tutorial's programs read
	// them from their own.
	Dir string
	// CAFile is the CA certificate, Dir/ca.pem.
	CAFile string

	ca    *x509.Certificate
	caKey *rsa.PrivateKey
}

// NewTutorialPKI makes the CA and writes ca.pem into a temporary
// directory removed when the test ends.
func NewTutorialPKI(tb testing.TB) *TutorialPKI {
	tb.Helper()
	p := &TutorialPKI{Dir: tb.TempDir()}
	p.caKey = rsaKey(tb)
	now := time.Now()
	p.ca = sign(tb, &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"me"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, p.caKey, p.caKey)
	p.CAFile = writePEM(tb, p.Dir, "ca.pem", "CERTIFICATE", p.ca.Raw)
	return p
}

// Issue makes a key and a certificate for the Common Name commonName,
// signed by the CA, and writes them as NAME.pem and NAME.key. The
// certificate's subject alternative names are dnsNames, as host names,
// or IP addresses for those that parse as one: none makes the tutorial's
// certificates exactly, which Go refuses as server certificates (it checks
// subject alternative names only); one is docs/security.md's fix.
func (p *TutorialPKI) Issue(tb testing.TB, name, commonName string, dnsNames ...string) (certFile, keyFile string) {
	tb.Helper()
	key := rsaKey(tb)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(30 * 24 * time.Hour),
	}
	for _, n := range dnsNames {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	cert := sign(tb, tmpl, p.ca, key, p.caKey)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return writePEM(tb, p.Dir, name+".pem", "CERTIFICATE", cert.Raw), writePEM(tb, p.Dir, name+".key", "PRIVATE KEY", pkcs8)
}

// rsaKey makes a 2048-bit RSA key.
func rsaKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// sign makes the certificate of tmpl for key, signed by parent's
// signerKey (self-signed when parent is nil).
func sign(tb testing.TB, tmpl, parent *x509.Certificate, key, signerKey *rsa.PrivateKey) *x509.Certificate {
	tb.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signerKey)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// writePEM writes one PEM block to dir/name and returns its path.
func writePEM(tb testing.TB, dir, name, blockType string, der []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
