package rpc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/demo"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// shopPolicy returns the policy of a server that serves every Bookshop
// slice: the common entries and those of Recommendations, the Catalog and
// the demos.
func shopPolicy() rpc.Policy {
	return mustMerge(rpc.CommonPolicy(), recommendations.Policy(), catalog.Policy(), demo.Policy())
}

// TestMergedPolicy checks the policy of a server of every slice, method
// by method.
func TestMergedPolicy(t *testing.T) {
	const (
		recommend    = "/Recommendations/Recommend"
		live         = "/bookshop.recommendations.v1.LiveRecommendationsService/LiveRecommend"
		getBook      = "/bookshop.catalog.v1.CatalogService/GetBook"
		export       = "/bookshop.catalog.v1.CatalogService/ExportBooks"
		imports      = "/bookshop.catalog.v1.CatalogService/ImportBooks"
		watchBooks   = "/bookshop.catalog.v1.CatalogService/WatchBooks"
		health       = "/grpc.health.v1.Health/Check"
		healthWatch  = "/grpc.health.v1.Health/Watch"
		reflect      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
		reflectAlpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
		unary        = "/unary.Unary/GetServerResponse"
		bidi         = "/bidirectional.Bidirectional/GetServerResponse"
		collect      = "/bookshop.demo.v1.ClientStreamingService/CollectMessages"
		replies      = "/bookshop.demo.v1.ServerStreamingService/StreamReplies"
		newMethod    = "/bookshop.catalog.v1.CatalogService/DeleteBook"
		unknown      = "/other.Service/Method"
	)
	// Who may call each method: marketplace, recommendations, admin,
	// another identity, and a caller without one.
	tests := []struct {
		method                                             string
		marketplace, recommendations, admin, other, nobody bool
	}{
		{recommend, true, false, true, false, false},
		{live, true, false, true, false, false},
		{getBook, true, true, true, false, false},
		{export, true, true, true, false, false},
		{imports, false, false, true, false, false},
		{watchBooks, false, true, true, false, false},
		{health, true, true, true, true, true},
		{healthWatch, true, true, true, true, true},
		{reflect, false, false, true, false, false},
		{reflectAlpha, false, false, true, false, false},
		{unary, true, true, true, true, true},
		{bidi, true, true, true, true, true},
		{collect, true, true, true, true, true},
		{replies, true, true, true, true, true},
		{newMethod, false, false, false, false, false},
		{unknown, false, false, false, false, false},
		{"", false, false, false, false, false},
	}
	p := shopPolicy()
	for _, tt := range tests {
		for _, c := range []struct {
			identity string
			want     bool
		}{
			{"marketplace", tt.marketplace},
			{"recommendations", tt.recommendations},
			{"admin", tt.admin},
			{"reporting", tt.other},
			{"", tt.nobody},
		} {
			if got := p.Allows(c.identity, tt.method); got != c.want {
				t.Errorf("shopPolicy().Allows(%q, %q) = %v, want %v", c.identity, tt.method, got, c.want)
			}
		}
	}
}

// TestPolicyNamesEveryMethod checks, for the server of each slice (the
// services it registers, with health and reflection) and for one serving
// them all, that every method the server registers is open to someone
// under the slice's policy merged with the common one: the policy denies
// by default, so a method it forgets (or misspells) would be closed to
// all. It checks too that each policy names only identities `bookshop
// certs` issues.
func TestPolicyNamesEveryMethod(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	registerRecommendations := func(srv *rpc.Server) {
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(nil, logger))
		recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, recommendations.NewLiveServer(nil, logger))
	}
	registerCatalog := func(srv *rpc.Server) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(nil, logger))
	}
	registerDemo := func(srv *rpc.Server) { demo.Register(srv) }
	for _, tc := range []struct {
		name     string
		policy   rpc.Policy
		register []func(*rpc.Server)
	}{
		{"recommendations", mustMerge(rpc.CommonPolicy(), recommendations.Policy()), []func(*rpc.Server){registerRecommendations}},
		{"catalog", mustMerge(rpc.CommonPolicy(), catalog.Policy()), []func(*rpc.Server){registerCatalog}},
		{"demo", mustMerge(rpc.CommonPolicy(), demo.Policy()), []func(*rpc.Server){registerDemo}},
		{"all", shopPolicy(), []func(*rpc.Server){registerRecommendations, registerCatalog, registerDemo}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := rpc.NewServer(rpc.ServerConfig{Logger: logger})
			for _, register := range tc.register {
				register(srv)
			}
			p := tc.policy
			identities := append(testIdentities, "")
			methods := 0
			for service, info := range srv.GetServiceInfo() {
				for _, m := range info.Methods {
					methods++
					method := "/" + service + "/" + m.Name
					if !slices.ContainsFunc(identities, func(id string) bool { return p.Allows(id, method) }) {
						t.Errorf("policy lets no one call %s", method)
					}
				}
			}
			if methods == 0 {
				t.Fatal("the server registers no methods")
			}
			for key, ids := range p {
				for _, id := range ids {
					if id != rpc.Anyone && !slices.Contains(testIdentities, id) {
						t.Errorf("policy[%q] names %q, which bookshop certs does not issue", key, id)
					}
				}
			}
		})
	}
}

