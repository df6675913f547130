package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// IdentityRule says how a server names the caller of a verified client
// certificate, and so what the authorization policy sees. The zero value
// is SPIFFEOnly, the default; so is any name that is not a rule, so that
// a mistake fails closed.
type IdentityRule string

// The rules, strictest first.
const (
	// SPIFFEOnly names a caller by the URI spiffe://bookshop/<identity>
	// of its certificate alone, as `bookshop certs` issues them. For a
	// client CA that also signs certificates for others (an
	// organization's CA), where anyone may hold a certificate whose Common
	// Name is "admin". The default: a Common Name is whatever the CA was
	// asked to write, so it names nobody unless the operator says that
	// the CA writes only the shop's.
	SPIFFEOnly IdentityRule = "spiffe"

	// SPIFFEOrCommonName names a caller by its URI
	// spiffe://bookshop/<identity> or, when the certificate has no
	// spiffe:// URI at all, by its Common Name, if that is a valid
	// identity (see CheckIdentity): the certificates the tutorial makes
	// with openssl ("/CN=marketplace") name their holder that way. A
	// certificate with a spiffe:// URI is named by it or not at all, never
	// by its Common Name. For a client CA that signs certificates for the
	// shop's services only: whoever may get a certificate from it with a
	// Common Name of their choosing may act as that identity, admin
	// included.
	SPIFFEOrCommonName IdentityRule = "spiffe-or-cn"

	// AnyVerified lets every caller whose certificate the client CA
	// verified call every method the policy names, whatever its identity,
	// as the tutorial's server does: the CA alone decides who may call.
	// Callers are still named as by SPIFFEOrCommonName, for the log. For
	// a CA that signs certificates for the shop's own services only.
	AnyVerified IdentityRule = "any-verified"
)

// IdentityRules lists the rules, for flags' help and messages.
func IdentityRules() []IdentityRule {
	return []IdentityRule{SPIFFEOnly, SPIFFEOrCommonName, AnyVerified}
}

// ParseIdentityRule returns the rule named s; "" is the default,
// SPIFFEOnly. Errors: any other name, with the names to use.
func ParseIdentityRule(s string) (IdentityRule, error) {
	switch r := IdentityRule(s); r {
	case "":
		return SPIFFEOnly, nil
	case SPIFFEOnly, SPIFFEOrCommonName, AnyVerified:
		return r, nil
	}
	return "", fmt.Errorf("%q is not a client identity rule: use %s, %s or %s", s, SPIFFEOnly, SPIFFEOrCommonName, AnyVerified)
}

// namesByCommonName reports whether r names the holder of a certificate
// without a spiffe:// URI by its Common Name: SPIFFEOrCommonName and
// AnyVerified do.
func (r IdentityRule) namesByCommonName() bool {
	return r == SPIFFEOrCommonName || r == AnyVerified
}

// ErrNoSPIFFE is the reason a certificate carries no identity when it
// has no spiffe:// URI and the rule takes identities from URIs only.
var ErrNoSPIFFE = errors.New("no spiffe:// URI")

// Identify returns the identity that a verified client certificate
// carries by rule r (see IdentityRule); AnyVerified names callers as
// SPIFFEOrCommonName does, and any other rule, the zero one included, as
// SPIFFEOnly does. It does not verify cert: call it on a verified
// certificate only.
//
// Errors say why cert carries no identity, for the caller to read: it
// has no spiffe:// URI (ErrNoSPIFFE, by SPIFFEOnly), nor a Common Name
// that is an identity; its spiffe:// URI is of another trust domain, or
// names no valid identity; it has more than one.
func (r IdentityRule) Identify(cert *x509.Certificate) (string, error) {
	id, err := spiffeIdentity(cert)
	if !errors.Is(err, ErrNoSPIFFE) || !r.namesByCommonName() {
		return id, err
	}
	cn := cert.Subject.CommonName
	if cn == "" {
		return "", errors.New("no spiffe:// URI, and no Common Name")
	}
	if CheckIdentity(cn) != nil {
		return "", fmt.Errorf("no spiffe:// URI, and its Common Name %q is not an identity (lower-case letters, digits and hyphens, starting with a letter)", truncate(cn, 64))
	}
	return cn, nil
}

// spiffeIdentity returns the identity of cert's URI
// spiffe://bookshop/<identity>. Errors: ErrNoSPIFFE for a certificate
// without a spiffe:// URI; otherwise what is wrong with its URIs.
func spiffeIdentity(cert *x509.Certificate) (string, error) {
	var id *url.URL
	for _, u := range cert.URIs {
		if !strings.EqualFold(u.Scheme, "spiffe") {
			continue
		}
		if id != nil {
			return "", errors.New("more than one spiffe:// URI, where a SPIFFE ID must be unique")
		}
		id = u
	}
	switch {
	case id == nil:
		return "", ErrNoSPIFFE
	case id.Host != TrustDomain:
		return "", fmt.Errorf("spiffe:// URI %q is not of the trust domain %q", truncate(id.String(), 128), TrustDomain)
	case id.User != nil || id.RawQuery != "" || id.Fragment != "" || id.Opaque != "":
		return "", fmt.Errorf("spiffe:// URI %q is not spiffe://%s/<identity>", truncate(id.String(), 128), TrustDomain)
	}
	identity, found := strings.CutPrefix(id.Path, "/")
	if !found || CheckIdentity(identity) != nil {
		return "", fmt.Errorf("spiffe:// URI %q names no valid identity (lower-case letters, digits and hyphens, starting with a letter)", truncate(id.String(), 128))
	}
	return identity, nil
}

// truncate cuts s to at most n bytes, for a message that quotes what a
// certificate holds.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
