package rpc_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// identities records the identity that Identity finds in each call that
// reaches the services, as a handler would see it; and the server's log.
type identities struct {
	mu  sync.Mutex
	ids []string
	log *logtest.Buffer
}

func (r *identities) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id, _ := rpc.Identity(ctx)
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	return handler(ctx, req)
}

func (r *identities) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ids) == 0 {
		return ""
	}
	return r.ids[len(r.ids)-1]
}

// startSecure serves, on 127.0.0.1 until the test ends, a Bookshop gRPC
// server made as production makes each slice's, with TLS config cfg and,
// when it is mutual TLS, the common policy merged with the policies of
// the slices it serves: Recommendations and live recommendations, and the
// Catalog, over the built-in books in an in-memory database.
func startSecure(t *testing.T, cfg *tls.Config) (string, *identities) {
	t.Helper()
	return startSecureBy(t, cfg, "")
}

// startSecureBy is startSecure with callers named by rule.
func startSecureBy(t *testing.T, cfg *tls.Config, rule certs.IdentityRule) (string, *identities) {
	t.Helper()
	logger, log := logtest.TextLogger(slog.LevelInfo)
	seen := &identities{log: log}
	scfg := rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second, TLS: cfg, ClientIdentity: rule}
	rpc.Authorize(&scfg, mustMerge(rpc.CommonPolicy(), recommendations.Policy(), catalog.Policy()))
	scfg.UnaryInterceptors = append(scfg.UnaryInterceptors, seen.unary)
	srv := rpc.NewServer(scfg)
	db := openDB(t, builtinBooks(t))
	recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(recommendations.New(db, nil), logger))
	recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, recommendations.NewLiveServer(
		func() *recommendations.Session { return recommendations.NewSession(db, nil) }, logger))
	svc := catalog.NewService(db, "", 0, nil)
	catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(svc, logger))

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	t.Cleanup(func() {
		svc.StopWatches() // as catalog.Run does, so that no watch holds up the stop
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gRPC server: %v", err)
		}
	})
	return lis.Addr().String(), seen
}

