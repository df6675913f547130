// Package certs makes a small public key infrastructure for running
// Bookshop with TLS and mutual TLS on a laptop, in tests and in a test
// cluster: a CA; one server certificate for every name a Bookshop server
// answers to, local and in Kubernetes; and one client certificate for each
// identity, which carries the identity as the URI
// spiffe://bookshop/<identity> that servers authorize callers by.
//
// Keys are ECDSA P-256, files are PEM, private keys are PKCS #8. Only the
// standard library is used, so no external tool is needed.
//
// It is not a production CA: it keeps no records, publishes no revocation
// lists, and never writes the CA's private key, so that no one can issue
// more certificates from a CA once its files are written. To add an
// identity, make a new set.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// TrustDomain is the host of the identity URIs that Bookshop's client
// certificates carry: spiffe://bookshop/<identity>.
const TrustDomain = "bookshop"

// DefaultNamespace is the Kubernetes namespace whose service names the
// server certificate covers when Options.Namespace is empty.
const DefaultNamespace = "bookshop"

// DefaultValidity is how long certificates are valid when Options says
// nothing: one year.
const DefaultValidity = 365 * 24 * time.Hour

// Options says what Generate makes. The package knows no service: its
// caller (the bookshop tool, from its list of services) names the
// services and the identities.
type Options struct {
	// Namespace is the Kubernetes namespace the services run in; the
	// server certificate covers their cluster names there (see
	// ServerDNSNames). Default: DefaultNamespace.
	Namespace string

	// Services are the names of the services the server certificate is
	// for, each a DNS label (see ServerDNSNames). Without any, it covers
	// localhost alone.
	Services []string

	// Identities are the client identities to issue a certificate for,
	// one each: lower-case letters, digits and hyphens, starting with a
	// letter, at most 63 characters; not "ca" or "server", whose file
	// names are taken. Default: AdminIdentity alone.
	Identities []string

	// Validity is how long the certificates are valid, from NotBefore.
	// Default: DefaultValidity. NotAfter, when set, wins.
	Validity time.Duration

	// NotBefore is when the certificates become valid. Default: the time
	// Generate runs.
	NotBefore time.Time

	// NotAfter is when the certificates expire. Default: NotBefore plus
	// Validity. Tests set it in the past to make expired certificates.
	NotAfter time.Time

	// Overwrite lets WriteDir replace files that already exist. Without
	// it, WriteDir refuses to write into a directory that holds any of the
	// set's files.
	Overwrite bool
}

// Validate reports what is wrong with o, if anything: a namespace that is
// not a DNS label, an identity that cannot be one (see Options.Identities)
// or that comes twice, a negative Validity, or a NotAfter that is not after
// NotBefore.
func (o Options) Validate() error {
	if o.Namespace != "" && !isDNSLabel(o.Namespace) {
		return fmt.Errorf("namespace %q: want a Kubernetes namespace: lower-case letters, digits and hyphens, at most 63 characters, starting and ending with a letter or digit", o.Namespace)
	}
	for _, name := range o.Services {
		if !isDNSLabel(name) {
			return fmt.Errorf("service %q: want a DNS label: lower-case letters, digits and hyphens, at most 63 characters", name)
		}
	}
	seen := make(map[string]bool)
	for _, id := range o.Identities {
		if err := CheckIdentity(id); err != nil {
			return err
		}
		if id == "ca" || id == "server" {
			return fmt.Errorf("identity %q: the name is taken by %s.crt and %s.key; choose another", id, id, id)
		}
		if seen[id] {
			return fmt.Errorf("identity %q is given twice", id)
		}
		seen[id] = true
	}
	if o.Validity < 0 {
		return fmt.Errorf("validity %v: want a positive duration", o.Validity)
	}
	if !o.NotBefore.IsZero() && !o.NotAfter.IsZero() && !o.NotAfter.After(o.NotBefore) {
		return fmt.Errorf("NotAfter %v is not after NotBefore %v", o.NotAfter, o.NotBefore)
	}
	return nil
}

