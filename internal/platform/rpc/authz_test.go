package rpc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/bookshop-go/bookshop/internal/demo"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/grpcapi"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
)

// TestDefaultPolicy checks Bookshop's policy, method by method.
func TestDefaultPolicy(t *testing.T) {
	const (
		recommend    = "/Recommendations/Recommend"
		live         = "/bookshop.recommendations.v1.LiveRecommendationsService/LiveRecommend"
		getBook      = "/bookshop.catalog.v1.CatalogService/GetBook"
		export       = "/bookshop.catalog.v1.CatalogService/ExportBooks"
		imports      = "/bookshop.catalog.v1.CatalogService/ImportBooks"
		health       = "/grpc.health.v1.Health/Check"
		watch        = "/grpc.health.v1.Health/Watch"
		reflect      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
		reflectAlpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
		unary        = "/unary.Unary/GetServerResponse"
		bidi         = "/bidirectional.Bidirectional/GetServerResponse"
		collect      = "/bookshop.demo.v1.ClientStreamingService/CollectMessages"
		replies      = "/bookshop.demo.v1.ServerStreamingService/StreamReplies"
		newMethod    = "/bookshop.catalog.v1.CatalogService/DeleteBook"
		unknown      = "/other.Service/Method"
	)
	// Who may call each method: marketplace, admin, another identity,
	// and a caller without one.
	tests := []struct {
		method                            string
		marketplace, admin, other, nobody bool
	}{
		{recommend, true, true, false, false},
		{live, true, true, false, false},
		{getBook, true, true, false, false},
		{export, true, true, false, false},
		{imports, false, true, false, false},
		{health, true, true, true, true},
		{watch, true, true, true, true},
		{reflect, false, true, false, false},
		{reflectAlpha, false, true, false, false},
		{unary, true, true, true, true},
		{bidi, true, true, true, true},
		{collect, true, true, true, true},
		{replies, true, true, true, true},
		{newMethod, false, false, false, false},
		{unknown, false, false, false, false},
		{"", false, false, false, false},
	}
	p := grpcapi.DefaultPolicy()
	for _, tt := range tests {
		for _, c := range []struct {
			identity string
			want     bool
		}{
			{"marketplace", tt.marketplace},
			{"admin", tt.admin},
			{"reporting", tt.other},
			{"", tt.nobody},
		} {
			if got := p.Allows(c.identity, tt.method); got != c.want {
				t.Errorf("DefaultPolicy().Allows(%q, %q) = %v, want %v", c.identity, tt.method, got, c.want)
			}
		}
	}
}

// TestDefaultPolicyNamesEveryMethod checks that every method of every
// service a Bookshop server registers is open to someone: the policy
// denies by default, so a method it forgets (or misspells) would be closed
// to all.
func TestDefaultPolicyNamesEveryMethod(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := grpcapi.NewServer(grpcapi.ServerConfig{Logger: logger})
	recommendationspb.RegisterRecommendationsServer(srv, grpcapi.NewRecommendationsServer(nil, logger))
	recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, grpcapi.NewLiveServer(nil, logger))
	catalogv1.RegisterCatalogServiceServer(srv, grpcapi.NewCatalogServer(nil, nil, logger))
	demo.Register(srv)

	p := grpcapi.DefaultPolicy()
	identities := append(certs.DefaultIdentities(), "")
	for service, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			method := "/" + service + "/" + m.Name
			if !slices.ContainsFunc(identities, func(id string) bool { return p.Allows(id, method) }) {
				t.Errorf("DefaultPolicy lets no one call %s", method)
			}
		}
	}
	for key, ids := range p {
		for _, id := range ids {
			if id != grpcapi.Anyone && !slices.Contains(certs.DefaultIdentities(), id) {
				t.Errorf("DefaultPolicy()[%q] names %q, which certs.DefaultIdentities does not issue", key, id)
			}
		}
	}
}

// TestPolicyMethodWinsOverService checks that a method's own entry wins
// over its service's.
func TestPolicyMethodWinsOverService(t *testing.T) {
	p := grpcapi.Policy{
		"/shop.Books/":       {"reader"},
		"/shop.Books/Delete": {"admin"},
		"/shop.Books/Count":  {grpcapi.Anyone},
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
// caller.
func TestIdentity(t *testing.T) {
	set, err := certs.Generate(certs.Options{})
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
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	tests := []struct {
		name   string
		ctx    context.Context
		want   string
		wantOK bool
	}{
		{"verified certificate", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: verified}}), "admin", true},
		{"no peer", context.Background(), "", false},
		{"plaintext", peer.NewContext(context.Background(), &peer.Peer{Addr: addr}), "", false},
		{"certificate not verified", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: unverified}}), "", false},
		{"certificate without identity", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: noURI}}), "", false},
	}
	for _, tt := range tests {
		got, ok := grpcapi.Identity(tt.ctx)
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
			cfg := grpcapi.ServerConfig{TLS: tc.tls}
			grpcapi.Authorize(&cfg, grpcapi.DefaultPolicy())
			if got := len(cfg.UnaryInterceptors) == 1 && len(cfg.StreamInterceptors) == 1; got != tc.want {
				t.Errorf("Authorize added the policy: %v, want %v", got, tc.want)
			}
		})
	}
}
