package catalog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// ExportBatchSize is how many books one ExportBooks message carries.
// Batches keep the per-message cost of gRPC small for large exports.
const ExportBatchSize = 500

// MaxImportBooks is the most books one ImportBooks stream may send: as
// many as the catalog holds at most by default (DefaultMaxBooks). An
// import that would take the catalog past its caps is refused whatever
// its size; a catalog whose caps are raised takes more in several.
const MaxImportBooks = DefaultMaxBooks

// maxImportMessageBytes bounds one book of an import: a title of 300
// characters and an author of 200, at up to 4 bytes each, and the rest.
const maxImportMessageBytes = 4 << 10

// Server serves a [Service] as bookshop.catalog.v1.CatalogService.
type Server struct {
	catalogv1.UnimplementedCatalogServiceServer
	catalog    *Service
	logger     *slog.Logger
	importIdle time.Duration // see SetImportIdleTimeout
}

var _ catalogv1.CatalogServiceServer = (*Server)(nil)

// NewServer returns a CatalogService server over catalog, logging
// internal errors to logger.
func NewServer(catalog *Service, logger *slog.Logger) *Server {
	return &Server{catalog: catalog, logger: logger, importIdle: ImportIdleTimeout}
}

// ImportIdleTimeout is how long an import waits for its client's next
// message before it ends the import, writing nothing: an import holds the
// database's one write transaction and a place among MaxImports, which a
// client that stopped sending would otherwise hold until its connection
// closed (up to the server's MaxConnectionAge and its grace, half an
// hour). A client sends the books of a file as fast as it reads them.
const ImportIdleTimeout = time.Minute

// SetImportIdleTimeout sets how long an import waits for its client's
// next message (ImportIdleTimeout by default), before the server serves.
func (s *Server) SetImportIdleTimeout(d time.Duration) { s.importIdle = d }

// GetBook returns one book. Errors: NOT_FOUND for an unknown id.
func (s *Server) GetBook(ctx context.Context, req *catalogv1.GetBookRequest) (*catalogv1.GetBookResponse, error) {
	b, err := s.catalog.Book(ctx, req.GetId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, catalogv1.CatalogService_GetBook_FullMethodName, err)
	}
	return &catalogv1.GetBookResponse{Book: catalogclient.BookToProto(b)}, nil
}

// GetBooks returns the books of up to MaxGetBooks ids, in the order asked,
// leaving out ids with no book. Errors: INVALID_ARGUMENT for too many ids
// or an id under 1.
func (s *Server) GetBooks(ctx context.Context, req *catalogv1.GetBooksRequest) (*catalogv1.GetBooksResponse, error) {
	books, err := s.catalog.Books(ctx, req.GetIds())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, catalogv1.CatalogService_GetBooks_FullMethodName, err)
	}
	resp := &catalogv1.GetBooksResponse{Books: make([]*catalogv1.Book, len(books))}
	for i, b := range books {
		resp.Books[i] = catalogclient.BookToProto(b)
	}
	return resp, nil
}

// ExportBooks streams the books of a category (all for
// CATEGORY_UNSPECIFIED) in id order, ExportBatchSize at a time. It stops
// as soon as the client goes away. Errors: INVALID_ARGUMENT for an unknown
// category.
func (s *Server) ExportBooks(req *catalogv1.ExportBooksRequest, stream grpc.ServerStreamingServer[catalogv1.ExportBooksResponse]) error {
	ctx := stream.Context()
	c := bookshop.AllCategories
	if req.GetCategory() != catalogv1.Category_CATEGORY_UNSPECIFIED {
		var ok bool
		if c, ok = catalogclient.CategoryFromProto(req.GetCategory()); !ok {
			return status.Errorf(codes.InvalidArgument, "unknown category %d: use CATEGORY_MYSTERY, CATEGORY_SCIENCE_FICTION, CATEGORY_SELF_HELP, or CATEGORY_UNSPECIFIED for all", int32(req.GetCategory()))
		}
	}
	err := s.catalog.ExportBooks(ctx, c, ExportBatchSize, func(batch []bookshop.Book) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		resp := &catalogv1.ExportBooksResponse{Books: make([]*catalogv1.Book, len(batch))}
		for i, b := range batch {
			resp.Books[i] = catalogclient.BookToProto(b)
		}
		return stream.Send(resp)
	})
	if err != nil {
		if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
			return err // a failed Send already carries its status
		}
		return rpc.ToStatus(ctx, s.logger, catalogv1.CatalogService_ExportBooks_FullMethodName, err)
	}
	return nil
}

