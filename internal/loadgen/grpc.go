package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"strconv"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
)

// The gRPC targets call the services with their generated clients, on
// plain connections: no retries, no health checks, no interceptors. A
// load generator should cost as little as it can, so that the server, not
// the load, is what runs out of CPU.

// GRPCConfig says how to reach a gRPC server.
type GRPCConfig struct {
	// Addr is the server's host:port.
	Addr string
	// TLS, when set, makes the calls over TLS (mutual TLS when it holds a
	// client certificate); nil is plaintext.
	TLS *tls.Config
	// Conns is the number of connections the workers share, worker i
	// using connection i mod Conns. Zero means one, as one Marketplace
	// holds.
	Conns int
}

// maxMessageBytes bounds the messages a gRPC target receives: an export
// batch of 500 books is well under it.
const maxMessageBytes = 16 << 20

// grpcConns are the connections a gRPC target's workers share.
type grpcConns []*grpc.ClientConn

func dialGRPC(cfg GRPCConfig) (grpcConns, error) {
	if cfg.Addr == "" {
		return nil, errors.New("no gRPC address: want host:port")
	}
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS)
	}
	conns := make(grpcConns, max(cfg.Conns, 1))
	for i := range conns {
		conn, err := grpc.NewClient(cfg.Addr, grpc.WithTransportCredentials(creds),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageBytes)))
		if err != nil {
			conns[:i].Close()
			return nil, fmt.Errorf("gRPC client for %s: %w", cfg.Addr, err)
		}
		conns[i] = conn
	}
	return conns, nil
}

func (c grpcConns) conn(worker int) *grpc.ClientConn { return c[worker%len(c)] }

// Close closes every connection.
func (c grpcConns) Close() error {
	var errs []error
	for _, conn := range c {
		errs = append(errs, conn.Close())
	}
	return errors.Join(errs...)
}

// Recommend is the target of /Recommendations/Recommend, unary: each call
// asks for the homepage's three books of one category.
type Recommend struct {
	conns grpcConns
	req   *recommendationspb.RecommendationRequest
}

// NewRecommend returns a Recommend target that asks for maxResults books
// of category (the tutorial's enum: 0 mystery, 1 science fiction, 2
// self-help).
func NewRecommend(cfg GRPCConfig, category int32, maxResults int32) (*Recommend, error) {
	conns, err := dialGRPC(cfg)
	if err != nil {
		return nil, err
	}
	return &Recommend{conns: conns, req: &recommendationspb.RecommendationRequest{
		UserId:     1,
		Category:   recommendationspb.BookCategory(category),
		MaxResults: maxResults,
	}}, nil
}

// Worker implements [Target].
func (t *Recommend) Worker(_ context.Context, i int) (Worker, error) {
	return &recommendWorker{client: recommendationspb.NewRecommendationsClient(t.conns.conn(i)), req: t.req}, nil
}

// Close implements [Target].
func (t *Recommend) Close() error { return t.conns.Close() }

type recommendWorker struct {
	client recommendationspb.RecommendationsClient
	req    *recommendationspb.RecommendationRequest // shared, never written
}

func (w *recommendWorker) Call(ctx context.Context) (int, error) {
	if _, err := w.client.Recommend(ctx, w.req); err != nil {
		return 0, err
	}
	return 1, nil
}

func (w *recommendWorker) Close() error { return nil }

// Export is the target of CatalogService.ExportBooks, server streaming:
// each call exports a category, or the whole catalog, to the end.
type Export struct {
	conns    grpcConns
	req      *catalogv1.ExportBooksRequest
	minBooks int
}

// NewExport returns an Export target of category (catalog.v1's enum;
// CATEGORY_UNSPECIFIED for every book). A call that receives fewer than
// minBooks books fails.
func NewExport(cfg GRPCConfig, category catalogv1.Category, minBooks int) (*Export, error) {
	conns, err := dialGRPC(cfg)
	if err != nil {
		return nil, err
	}
	return &Export{conns: conns, req: &catalogv1.ExportBooksRequest{Category: category}, minBooks: minBooks}, nil
}

// Worker implements [Target].
func (t *Export) Worker(_ context.Context, i int) (Worker, error) {
	return &exportWorker{client: catalogv1.NewCatalogServiceClient(t.conns.conn(i)), t: t}, nil
}

// Close implements [Target].
func (t *Export) Close() error { return t.conns.Close() }

type exportWorker struct {
	client catalogv1.CatalogServiceClient
	t      *Export
}

func (w *exportWorker) Call(ctx context.Context) (int, error) {
	stream, err := w.client.ExportBooks(ctx, w.t.req)
	if err != nil {
		return 0, err
	}
	books := 0
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return books, err
		}
		books += len(resp.GetBooks())
	}
	if books < w.t.minBooks {
		return books, fmt.Errorf("exported %d books, want at least %d", books, w.t.minBooks)
	}
	return books, nil
}

func (w *exportWorker) Close() error { return nil }

