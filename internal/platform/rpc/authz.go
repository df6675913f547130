package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
)

// identityKey is the context key of the caller's identity, as the
// server's rule named it when it authorized the call.
type identityKey struct{}

// Identity returns the identity of the caller of the call ctx belongs to,
// as the server's rule of client identities (ServerConfig.ClientIdentity)
// named it when authorization let the call through: the <identity> of
// the URI SAN spiffe://bookshop/<identity> of the client certificate that
// the server verified in the TLS handshake, or, by certs.SPIFFEOrCommonName
// and certs.AnyVerified, the Common Name of one with no spiffe:// URI.
// For a call that authorization did not name (a method open to Anyone, a
// server without authorization) it names the caller by the default rule,
// certs.SPIFFEOnly. ok is false on a connection without TLS, without a
// client certificate, or with one the server did not verify, and for a
// certificate that carries no identity (see IdentityBy).
func Identity(ctx context.Context) (identity string, ok bool) {
	if id, ok := ctx.Value(identityKey{}).(string); ok {
		return id, true
	}
	id, err := IdentityBy(ctx, certs.SPIFFEOnly)
	return id, err == nil
}

// errNoVerifiedCertificate is IdentityBy's error for a caller that
// presented no certificate the server verified.
var errNoVerifiedCertificate = errors.New("no verified client certificate")

// IdentityBy returns the identity of the caller of the call ctx belongs
// to, as rule names it (see certs.IdentityRule.Identify). Only a
// certificate that the server verified in the TLS handshake counts.
// Errors: the caller presented no verified certificate (no TLS, no
// certificate, or one not verified); or the verified certificate carries
// no identity that rule accepts, saying why ("verified certificate
// carries no identity we accept: no spiffe:// URI").
func IdentityBy(ctx context.Context, rule certs.IdentityRule) (string, error) {
	leaf := verifiedLeaf(ctx)
	if leaf == nil {
		return "", errNoVerifiedCertificate
	}
	id, err := rule.Identify(leaf)
	if err != nil {
		return "", fmt.Errorf("verified certificate carries no identity we accept: %w", err)
	}
	return id, nil
}

// verifiedLeaf returns the client certificate that the server verified
// for the call ctx belongs to, or nil.
func verifiedLeaf(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	// Every verified chain starts with the same leaf: the peer's.
	return info.State.VerifiedChains[0][0]
}

// Anyone, in a Policy's list of identities, lets every caller through,
// with or without a verified identity.
const Anyone = "*"

// Policy says which identities may call which methods. A key is either a
// full method name ("/bookshop.catalog.v1.CatalogService/ImportBooks") or
// a whole service: its name between slashes
// ("/bookshop.catalog.v1.CatalogService/"). Its value lists the
// identities allowed, or holds Anyone.
//
// A method's own entry wins over its service's, so one method of a
// service can be narrowed or opened. A method that the policy names in
// neither way is denied to everyone: the policy denies by default, so a
// method added to a service stays closed until the policy names it.
type Policy map[string][]string

// allowed returns the list of identities of method's own entry, else of
// its service's entry; nil when there is neither.
func (p Policy) allowed(method string) []string {
	if ids, ok := p[method]; ok {
		return ids
	}
	if i := strings.LastIndexByte(method, '/'); i > 0 {
		return p[method[:i+1]]
	}
	return nil
}

// Allows reports whether a caller with identity may call method (a full
// method name, such as "/Recommendations/Recommend"). The identity of a
// caller without a verified certificate is "", which only Anyone lets in.
func (p Policy) Allows(identity, method string) bool {
	ids := p.allowed(method)
	return slices.Contains(ids, Anyone) || identity != "" && slices.Contains(ids, identity)
}