// tlsConn returns a client connection to addr over TLS with cfg, closed
// when the test ends. The server name checked is addr's IP address.
func tlsConn(tb testing.TB, addr string, cfg *tls.Config) *grpc.ClientConn {
	tb.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		tb.Fatalf("grpc.NewClient(%q): %v", addr, err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// clientTLS calls rpc.ClientTLS and fails the test on an error.
func clientTLS(tb testing.TB, caFile, certFile, keyFile string) *tls.Config {
	tb.Helper()
	cfg, err := rpc.ClientTLS(caFile, certFile, keyFile)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func callRecommend(tb testing.TB, conn grpc.ClientConnInterface) error {
	tb.Helper()
	_, err := recommendationspb.NewRecommendationsClient(conn).Recommend(testContext(tb),
		&recommendationspb.RecommendationRequest{UserId: 1, Category: recommendationspb.BookCategory_MYSTERY, MaxResults: 3})
	return err
}

// importOne imports one new book through the ImportBooks stream.
func importOne(tb testing.TB, conn grpc.ClientConnInterface, title string) (*catalogv1.ImportBooksResponse, error) {
	tb.Helper()
	stream, err := catalogv1.NewCatalogServiceClient(conn).ImportBooks(testContext(tb))
	if err != nil {
		return nil, err
	}
	// A refused stream may already be over: CloseAndRecv has its status.
	_ = stream.Send(&catalogv1.ImportBooksRequest{Line: 2, Book: &catalogv1.Book{
		Title: title, Author: "Susanna Clarke", Year: 2020, Category: catalogv1.Category_CATEGORY_MYSTERY,
		Price: &moneyv1.Money{Units: 1099, Currency: "EUR"},
	}})
	return stream.CloseAndRecv()
}

func checkHealth(tb testing.TB, conn grpc.ClientConnInterface) error {
	tb.Helper()
	resp, err := healthpb.NewHealthClient(conn).Check(testContext(tb), &healthpb.HealthCheckRequest{})
	if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return errors.New("health is " + resp.GetStatus().String() + ", want SERVING")
	}
	return err
}

// firstWatch opens a WatchBooks stream and returns its first message.
func firstWatch(tb testing.TB, conn grpc.ClientConnInterface) (*catalogv1.WatchBooksResponse, error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(testContext(tb))
	defer cancel()
	stream, err := catalogv1.NewCatalogServiceClient(conn).WatchBooks(ctx, &catalogv1.WatchBooksRequest{})
	if err != nil {
		return nil, err
	}
	return stream.Recv()
}

// listServices lists the services through server reflection.
func listServices(tb testing.TB, conn grpc.ClientConnInterface) ([]string, error) {
	tb.Helper()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(testContext(tb))
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		_, err = stream.Recv()
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

// TestMutualTLS runs a server that requires client certificates of its CA
// and authorizes by the slices' policies, and calls it as docs/security.md's clients
// would, and as clients it must refuse.
func TestMutualTLS(t *testing.T) {
	dir, set := writeCerts(t, testCerts())
	in := func(name string) string { return filepath.Join(dir, name) }
	serverCfg, err := rpc.ServerTLS(in("server.crt"), in("server.key"), in("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	addr, seen := startSecure(t, serverCfg)
	marketplace := tlsConn(t, addr, clientTLS(t, in("ca.crt"), in("marketplace.crt"), in("marketplace.key")))
	admin := tlsConn(t, addr, clientTLS(t, in("ca.crt"), in("admin.crt"), in("admin.key")))
	recs := tlsConn(t, addr, clientTLS(t, in("ca.crt"), in("recommendations.crt"), in("recommendations.key")))

	t.Run("marketplace is served", func(t *testing.T) {
		if err := callRecommend(t, marketplace); err != nil {
			t.Fatalf("Recommend as marketplace: %v", err)
		}
		if got := seen.last(); got != "marketplace" {
			t.Errorf("the handler saw identity %q, want marketplace", got)
		}
		catalogClient := catalogv1.NewCatalogServiceClient(marketplace)
		if _, err := catalogClient.GetBook(testContext(t), &catalogv1.GetBookRequest{Id: 1}); err != nil {
			t.Errorf("GetBook as marketplace: %v", err)
		}
		if books, _, err := exportAll(t, catalogClient, catalogv1.Category_CATEGORY_MYSTERY); err != nil || len(books) == 0 {
			t.Errorf("ExportBooks as marketplace = %d books, %v; want the mystery books", len(books), err)
		}
		live, err := recommendationsv1.NewLiveRecommendationsServiceClient(marketplace).LiveRecommend(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := live.Send(&recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1, UserId: 1}); err != nil {
			t.Fatal(err)
		}
		if resp, err := live.Recv(); err != nil || len(resp.GetBooks()) == 0 {
			t.Errorf("LiveRecommend as marketplace = %v, %v; want a list", resp, err)
		}
		live.CloseSend()
	})

	t.Run("marketplace through rpc.Dial", func(t *testing.T) {
		conn, err := rpc.Dial(addr, rpc.ClientConfig{TLS: clientTLS(t, in("ca.crt"), in("marketplace.crt"), in("marketplace.key"))})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		books, err := recommendationsclient.New(conn, 5*time.Second).Recommend(testContext(t),
			bookshop.RecommendRequest{UserID: 1, Category: bookshop.Mystery, MaxResults: 3})
		if err != nil || len(books) != 3 {
			t.Errorf("RecommendationsClient.Recommend over mutual TLS = %d books, %v; want 3", len(books), err)
		}
	})

	t.Run("marketplace may not watch the catalog", func(t *testing.T) {
		_, err := firstWatch(t, marketplace)
		want := `identity "marketplace" may not call /bookshop.catalog.v1.CatalogService/WatchBooks`
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), want) {
			t.Errorf("WatchBooks as marketplace = %v, want PermissionDenied: %s", err, want)
		}
	})

	t.Run("recommendations reads and watches the catalog", func(t *testing.T) {
		if _, err := catalogv1.NewCatalogServiceClient(recs).GetBook(testContext(t), &catalogv1.GetBookRequest{Id: 1}); err != nil {
			t.Errorf("GetBook as recommendations: %v", err)
		}
		if got := seen.last(); got != "recommendations" {
			t.Errorf("the handler saw identity %q, want recommendations", got)
		}
		resp, err := firstWatch(t, recs)
		if err != nil || len(resp.GetBooks()) == 0 {
			t.Errorf("WatchBooks as recommendations = %v, %v; want the first books of the snapshot", resp, err)
		}
	})

	t.Run("recommendations may not recommend or import", func(t *testing.T) {
		err := callRecommend(t, recs)
		want := `identity "recommendations" may not call /Recommendations/Recommend`
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), want) {
			t.Errorf("Recommend as recommendations = %v, want PermissionDenied: %s", err, want)
		}
		if _, err := importOne(t, recs, "Piranesi"); status.Code(err) != codes.PermissionDenied {
			t.Errorf("ImportBooks as recommendations = %v, want PermissionDenied", err)
		}
	})

	t.Run("marketplace may not import", func(t *testing.T) {
		_, err := importOne(t, marketplace, "Piranesi")
		want := `identity "marketplace" may not call /bookshop.catalog.v1.CatalogService/ImportBooks`
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), want) {
			t.Errorf("ImportBooks as marketplace = %v, want PermissionDenied: %s", err, want)
		}
		if _, err := listServices(t, marketplace); status.Code(err) != codes.PermissionDenied {
			t.Errorf("reflection as marketplace = %v, want PermissionDenied", err)
		}
	})

	t.Run("admin may import", func(t *testing.T) {
		resp, err := importOne(t, admin, "Piranesi")
		if err != nil || resp.GetImported() != 1 {
			t.Fatalf("ImportBooks as admin = %v, %v; want 1 imported", resp, err)
		}
		names, err := listServices(t, admin)
		if err != nil || !slices.Contains(names, "bookshop.catalog.v1.CatalogService") {
			t.Errorf("reflection as admin = %v, %v; want the catalog service among them", names, err)
		}
	})

	t.Run("health is reachable", func(t *testing.T) {
		for name, conn := range map[string]*grpc.ClientConn{"marketplace": marketplace, "recommendations": recs, "admin": admin} {
			if err := checkHealth(t, conn); err != nil {
				t.Errorf("health as %s: %v", name, err)
			}
		}
	})

	// Every refused client is refused in the handshake, before any
	// method: the call fails as the connection does, with UNAVAILABLE.
	other, err := certs.Generate(testCerts())
	if err != nil {
		t.Fatal(err)
	}
	otherMarketplace, _ := other.Client("marketplace")
	expired, err := set.IssueClient("marketplace", time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name   string
		cfg    *tls.Config
		reason string // what the TLS error says
	}{
		{"no client certificate", clientTLS(t, in("ca.crt"), "", ""), ""},
		{"a certificate from another CA", &tls.Config{
			MinVersion:   tls.VersionTLS13,
			RootCAs:      set.CertPool(),
			Certificates: []tls.Certificate{otherMarketplace.TLSCertificate()},
		}, "unknown certificate authority"},
		{"an expired certificate", &tls.Config{
			MinVersion:   tls.VersionTLS13,
			RootCAs:      set.CertPool(),
			Certificates: []tls.Certificate{expired.TLSCertificate()},
		}, "expired certificate"},
		{"a client that trusts another CA", clientTLS(t, "", "", ""), "unknown authority"},
	}
	for _, tt := range refused {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			conn := tlsConn(t, addr, tt.cfg)
			err := callRecommend(t, conn)
			if status.Code(err) != codes.Unavailable {
				t.Errorf("Recommend = %v, want Unavailable", err)
			}
			// The server's TLS alert says why, but it can be lost when the
			// server closes the connection before the client reads it.
			if msg := status.Convert(err).Message(); strings.Contains(msg, "tls:") && !strings.Contains(msg, tt.reason) {
				t.Errorf("Recommend = %v, want the handshake to fail with %q", err, tt.reason)
			}
			if err := checkHealth(t, conn); status.Code(err) != codes.Unavailable {
				t.Errorf("health = %v, want Unavailable", err)
			}
		})
	}
	t.Run("refused: plaintext", func(t *testing.T) {
		conn := dial(t, addr)
		if err := callRecommend(t, conn); status.Code(err) != codes.Unavailable {
			t.Errorf("Recommend in plaintext = %v, want Unavailable", err)
		}
	})
}

