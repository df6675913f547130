package rpc

import (
	"context"
	"crypto/tls"
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

// Identity returns the identity of the caller of the call ctx belongs to:
// the <identity> of the URI SAN spiffe://bookshop/<identity> of the
// client certificate that the server verified in the TLS handshake (see
// certs.IdentityOf). Only a verified certificate counts, so ok is false
// on a connection without TLS, without a client certificate, or with one
// the server did not verify, as well as for a certificate without exactly
// one such URI.
func Identity(ctx context.Context) (identity string, ok bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", false
	}
	// Every verified chain starts with the same leaf: the peer's.
	return certs.IdentityOf(info.State.VerifiedChains[0][0])
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

// check returns nil if the caller of ctx may call method. Errors:
// UNAUTHENTICATED for a caller without a verified identity, when the
// method is not open to Anyone; PERMISSION_DENIED for an identity the
// policy does not allow.
func (p Policy) check(ctx context.Context, method string) error {
	if p.Allows("", method) {
		return nil
	}
	id, ok := Identity(ctx)
	if !ok {
		return status.Errorf(codes.Unauthenticated, "%s needs a verified client certificate", method)
	}
	if !p.Allows(id, method) {
		return status.Errorf(codes.PermissionDenied, "identity %q may not call %s", id, method)
	}
	return nil
}

// AuthorizeUnary returns a server interceptor that lets a unary call
// through only if p allows the caller's identity (see Identity) to call
// the method. Errors, before the handler runs: UNAUTHENTICATED when the
// caller has no verified identity and the method is not open to Anyone;
// PERMISSION_DENIED ("identity X may not call M") when p does not allow
// the identity, or does not name the method.
func AuthorizeUnary(p Policy) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := p.check(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// AuthorizeStream is AuthorizeUnary for streaming calls: a refused stream
// ends with the error before the handler reads or sends anything.
func AuthorizeStream(p Policy) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := p.check(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

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

// Authorize adds to cfg the interceptors that authorize every call by p,
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
	cfg.UnaryInterceptors = append(cfg.UnaryInterceptors, AuthorizeUnary(p))
	cfg.StreamInterceptors = append(cfg.StreamInterceptors, AuthorizeStream(p))
}

// ServiceKey returns the Policy key of a whole service: "/<name>/".
func ServiceKey(desc grpc.ServiceDesc) string { return "/" + desc.ServiceName + "/" }