// check returns ctx, with the caller's identity as rule names it when it
// has one (see Identity), if the caller may call method. Errors:
// UNAUTHENTICATED for a caller without a verified certificate, or whose
// verified certificate carries no identity that rule accepts (the message
// says why), when the method is not open to Anyone; PERMISSION_DENIED for
// an identity the policy does not allow. By certs.AnyVerified every
// verified caller may call every method the policy names, and none other.
func (p Policy) check(ctx context.Context, method string, rule certs.IdentityRule) (context.Context, error) {
	if p.Allows("", method) {
		return ctx, nil
	}
	if rule == certs.AnyVerified {
		if verifiedLeaf(ctx) == nil {
			return ctx, status.Errorf(codes.Unauthenticated, "%s needs a verified client certificate", method)
		}
		if len(p.allowed(method)) == 0 {
			return ctx, status.Errorf(codes.PermissionDenied, "no caller may call %s", method)
		}
		if id, err := IdentityBy(ctx, rule); err == nil {
			ctx = context.WithValue(ctx, identityKey{}, id)
		}
		return ctx, nil
	}
	id, err := IdentityBy(ctx, rule)
	switch {
	case errors.Is(err, errNoVerifiedCertificate):
		return ctx, status.Errorf(codes.Unauthenticated, "%s needs a verified client certificate", method)
	case err != nil:
		return ctx, status.Errorf(codes.Unauthenticated, "%s: %v", method, err)
	}
	if !p.Allows(id, method) {
		return ctx, status.Errorf(codes.PermissionDenied, "identity %q may not call %s", id, method)
	}
	return context.WithValue(ctx, identityKey{}, id), nil
}

// AuthorizeUnary returns a server interceptor that lets a unary call
// through only if p allows the caller's identity, as rule names it, to
// call the method, and gives the handler that identity (see Identity).
// Errors, before the handler runs: UNAUTHENTICATED when the caller has no
// verified certificate, or one that carries no identity, and the method
// is not open to Anyone; PERMISSION_DENIED ("identity X may not call M")
// when p does not allow the identity, or does not name the method. A
// Server does this itself for ServerConfig.Authorization, by its
// ClientIdentity (see Authorize): this is for a plain *grpc.Server.
func AuthorizeUnary(p Policy, rule certs.IdentityRule) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := p.check(ctx, info.FullMethod, rule)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// AuthorizeStream is AuthorizeUnary for streaming calls: a refused stream
// ends with the error before the handler reads or sends anything.
func AuthorizeStream(p Policy, rule certs.IdentityRule) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := p.check(ss.Context(), info.FullMethod, rule)
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

// contextStream is a stream whose context is ctx.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// Merge returns one policy holding the entries of every policy given, for
// a server that serves the services of several slices. A key present in
// more than one must list the same identities: two slices that disagree
// on who may call one method are an error, not a choice to make quietly.
func Merge(policies ...Policy) (Policy, error) {
	all := make(Policy)
	for _, p := range policies {
		for k, ids := range p {
			if old, ok := all[k]; ok && !slices.Equal(slices.Sorted(slices.Values(old)), slices.Sorted(slices.Values(ids))) {
				return nil, fmt.Errorf("authorization policies disagree on %s: %v or %v", k, old, ids)
			}
			all[k] = slices.Clone(ids)
		}
	}
	return all, nil
}

// CommonPolicy returns the entries every Bookshop server has, whatever it
// serves:
//
//   - grpc.health.v1.Health: anyone, with or without a certificate, so
//     that probes and load balancers can check health;
//   - server reflection (v1 and v1alpha): the operators' identity admin
//     only. It shows the contracts, which are no secret, but only people
//     use it, with grpcurl, and services have no need of it.
func CommonPolicy() Policy {
	return Policy{
		"/grpc.reflection.v1.ServerReflection/":      {IdentityAdmin},
		"/grpc.reflection.v1alpha.ServerReflection/": {IdentityAdmin},
		ServiceKey(healthpb.Health_ServiceDesc):      {Anyone},
	}
}

// IdentityAdmin is the operators' identity: imports, and tools such as
// grpcurl. A slice names the identities of its callers in its own policy.
const IdentityAdmin = certs.AdminIdentity

// Authorize makes the server of cfg authorize every call by p
// (ServerConfig.Authorization), naming callers by cfg.ClientIdentity,
// when cfg's TLS verifies client certificates (ServerTLS with a client CA
// requires them): only then do callers have identities. Without mutual
// TLS it leaves cfg as it is, and the server serves every caller that
// reaches it, as in plaintext: TLS alone encrypts, it does not say who
// calls.
func Authorize(cfg *ServerConfig, p Policy) {
	// Any verification of client certificates counts, so that a server
	// that merely asks for them fails closed (UNAUTHENTICATED for a caller
	// without one), not open.
	if cfg.TLS == nil || (cfg.TLS.ClientAuth == tls.NoClientCert && cfg.TLS.ClientCAs == nil) {
		return
	}
	if p == nil {
		p = Policy{} // names no method: denies every call, as any policy denies what it does not name
	}
	cfg.Authorization = p
}

// ServiceKey returns the Policy key of a whole service: "/<name>/".
func ServiceKey(desc grpc.ServiceDesc) string { return "/" + desc.ServiceName + "/" }