// CheckIdentity returns an error, which says what is wanted, unless id can
// be an identity: 1 to 63 lower-case letters, digits and hyphens, starting
// with a letter and not ending with a hyphen, so that it is safe as a file
// name and as a URI path segment.
func CheckIdentity(id string) error {
	if !isDNSLabel(id) || id[0] < 'a' || id[0] > 'z' {
		return fmt.Errorf("identity %q: want lower-case letters, digits and hyphens, at most 63 characters, starting with a letter and not ending with a hyphen", id)
	}
	return nil
}

// isDNSLabel reports whether s is an RFC 1123 label in lower case, as
// Kubernetes names are.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// IdentityURI returns the URI that names identity in a client certificate:
// spiffe://bookshop/<identity>.
func IdentityURI(identity string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: TrustDomain, Path: "/" + identity}
}

// IdentityOf returns the identity that cert carries: the <identity> of its
// URI SAN spiffe://bookshop/<identity>. ok is false when cert has no SPIFFE
// URI, more than one (a SPIFFE ID must be unique), one of another trust
// domain, or one whose path is not a single valid identity. It does not
// verify cert: call it on a verified certificate only. It reads the URI
// alone; IdentityRule.Identify is how servers name their callers.
func IdentityOf(cert *x509.Certificate) (identity string, ok bool) {
	id, err := spiffeIdentity(cert)
	return id, err == nil
}

// AdminIdentity is the operators' identity: imports, and tools such as
// grpcurl.
const AdminIdentity = "admin"

// ServerDNSNames returns the DNS names the server certificate covers, for
// the named services running in namespace: localhost; each service's bare
// name, as Docker Compose and `bookshop up` reach it; and its Kubernetes
// names (NAME.<ns>, NAME.<ns>.svc, NAME.<ns>.svc.cluster.local), with a
// wildcard for the pods of a headless service
// (*.NAME.<ns>.svc.cluster.local), which a client that balances over the
// pods dials one by one.
func ServerDNSNames(namespace string, services []string) []string {
	names := append([]string{"localhost"}, services...)
	for _, s := range services {
		names = append(names,
			s+"."+namespace,
			s+"."+namespace+".svc",
			s+"."+namespace+".svc.cluster.local",
			"*."+s+"."+namespace+".svc.cluster.local")
	}
	return names
}

// KeyPair is a certificate and its private key, parsed and in PEM.
type KeyPair struct {
	Certificate *x509.Certificate
	Key         *ecdsa.PrivateKey
	CertPEM     []byte // the certificate, PEM "CERTIFICATE"
	KeyPEM      []byte // the key, PKCS #8, PEM "PRIVATE KEY"
}

// TLSCertificate returns p as crypto/tls uses it, for a tls.Config built in
// memory.
func (p KeyPair) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{p.Certificate.Raw}, PrivateKey: p.Key, Leaf: p.Certificate}
}

// Set is a CA and the server and client certificates it signed.
type Set struct {
	// CA is the certificate authority. Its key stays in memory, for
	// IssueClient; WriteDir does not write it.
	CA KeyPair
	// Server is the one server certificate, for every Bookshop server.
	Server KeyPair
	// Clients are the client certificates, in the order of
	// Options.Identities.
	Clients []KeyPair

	overwrite bool
}

