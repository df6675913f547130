package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/reqid"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// logBuffer is a JSON log, safe for concurrent use, read line by line.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the log lines whose msg is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestAccessLogAndRequestID checks the access log line of a call and that
// the request id of the client's context reaches the server and its log;
// a call that comes without one gets one, which the response trailer
// tells the caller.
func TestAccessLogAndRequestID(t *testing.T) {
	var log logBuffer
	client, rec := recordingServer(t, slog.New(slog.NewJSONHandler(&log, nil)))

	ctx := reqid.With(testContext(t), "shopper-42")
	var trailer metadata.MD
	if _, err := client.Recommend(ctx, &recommendationspb.RecommendationRequest{MaxResults: 1}, grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	if got := rec.id(); got != "shopper-42" {
		t.Errorf("handler saw request id %q, want shopper-42", got)
	}
	if got := trailer.Get(reqid.Key); len(got) != 0 {
		t.Errorf("response trailer %s = %q for a call that sent its id, want none: the caller knows it", reqid.Key, got)
	}
	_, err := client.Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: -1})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Recommend(max_results -1) = %v, want InvalidArgument", err)
	}
	if rec.calls() != 1 {
		t.Errorf("handler ran %d times, want once: validation refuses the bad request first", rec.calls())
	}

	lines := log.records(t, "rpc")
	if len(lines) != 2 {
		t.Fatalf("access log has %d lines, want 2:\n%v", len(lines), lines)
	}
	first, second := lines[0], lines[1]
	for k, want := range map[string]any{"method": "/Recommendations/Recommend", "kind": "unary", "code": "OK", "request_id": "shopper-42"} {
		if first[k] != want {
			t.Errorf("access log %s = %v, want %v", k, first[k], want)
		}
	}
	if p, _ := first["peer"].(string); !strings.HasPrefix(p, "127.0.0.1:") {
		t.Errorf("access log peer = %v, want 127.0.0.1:PORT", first["peer"])
	}
	if _, ok := first["duration"]; !ok {
		t.Error("access log has no duration")
	}
	if second["code"] != "InvalidArgument" {
		t.Errorf("second access log code = %v, want InvalidArgument", second["code"])
	}
	if id, _ := second["request_id"].(string); !reqid.Valid(id) || id == "shopper-42" {
		t.Errorf("a call without a request id got %q in the log, want a new one", id)
	}
}

// TestRequestIDTrailer checks that a call that comes without a request
// id, or with one that is not valid, gets a new one, which the handler
// sees and the response trailer tells the caller.
func TestRequestIDTrailer(t *testing.T) {
	client, rec := recordingServer(t, slog.New(slog.DiscardHandler))
	for i, sent := range []string{"", "not a valid id!"} {
		ctx := testContext(t)
		if sent != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, reqid.Key, sent)
		}
		var trailer metadata.MD
		if _, err := client.Recommend(ctx, &recommendationspb.RecommendationRequest{MaxResults: 1}, grpc.Trailer(&trailer)); err != nil {
			t.Fatal(err)
		}
		got := trailer.Get(reqid.Key)
		if len(got) != 1 || !reqid.Valid(got[0]) || got[0] != rec.idAt(i) {
			t.Errorf("a call with request id %q: response trailer %s = %q, want the new id that the handler saw, %q", sent, reqid.Key, got, rec.idAt(i))
		}
	}
}

// recordingServer serves Recommendations over an idRecorder, logging to
// logger, and returns a client of it and the recorder.
func recordingServer(t *testing.T, logger *slog.Logger) (recommendationspb.RecommendationsClient, *idRecorder) {
	t.Helper()
	rec := &idRecorder{}
	addr := startServer(t, logger, recommendations.Validators(), func(srv *rpc.Server) {
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(rec, logger))
	})
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return recommendationspb.NewRecommendationsClient(conn), rec
}

// idRecorder records the request id each call's context carries.
type idRecorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *idRecorder) Recommend(ctx context.Context, _ bookshop.RecommendRequest) ([]bookshop.Book, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, reqid.From(ctx))
	return []bookshop.Book{{ID: 1, Title: "The Maltese Falcon"}}, nil
}

func (r *idRecorder) id() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ids) == 0 {
		return ""
	}
	return r.ids[0]
}

func (r *idRecorder) idAt(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.ids) {
		return ""
	}
	return r.ids[i]
}

func (r *idRecorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

// startServer runs an rpc.Server with logger, the request validators v
// (nil for none) and the services register adds, on loopback, until the
// test ends.
func startServer(t *testing.T, logger *slog.Logger, v rpc.Validators, register func(*rpc.Server)) string {
	t.Helper()
	addr, stop, wait := runServerWith(t, rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second, Validators: v}, register)
	t.Cleanup(func() {
		stop()
		if err := wait(); err != nil {
			t.Error(err)
		}
	})
	return addr
}

func TestValidation(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	addr := startServer(t, logger, catalog.Validators(), func(srv *rpc.Server) {
		// No service behind the server: the validators refuse every
		// request of this test before a handler reads it.
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(nil, logger))
	})
	client := catalogv1.NewCatalogServiceClient(dial(t, addr))
	_, err := client.GetBook(testContext(t), &catalogv1.GetBookRequest{Id: 0})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "id must be 1 or more, got 0") {
		t.Errorf("GetBook(0) = %v, want InvalidArgument saying what is wrong", err)
	}
	stream, err := client.ImportBooks(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&catalogv1.ImportBooksRequest{Line: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.CloseAndRecv(); status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "must hold a book") {
		t.Errorf("ImportBooks with a message without a book = %v, want InvalidArgument saying what is wrong", err)
	}
}

