package deploy

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// certSet is a set of certificates made by `bookshop certs`.
type certSet struct {
	dir   string
	files []string // the names of the files it wrote
}

var certSets struct {
	sync.Mutex
	m map[string]*certSet
}

// certsFor returns the certificates that `bookshop certs -namespace ns DIR`
// makes, made once per namespace.
func certsFor(tb testing.TB, ns string) *certSet {
	tb.Helper()
	certSets.Lock()
	defer certSets.Unlock()
	if s, ok := certSets.m[ns]; ok {
		return s
	}
	dir := filepath.Join(scratch, "certs-"+ns)
	if res := runBookshop(tb, nil, "certs", "-namespace", ns, dir); res.exitCode != 0 {
		tb.Fatalf("bookshop certs -namespace %s %s: exit status %d\n%s", ns, dir, res.exitCode, res.stderr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	s := &certSet{dir: dir}
	for _, e := range entries {
		s.files = append(s.files, e.Name())
	}
	if certSets.m == nil {
		certSets.m = make(map[string]*certSet)
	}
	certSets.m[ns] = s
	return s
}

// has reports whether the set has a file of that name.
func (s *certSet) has(name string) bool { return slices.Contains(s.files, name) }

// certificate returns the certificate in the file name of the set.
func (s *certSet) certificate(tb testing.TB, name string) *x509.Certificate {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		tb.Fatalf("%s: no PEM certificate", name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return cert
}

// identity returns the identity in a client certificate of the set, from
// its spiffe://bookshop/<identity> URI.
func (s *certSet) identity(tb testing.TB, name string) string {
	tb.Helper()
	for _, u := range s.certificate(tb, name).URIs {
		if u.Scheme == "spiffe" && u.Host == "bookshop" {
			return strings.TrimPrefix(u.Path, "/")
		}
	}
	tb.Fatalf("%s has no spiffe://bookshop/ identity", name)
	return ""
}

// usage reports whether the certificate in the file name is a leaf for
// usage (x509.ExtKeyUsageServerAuth or ClientAuth).
func (s *certSet) usage(tb testing.TB, name string, usage x509.ExtKeyUsage) bool {
	tb.Helper()
	c := s.certificate(tb, name)
	return !c.IsCA && slices.Contains(c.ExtKeyUsage, usage)
}

// issuer reports whether the file name holds the CA that signed the set.
func (s *certSet) isCA(tb testing.TB, name string) bool {
	tb.Helper()
	return s.certificate(tb, name).IsCA
}

// coversName reports whether the server certificate in the file name is
// valid for the host name.
func (s *certSet) coversName(tb testing.TB, name, host string) bool {
	tb.Helper()
	return s.certificate(tb, name).VerifyHostname(host) == nil
}