// ImportBooks reads the client's books until the stream ends and imports
// them in one transaction, which takes them as they come (see
// Service.ImportFrom): an import of any size holds a few hundred books at
// a time. It answers with a summary: at most
// bookshop.MaxRejectionsReported rejections, the first ones. If the stream
// breaks off or is cancelled, nothing is written. Errors:
// RESOURCE_EXHAUSTED past MaxImportBooks, when the books would take the
// catalog past its caps (the store's Limits), or when MaxImports imports
// run or wait already (with a RetryInfo of ImportRetryAfter: the only one
// of these that passes by itself); INVALID_ARGUMENT for a message larger than any
// book; ABORTED when no message comes for ImportIdleTimeout.
func (s *Server) ImportBooks(stream grpc.ClientStreamingServer[catalogv1.ImportBooksRequest, catalogv1.ImportBooksResponse]) error {
	ctx := stream.Context()
	r := newImportReceiver(stream, s.importIdle)
	defer r.close()
	// The key is on the first message, which the import needs to begin.
	first, err := r.recv()
	if err != nil && !errors.Is(err, io.EOF) {
		return err // the stream broke off: nothing was written
	}
	items := func(yield func(bookshop.ImportItem, error) bool) {
		req := first
		for n := 0; req != nil; n++ {
			if n == MaxImportBooks {
				yield(bookshop.ImportItem{}, status.Errorf(codes.ResourceExhausted, "an import may hold at most %d books: split the file", MaxImportBooks))
				return
			}
			if !yield(bookshop.ImportItem{Book: catalogclient.BookFromProto(req.GetBook()), Line: int(req.GetLine())}, nil) {
				return
			}
			var err error
			if req, err = r.recv(); err != nil && !errors.Is(err, io.EOF) {
				yield(bookshop.ImportItem{}, err) // the stream broke off, or paused: nothing is written
				return
			}
		}
	}
	res, err := s.catalog.ImportFrom(ctx, first.GetIdempotencyKey(), items)
	if err != nil {
		if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
			return err // a refused message, or a broken stream, carries its status
		}
		return rpc.ToStatus(ctx, s.logger, catalogv1.CatalogService_ImportBooks_FullMethodName, err)
	}
	resp := &catalogv1.ImportBooksResponse{
		Imported: int32(res.Imported),
		Rejected: make([]*catalogv1.Rejection, len(res.Rejected)),
		Replayed: res.Replayed,
	}
	for i, r := range res.Rejected {
		resp.Rejected[i] = &catalogv1.Rejection{Index: int32(r.Index), Line: int32(r.Line), Reason: r.Reason}
	}
	return stream.SendAndClose(resp)
}

// importReceiver receives the messages of an import's stream in a
// goroutine of its own, so that the import can stop waiting for the next
// one after its idle timeout: gRPC's Recv waits as long as the stream
// lasts.
type importReceiver struct {
	msgs  chan importMessage
	done  chan struct{}
	idle  time.Duration
	timer *time.Timer
}

// importReadAhead is how many messages of an import the receiving
// goroutine may hold before the import takes them: enough that the two
// goroutines take turns once a batch rather than once a book, as the
// benchmark of imports found no slower than without the goroutine. Each
// is a book of at most maxImportMessageBytes (the receiver refuses a
// larger one before it holds it): 256 KiB at most.
const importReadAhead = 64

// importMessage is what one Recv returned.
type importMessage struct {
	req *catalogv1.ImportBooksRequest
	err error
}