// Generate makes a CA, a server certificate and a client certificate for
// each identity, as opts says. Errors: opts is invalid (see
// Options.Validate), or the system's random source fails.
func Generate(opts Options) (*Set, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("generate certificates: %w", err)
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if len(opts.Identities) == 0 {
		opts.Identities = []string{AdminIdentity}
	}
	if opts.Validity == 0 {
		opts.Validity = DefaultValidity
	}
	if opts.NotBefore.IsZero() {
		opts.NotBefore = time.Now()
	}
	if opts.NotAfter.IsZero() {
		opts.NotAfter = opts.NotBefore.Add(opts.Validity)
	}
	if !opts.NotAfter.After(opts.NotBefore) {
		return nil, fmt.Errorf("generate certificates: NotAfter %v is not after NotBefore %v", opts.NotAfter, opts.NotBefore)
	}

	ca, err := issue(&x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Bookshop"}, CommonName: "Bookshop development CA"},
		NotBefore:             opts.NotBefore,
		NotAfter:              opts.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true, // it signs leaves only, no intermediate CAs
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("generate CA: %w", err)
	}
	s := &Set{CA: ca, overwrite: opts.Overwrite}
	s.Server, err = issue(&x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Bookshop"}, CommonName: "Bookshop server"},
		NotBefore:             opts.NotBefore,
		NotAfter:              opts.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              ServerDNSNames(opts.Namespace, opts.Services),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}, &s.CA)
	if err != nil {
		return nil, fmt.Errorf("generate server certificate: %w", err)
	}
	for _, id := range opts.Identities {
		c, err := s.IssueClient(id, opts.NotBefore, opts.NotAfter)
		if err != nil {
			return nil, err
		}
		s.Clients = append(s.Clients, c)
	}
	return s, nil
}

// IssueClient returns a new client certificate for identity, signed by s's
// CA and valid from notBefore to notAfter. It does not add it to s, so
// WriteDir does not write it: it is for tests that need, say, an expired
// certificate from a trusted CA. Errors: a Set not made by Generate, an
// invalid identity, a notAfter not after notBefore, or a failing random
// source.
func (s *Set) IssueClient(identity string, notBefore, notAfter time.Time) (KeyPair, error) {
	if s.CA.Certificate == nil || s.CA.Key == nil {
		return KeyPair{}, fmt.Errorf("issue client certificate for %q: the set has no CA key: make one with Generate", identity)
	}
	if err := CheckIdentity(identity); err != nil {
		return KeyPair{}, fmt.Errorf("issue client certificate: %w", err)
	}
	if !notAfter.After(notBefore) {
		return KeyPair{}, fmt.Errorf("issue client certificate for %q: NotAfter %v is not after NotBefore %v", identity, notAfter, notBefore)
	}
	c, err := issue(&x509.Certificate{
		// The CommonName is for people reading the certificate; servers
		// authorize by the URI.
		Subject:               pkix.Name{Organization: []string{"Bookshop"}, CommonName: identity},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{IdentityURI(identity)},
	}, &s.CA)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue client certificate for %q: %w", identity, err)
	}
	return c, nil
}

// Client returns the client certificate of identity, if s has one.
func (s *Set) Client(identity string) (KeyPair, bool) {
	for _, c := range s.Clients {
		if id, _ := IdentityOf(c.Certificate); id == identity {
			return c, true
		}
	}
	return KeyPair{}, false
}

// CertPool returns a pool that holds s's CA certificate, for a tls.Config
// built in memory.
func (s *Set) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.CA.Certificate)
	return pool
}

// issue makes a new key and a certificate for it from template, signed by
// parent's key, or self-signed when parent is nil. It sets the template's
// serial number.
func issue(template *x509.Certificate, parent *KeyPair) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	if template.SerialNumber, err = serialNumber(); err != nil {
		return KeyPair{}, err
	}
	signer, signerKey := template, key
	if parent != nil {
		signer, signerKey = parent.Certificate, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, signer, &key.PublicKey, signerKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return KeyPair{}, fmt.Errorf("parse the new certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("encode key: %w", err)
	}
	return KeyPair{
		Certificate: cert,
		Key:         key,
		CertPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}, nil
}

// serialNumber returns a random positive serial number of 128 bits, as
// RFC 5280 and the CA/Browser Forum ask (at least 64 random bits, at most
// 20 bytes).
func serialNumber() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