// TestTLSWithoutClientCertificates checks a server with TLS but not mutual
// TLS, made as `recommendations -tls-cert -tls-key` makes it: callers have
// no verified identity, so nothing is authorized by identity and every
// caller that speaks TLS is served, with or without a certificate, which
// the server never asks for; a plaintext caller is not.
func TestTLSWithoutClientCertificates(t *testing.T) {
	dir, _ := writeCerts(t, testCerts())
	in := func(name string) string { return filepath.Join(dir, name) }
	serverCfg, err := rpc.ServerTLS(in("server.crt"), in("server.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	addr, seen := startSecure(t, serverCfg)
	for name, cfg := range map[string]*tls.Config{
		"without a certificate": clientTLS(t, in("ca.crt"), "", ""),
		"with a certificate":    clientTLS(t, in("ca.crt"), in("marketplace.crt"), in("marketplace.key")),
	} {
		t.Run(name, func(t *testing.T) {
			conn := tlsConn(t, addr, cfg)
			if err := checkHealth(t, conn); err != nil {
				t.Errorf("health: %v", err)
			}
			if err := callRecommend(t, conn); err != nil {
				t.Errorf("Recommend = %v, want it served", err)
			}
			if id := seen.last(); id != "" {
				t.Errorf("the handler saw identity %q, want none without mutual TLS", id)
			}
		})
	}
	t.Run("plaintext", func(t *testing.T) {
		if err := callRecommend(t, dial(t, addr)); status.Code(err) != codes.Unavailable {
			t.Errorf("Recommend in plaintext = %v, want Unavailable", err)
		}
	})
}