// TestClientDefaultDeadline checks that a unary call without a deadline
// gets the client's default one.
func TestClientDefaultDeadline(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	addr := startServer(t, logger, nil, func(srv *rpc.Server) {
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(blockingRecommender{}, logger))
	})
	conn, err := rpc.Dial(addr, rpc.ClientConfig{CallTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = recommendationspb.NewRecommendationsClient(conn).Recommend(context.Background(), &recommendationspb.RecommendationRequest{MaxResults: 1})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a call without a deadline to a server that never answers = %v, want DeadlineExceeded", err)
	}
}

// blockingRecommender answers only when its caller gives up.
type blockingRecommender struct{}

func (blockingRecommender) Recommend(ctx context.Context, _ bookshop.RecommendRequest) ([]bookshop.Book, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestServerCallsInOrder checks the order of a server's work around a
// call, with interceptors given: the given ones see the request id and
// run before validation, which still refuses bad requests and bad stream
// messages; a panic, in a given interceptor or a handler, unary or
// streaming, is INTERNAL, logged, and the server serves on; and the
// metrics and the access log count every call, refused ones too.
func TestServerCallsInOrder(t *testing.T) {
	var log logBuffer
	logger := slog.New(slog.NewJSONHandler(&log, nil))
	metrics := telemetry.NewMetrics()
	var (
		mu        sync.Mutex
		givenSaw  []string // the request ids the given interceptors saw
		panicNext bool
	)
	saw := func(ctx context.Context) {
		mu.Lock()
		defer mu.Unlock()
		givenSaw = append(givenSaw, reqid.From(ctx))
	}
	cfg := rpc.ServerConfig{
		Logger: logger, DrainTimeout: time.Second, Validators: catalog.Validators(), Metrics: metrics,
		UnaryInterceptors: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			saw(ctx)
			mu.Lock()
			p := panicNext
			panicNext = false
			mu.Unlock()
			if p {
				panic("interceptor boom")
			}
			return h(ctx, req)
		}},
		StreamInterceptors: []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			saw(ss.Context())
			return h(srv, ss)
		}},
	}
	addr, stop, wait := runServerWith(t, cfg, func(srv *rpc.Server) {
		// No service behind the server: a request that passes validation
		// makes the handler panic on it.
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(nil, logger))
	})
	t.Cleanup(func() {
		stop()
		if err := wait(); err != nil {
			t.Error(err)
		}
	})
	client := catalogv1.NewCatalogServiceClient(dial(t, addr))

	if _, err := client.GetBook(testContext(t), &catalogv1.GetBookRequest{Id: 0}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetBook(0) = %v, want InvalidArgument from validation, after the given interceptor", err)
	}
	if _, err := client.GetBook(testContext(t), &catalogv1.GetBookRequest{Id: 1}); status.Code(err) != codes.Internal || strings.Contains(err.Error(), "nil") {
		t.Errorf("GetBook(1) with a handler that panics = %v, want Internal without details", err)
	}
	mu.Lock()
	panicNext = true
	mu.Unlock()
	if _, err := client.GetBook(testContext(t), &catalogv1.GetBookRequest{Id: 1}); status.Code(err) != codes.Internal || strings.Contains(err.Error(), "boom") {
		t.Errorf("GetBook(1) with a given interceptor that panics = %v, want Internal without details", err)
	}
	importOne := func(req *catalogv1.ImportBooksRequest) error {
		stream, err := client.ImportBooks(testContext(t))
		if err != nil {
			return err
		}
		if err := stream.Send(req); err != nil {
			return err
		}
		_, err = stream.CloseAndRecv()
		return err
	}
	if err := importOne(&catalogv1.ImportBooksRequest{Line: 2}); status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "must hold a book") {
		t.Errorf("ImportBooks with a message without a book = %v, want InvalidArgument saying what is wrong", err)
	}
	book := &catalogv1.Book{Title: "Title", Author: "Author", Year: 2000, Category: catalogv1.Category(1)}
	if err := importOne(&catalogv1.ImportBooksRequest{Book: book, Line: 1}); status.Code(err) != codes.Internal {
		t.Errorf("ImportBooks with a handler that panics = %v, want Internal", err)
	}

	mu.Lock()
	if len(givenSaw) != 5 {
		t.Errorf("the given interceptors ran %d times, want 5 (every call)", len(givenSaw))
	}
	for _, id := range givenSaw {
		if !reqid.Valid(id) {
			t.Errorf("a given interceptor saw request id %q, want one made for the call", id)
		}
	}
	mu.Unlock()
	codesLogged := map[any]int{}
	for _, line := range log.records(t, "rpc") {
		codesLogged[line["code"]]++
	}
	if want := map[any]int{"InvalidArgument": 2, "Internal": 3}; !maps.Equal(codesLogged, want) {
		t.Errorf("access log codes = %v, want %v", codesLogged, want)
	}
	if n := len(log.records(t, "panic in gRPC handler")); n != 3 {
		t.Errorf("%d panics logged, want 3", n)
	}
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="InvalidArgument",grpc_method="GetBook",grpc_service="bookshop.catalog.v1.CatalogService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="Internal",grpc_method="GetBook",grpc_service="bookshop.catalog.v1.CatalogService",grpc_type="unary"} 2`,
		`grpc_server_handled_total{grpc_code="InvalidArgument",grpc_method="ImportBooks",grpc_service="bookshop.catalog.v1.CatalogService",grpc_type="client_stream"} 1`,
		`grpc_server_msg_received_total{grpc_method="ImportBooks",grpc_service="bookshop.catalog.v1.CatalogService",grpc_type="client_stream"} 2`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
