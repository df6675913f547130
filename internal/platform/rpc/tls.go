package rpc

import (
	"cmp"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"
)

// ServerTLS returns the TLS configuration of a Bookshop gRPC server, for
// grpc.Creds(credentials.NewTLS(cfg)): the server's certificate and key
// from certFile and keyFile, and TLS 1.3 or later. When clientCAFile is
// set it is mutual TLS: every client must present a certificate signed by
// a CA of clientCAFile, or the handshake fails; the verified certificate
// then names the caller (see Identity). The files are read once: to
// rotate certificates, replace them and restart.
//
// Errors name the file and what is wrong with it: a file that is missing
// or unreadable, that holds no PEM certificate or key, a key that does not
// match the certificate, a certificate that is not yet valid, has expired,
// or is not for servers (its extended key usage lacks serverAuth); and a
// certFile or keyFile left empty. A CA file's certificates must all be
// valid now.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, errors.New("server TLS: want a certificate file and a key file")
	case certFile == "" || keyFile == "":
		return nil, fmt.Errorf("server TLS: want both a certificate file and a key file; got only %s", cmp.Or(certFile, keyFile))
	}
	cert, err := loadKeyPair(certFile, keyFile, x509.ExtKeyUsageServerAuth, time.Now())
	if err != nil {
		return nil, fmt.Errorf("server TLS: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
	}
	if clientCAFile != "" {
		pool, err := loadCAs(clientCAFile, time.Now())
		if err != nil {
			return nil, fmt.Errorf("server TLS: client CA: %w", err)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = pool
	}
	return cfg, nil
}

// ClientTLS returns the TLS configuration of a Bookshop gRPC client, for
// grpc.WithTransportCredentials(credentials.NewTLS(cfg)): TLS 1.3 or
// later, trusting the CAs of caFile (the system's when caFile is empty),
// and presenting the certificate and key of certFile and keyFile, for
// mutual TLS, when they are set. The server name checked is the host of
// the gRPC target. The files are read once.
//
// Errors name the file and what is wrong with it, as for ServerTLS (a
// client certificate must be for clients: clientAuth), and one of
// certFile and keyFile given without the other.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	if caFile != "" {
		pool, err := loadCAs(caFile, time.Now())
		if err != nil {
			return nil, fmt.Errorf("client TLS: CA: %w", err)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile == "" && keyFile == "":
	case certFile == "" || keyFile == "":
		return nil, fmt.Errorf("client TLS: a client certificate needs both a certificate file and a key file; got only %s", cmp.Or(certFile, keyFile))
	default:
		cert, err := loadKeyPair(certFile, keyFile, x509.ExtKeyUsageClientAuth, time.Now())
		if err != nil {
			return nil, fmt.Errorf("client TLS: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadKeyPair reads a PEM certificate (the leaf first, then any chain) and
// its PEM private key, and checks that they belong together and that the
// leaf is valid at now for usage.
func loadKeyPair(certFile, keyFile string, usage x509.ExtKeyUsage, now time.Time) (tls.Certificate, error) {
	chain, err := readCertificates(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf := chain[0]
	if err := checkValidity(certFile, leaf, now); err != nil {
		return tls.Certificate{}, err
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, usage) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		want := "servers (serverAuth)"
		if usage == x509.ExtKeyUsageClientAuth {
			want = "clients (clientAuth)"
		}
		return tls.Certificate{}, fmt.Errorf("certificate %s (%s) is not for %s: is it the right file?", certFile, leaf.Subject, want)
	}
	key, err := readPrivateKey(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return tls.Certificate{}, fmt.Errorf("key %s does not match certificate %s: use the key that was made with the certificate", keyFile, certFile)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

// loadCAs reads a PEM file of CA certificates into a pool. Each must be
// valid at now.
func loadCAs(file string, now time.Time) (*x509.CertPool, error) {
	certs, err := readCertificates(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		if err := checkValidity(file, c, now); err != nil {
			return nil, err
		}
		pool.AddCert(c)
	}
	return pool, nil
}

// readCertificates reads every CERTIFICATE block of a PEM file; there must
// be at least one.
func readCertificates(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", file, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("certificate %s: no PEM certificate in the file (want a block that starts -----BEGIN CERTIFICATE-----)", file)
	}
	return certs, nil
}

// checkValidity says when c, read from file, is not valid at now.
func checkValidity(file string, c *x509.Certificate, now time.Time) error {
	if now.After(c.NotAfter) {
		return fmt.Errorf("certificate %s (%s) expired at %s: make a new one", file, c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(c.NotBefore) {
		return fmt.Errorf("certificate %s (%s) is not valid until %s: is this machine's clock right?", file, c.Subject, c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// readPrivateKey reads the first private key of a PEM file: PKCS #8
// ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS #1 ("RSA PRIVATE
// KEY").
func readPrivateKey(file string) (crypto.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("key %s: no PEM private key in the file (want a block that starts -----BEGIN PRIVATE KEY-----)", file)
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue // for example the EC PARAMETERS block openssl writes
		}
		var key any
		switch block.Type {
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", file, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key %s: a %T cannot sign", file, key)
		}
		return signer, nil
	}
}

// explainingTLS is TLS transport credentials whose client handshake
// errors say what to do about the server certificates that people most
// often get wrong, such as the tutorial's, which name their host in the
// Common Name alone. The server name checked, and everything else, is
// the wrapped credentials'.
type explainingTLS struct {
	credentials.TransportCredentials
}

// ClientHandshake does the wrapped credentials' handshake and explains
// its error, if any (see explainHandshake).
func (c explainingTLS) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return nil, nil, explainHandshake(err)
	}
	return conn, info, nil
}

// Clone returns a copy that explains too.
func (c explainingTLS) Clone() credentials.TransportCredentials {
	return explainingTLS{c.TransportCredentials.Clone()}
}

// explainHandshake returns err, a failed client handshake, with what to
// do about it when the server's certificate is the cause:
//
//   - a certificate without subject alternative names, whose Common Name
//     Go never checks (the tutorial's, made with openssl): issue it with
//     a SAN for the host name;
//   - a certificate of a CA the client does not trust: give the client
//     that CA.
//
// It wraps err, so errors.As still finds the x509 error.
func explainHandshake(err error) error {
	if he, ok := errors.AsType[x509.HostnameError](err); ok && he.Certificate != nil &&
		len(he.Certificate.DNSNames) == 0 && len(he.Certificate.IPAddresses) == 0 {
		san := "DNS:" + he.Host
		if net.ParseIP(he.Host) != nil {
			san = "IP:" + he.Host
		}
		return fmt.Errorf("the server's certificate (%s) has no subject alternative name, only a Common Name, and Go checks a server's host name (%s) against subject alternative names only: "+
			"issue the certificate with one for the host name, such as subjectAltName=%s "+
			"(the one-line fix for a certificate made with openssl: docs/security.md#a-server-certificate-made-with-openssl-needs-a-subject-alternative-name): %w",
			he.Certificate.Subject, he.Host, san, err)
	}
	if ua, ok := errors.AsType[x509.UnknownAuthorityError](err); ok && ua.Cert != nil {
		return fmt.Errorf("the server's certificate (%s) is signed by %s, a CA this client does not trust: give the client that CA's certificate (-tls-ca): %w",
			ua.Cert.Subject, ua.Cert.Issuer, err)
	}
	return err
}