// TestMergeRefusesDisagreement checks that Merge refuses two policies
// that name different callers for one key.
func TestMergeRefusesDisagreement(t *testing.T) {
	a := rpc.Policy{"/shop.Books/Get": {"reader"}, "/shop.Books/Count": {rpc.Anyone}}
	b := rpc.Policy{"/shop.Books/Get": {"reader"}, "/shop.Books/Delete": {rpc.IdentityAdmin}}
	merged, err := rpc.Merge(a, b)
	if err != nil {
		t.Fatalf("Merge(a, b): %v", err)
	}
	if len(merged) != 3 || !merged.Allows("reader", "/shop.Books/Get") || !merged.Allows(rpc.IdentityAdmin, "/shop.Books/Delete") {
		t.Errorf("Merge(a, b) = %v, want the three entries of a and b", merged)
	}
	if _, err := rpc.Merge(a, rpc.Policy{"/shop.Books/Get": {rpc.IdentityAdmin}}); err == nil || !strings.Contains(err.Error(), "/shop.Books/Get") {
		t.Errorf("Merge of policies that disagree on /shop.Books/Get = %v, want an error naming it", err)
	}
}

// TestPolicyMethodWinsOverService checks that a method's own entry wins
// over its service's.
func TestPolicyMethodWinsOverService(t *testing.T) {
	p := rpc.Policy{
		"/shop.Books/":       {"reader"},
		"/shop.Books/Delete": {"admin"},
		"/shop.Books/Count":  {rpc.Anyone},
		"/shop.Books/Hidden": nil,
	}
	tests := []struct {
		identity, method string
		want             bool
	}{
		{"reader", "/shop.Books/Get", true},
		{"admin", "/shop.Books/Get", false},
		{"reader", "/shop.Books/Delete", false},
		{"admin", "/shop.Books/Delete", true},
		{"", "/shop.Books/Count", true},
		{"reader", "/shop.Books/Hidden", false},
		{"reader", "/shop.Books", false},
		{"reader", "/shop.BooksExtra/Get", false},
	}
	for _, tt := range tests {
		if got := p.Allows(tt.identity, tt.method); got != tt.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tt.identity, tt.method, got, tt.want)
		}
	}
}

// TestIdentity checks that only a verified client certificate names the
// caller of a call that no authorization named: by its spiffe:// URI, as
// the default rule names it, never by its Common Name. (How a server's
// rule names callers for its handlers: TestMutualTLSWithTutorialCertificates.)
func TestIdentity(t *testing.T) {
	set, err := certs.Generate(testCerts())
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := set.Client("admin")
	verified := tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{admin.Certificate},
		VerifiedChains:   [][]*x509.Certificate{{admin.Certificate, set.CA.Certificate}},
	}
	unverified := tls.ConnectionState{PeerCertificates: []*x509.Certificate{admin.Certificate}}
	noURI := tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{set.Server.Certificate},
		VerifiedChains:   [][]*x509.Certificate{{set.Server.Certificate, set.CA.Certificate}},
	}
	// The tutorial's kind: a Common Name, no URI.
	cnOnly := &x509.Certificate{Subject: pkix.Name{CommonName: "marketplace"}}
	commonName := tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{cnOnly},
		VerifiedChains:   [][]*x509.Certificate{{cnOnly, set.CA.Certificate}},
	}
	unverifiedCN := tls.ConnectionState{PeerCertificates: []*x509.Certificate{cnOnly}}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	tests := []struct {
		name   string
		ctx    context.Context
		want   string
		wantOK bool
	}{
		{"verified certificate with a Common Name only", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: commonName}}), "", false},
		{"unverified certificate with a Common Name only", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: unverifiedCN}}), "", false},
		{"verified certificate", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: verified}}), "admin", true},
		{"no peer", context.Background(), "", false},
		{"plaintext", peer.NewContext(context.Background(), &peer.Peer{Addr: addr}), "", false},
		{"certificate not verified", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: unverified}}), "", false},
		{"certificate without identity", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: noURI}}), "", false},
	}
	for _, tt := range tests {
		got, ok := rpc.Identity(tt.ctx)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: Identity = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestAuthorizeWhenCallersHaveIdentities checks when Authorize adds the
// policy: whenever client certificates are verified, so that a server
// that only asks for them fails closed.
func TestAuthorizeWhenCallersHaveIdentities(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  *tls.Config
		want bool
	}{
		{"plaintext", nil, false},
		{"TLS only", &tls.Config{}, false},
		{"client certificates if given", &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven}, true},
		{"mutual TLS", &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert}, true},
		{"a client CA", &tls.Config{ClientCAs: x509.NewCertPool()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := rpc.ServerConfig{TLS: tc.tls}
			rpc.Authorize(&cfg, shopPolicy())
			if got := cfg.Authorization != nil; got != tc.want {
				t.Errorf("Authorize added the policy: %v, want %v", got, tc.want)
			}
		})
	}
}