// newImportReceiver starts receiving stream's messages; close stops it.
// The goroutine ends at the stream's first error (io.EOF at its end), at
// a message larger than any book (INVALID_ARGUMENT), or, when the handler
// returned first, once gRPC ends the stream.
func newImportReceiver(stream grpc.ClientStreamingServer[catalogv1.ImportBooksRequest, catalogv1.ImportBooksResponse], idle time.Duration) *importReceiver {
	r := &importReceiver{msgs: make(chan importMessage, importReadAhead), done: make(chan struct{}), idle: idle, timer: time.NewTimer(idle)}
	go func() {
		for n := 1; ; n++ {
			req, err := stream.Recv()
			// A book is a few hundred bytes: refuse a message that is not
			// one, rather than hold it.
			if size := proto.Size(req); err == nil && size > maxImportMessageBytes {
				req, err = nil, status.Errorf(codes.InvalidArgument, "message %d of the import is %d bytes: a book takes at most %d", n, size, maxImportMessageBytes)
			}
			select {
			case r.msgs <- importMessage{req, err}:
			case <-r.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return r
}

// recv returns the stream's next message, or its error (io.EOF at its
// end), or ABORTED when none comes within the idle timeout.
func (r *importReceiver) recv() (*catalogv1.ImportBooksRequest, error) {
	r.timer.Reset(r.idle)
	select {
	case m := <-r.msgs:
		return m.req, m.err
	case <-r.timer.C:
		return nil, status.Errorf(codes.Aborted, "no book came for %v: the import was ended, and nothing of it written; send an import's books without pausing", r.idle)
	}
}

// close stops receiving.
func (r *importReceiver) close() {
	r.timer.Stop()
	close(r.done)
}

// The bounds of one message of WatchBooks: at most WatchBatchBooks books
// and, past its first book, watchBatchBytes on the wire, so that a
// message fits the smallest of gRPC's pooled buffers that holds it (4 KiB;
// one of 6 KB takes 16). A watch whose client does not read holds 64 KiB
// of messages on the server, which gRPC's transport queues for a stream
// until the client reads, and the next one, encoded, waiting (see
// WatchBytes).
const (
	WatchBatchBooks = 100
	watchBatchBytes = 4<<10 - 8 // the flags snapshot_complete and change_complete take 2 bytes each
)

// watchBatch returns the books of a message of WatchBooks from the start
// of books, as protobuf: at least one, at most WatchBatchBooks, and no more
// than fit in watchBatchBytes after the first.
func watchBatch(books []bookshop.Book) []*catalogv1.Book {
	batch := make([]*catalogv1.Book, 0, min(len(books), WatchBatchBooks))
	size := 0
	for _, b := range books[:min(len(books), WatchBatchBooks)] {
		pb := catalogclient.BookToProto(b)
		// The book's field in the message: its bytes, a tag and a length.
		n := proto.Size(pb) + 3
		if len(batch) > 0 && size+n > watchBatchBytes {
			break
		}
		batch = append(batch, pb)
		size += n
	}
	return batch
}

// WatchBooks sends the whole catalog, in messages of at most
// WatchBatchBooks books and 4 KiB, the last of them marked
// snapshot_complete, then the books of each import as it commits, the
// last message of each marked change_complete, until the client goes
// away. Errors: UNAVAILABLE when the server shuts down, when the client
// falls too far behind, or past MaxWatches (either way it should watch
// again, from a new snapshot).
func (s *Server) WatchBooks(_ *catalogv1.WatchBooksRequest, stream grpc.ServerStreamingServer[catalogv1.WatchBooksResponse]) error {
	ctx := stream.Context()
	// send sends books in batches; the last one is marked with mark.
	send := func(books []bookshop.Book, mark func(*catalogv1.WatchBooksResponse)) error {
		for {
			resp := &catalogv1.WatchBooksResponse{Books: watchBatch(books)}
			books = books[len(resp.Books):]
			if len(books) == 0 {
				mark(resp)
			}
			if err := stream.Send(resp); err != nil {
				return err
			}
			if len(books) == 0 {
				return nil
			}
		}
	}
	err := s.catalog.Watch(ctx,
		func(books []bookshop.Book) error {
			return send(books, func(r *catalogv1.WatchBooksResponse) { r.SnapshotComplete = true })
		},
		func(books []bookshop.Book) error {
			return send(books, func(r *catalogv1.WatchBooksResponse) { r.ChangeComplete = true })
		})
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown && status.Code(err) != codes.OK {
		return err // a failed Send already carries its status
	}
	return rpc.ToStatus(ctx, s.logger, catalogv1.CatalogService_WatchBooks_FullMethodName, err)
}

// DefaultSearchLimit is the page of a SearchBooks request that sets no
// limit.
const DefaultSearchLimit = 20

// searchQuery converts a SearchBooks request, its limit defaulted.
func searchQuery(req *catalogv1.SearchBooksRequest) bookshop.SearchQuery {
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = DefaultSearchLimit
	}
	return bookshop.SearchQuery{Text: req.GetQuery(), Offset: int(req.GetOffset()), Limit: limit}
}

// SearchBooks returns one page of the books whose title or author has
// every word of the query, best first, and how many match in all.
// Errors: INVALID_ARGUMENT for a query or bounds out of range.
func (s *Server) SearchBooks(ctx context.Context, req *catalogv1.SearchBooksRequest) (*catalogv1.SearchBooksResponse, error) {
	res, err := s.catalog.Search(ctx, searchQuery(req))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, catalogv1.CatalogService_SearchBooks_FullMethodName, err)
	}
	resp := &catalogv1.SearchBooksResponse{Books: make([]*catalogv1.Book, len(res.Books)), Total: int32(res.Total)}
	for i, b := range res.Books {
		resp.Books[i] = catalogclient.BookToProto(b)
	}
	return resp, nil
}