// Import is the target of CatalogService.ImportBooks, client streaming:
// each call imports a number of new books, which the catalog keeps. Every
// book of every call has a title of its own, so that none is refused as
// already in the catalog; the ids are left for the catalog to choose.
type Import struct {
	conns grpcConns
	books int
	run   string       // tells the books of this run from those of others
	calls atomic.Int64 // numbers the calls, for the titles
}

// NewImport returns an Import target whose calls import books books each.
func NewImport(cfg GRPCConfig, books int) (*Import, error) {
	if books < 1 {
		return nil, fmt.Errorf("books per import %d: want 1 or more", books)
	}
	conns, err := dialGRPC(cfg)
	if err != nil {
		return nil, err
	}
	return &Import{conns: conns, books: books, run: rand.Text()[:8]}, nil
}

// Worker implements [Target].
func (t *Import) Worker(_ context.Context, i int) (Worker, error) {
	return &importWorker{client: catalogv1.NewCatalogServiceClient(t.conns.conn(i)), t: t}, nil
}

// Close implements [Target].
func (t *Import) Close() error { return t.conns.Close() }

type importWorker struct {
	client catalogv1.CatalogServiceClient
	t      *Import
}

func (w *importWorker) Call(ctx context.Context) (int, error) {
	prefix := "Load test " + w.t.run + "-" + strconv.FormatInt(w.t.calls.Add(1), 10) + " book "
	stream, err := w.client.ImportBooks(ctx)
	if err != nil {
		return 0, err
	}
	req := &catalogv1.ImportBooksRequest{}
	for i := range w.t.books {
		// Send serializes the message before it returns, so one request
		// can be reused.
		req.Book = &catalogv1.Book{
			Title:    prefix + strconv.Itoa(i+1),
			Author:   "Bookshop Bench",
			Year:     2000 + int32(i%26),
			Category: catalogv1.Category(1 + i%3),
			Price:    &moneyv1.Money{Units: 799 + int64(i%13)*100, Currency: bookshop.DefaultCurrency},
		}
		req.Line = int32(i + 1)
		if err := stream.Send(req); err != nil {
			break // the server ended the stream: CloseAndRecv says why
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return 0, err
	}
	if n := int(resp.GetImported()); n != w.t.books {
		msg := ""
		if r := resp.GetRejected(); len(r) > 0 {
			msg = fmt.Sprintf(" (line %d: %s)", r[0].GetLine(), r[0].GetReason())
		}
		return n, fmt.Errorf("imported %d of %d books%s", n, w.t.books, msg)
	}
	return w.t.books, nil
}

func (w *importWorker) Close() error { return nil }

// Live is the target of LiveRecommendationsService.LiveRecommend,
// bidirectional streaming, called directly: each worker holds one stream,
// a shopper's session, for the whole run, and each call sends one event
// (a view, or now and then a dismissal, of a random book) and waits for
// the fresh list it brings.
type Live struct {
	conns   grpcConns
	maxBook int32
}

// NewLive returns a Live target whose events name books 1 to maxBook,
// which must all be in the catalog.
func NewLive(cfg GRPCConfig, maxBook int32) (*Live, error) {
	if maxBook < 1 {
		return nil, fmt.Errorf("highest book id %d: want 1 or more", maxBook)
	}
	conns, err := dialGRPC(cfg)
	if err != nil {
		return nil, err
	}
	return &Live{conns: conns, maxBook: maxBook}, nil
}

// Worker implements [Target]: it opens the worker's stream.
func (t *Live) Worker(ctx context.Context, i int) (Worker, error) {
	ctx, cancel := context.WithCancel(ctx)
	client := recommendationsv1.NewLiveRecommendationsServiceClient(t.conns.conn(i))
	stream, err := client.LiveRecommend(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return &liveWorker{stream: stream, cancel: cancel, maxBook: t.maxBook, userID: int32(i + 1)}, nil
}

// Close implements [Target].
func (t *Live) Close() error { return t.conns.Close() }

type liveWorker struct {
	stream  grpc.BidiStreamingClient[recommendationsv1.LiveRecommendRequest, recommendationsv1.LiveRecommendResponse]
	cancel  context.CancelFunc
	maxBook int32
	userID  int32
}

func (w *liveWorker) Call(ctx context.Context) (int, error) {
	// The stream lives beyond one call; a call that passes its deadline
	// ends the stream, and with it this worker's later calls.
	defer context.AfterFunc(ctx, w.cancel)()
	req := &recommendationsv1.LiveRecommendRequest{
		Type:   recommendationsv1.EventType_EVENT_TYPE_VIEWED,
		BookId: 1 + mathrand.Int32N(w.maxBook),
		UserId: w.userID,
	}
	if mathrand.IntN(4) == 0 {
		req.Type = recommendationsv1.EventType_EVENT_TYPE_DISMISSED
	}
	if err := w.stream.Send(req); err != nil {
		if errors.Is(err, io.EOF) {
			_, err = w.stream.Recv() // the stream's status
		}
		return 0, err
	}
	resp, err := w.stream.Recv()
	if err != nil {
		return 0, err
	}
	return len(resp.GetBooks()), nil
}

func (w *liveWorker) Close() error {
	err := w.stream.CloseSend()
	w.cancel()
	return err
}
