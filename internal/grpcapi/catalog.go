package grpcapi

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
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
)

// ExportBatchSize is how many books one ExportBooks message carries.
// Batches keep the per-message cost of gRPC small for large exports.
const ExportBatchSize = 500

// MaxImportBooks is the most books one ImportBooks stream may send: the
// server holds them in memory until the stream ends.
const MaxImportBooks = 1_000_000

// maxImportMessageBytes bounds one book of an import: a title of 300
// characters and an author of 200, at up to 4 bytes each, and the rest.
// With MaxImportBooks it bounds what one import may hold in memory.
const maxImportMessageBytes = 4 << 10

// CatalogServer serves a [bookshop.Catalog] and a [bookshop.Importer] as
// bookshop.catalog.v1.CatalogService.
type CatalogServer struct {
	catalogv1.UnimplementedCatalogServiceServer
	catalog  bookshop.Catalog
	importer bookshop.Importer
	logger   *slog.Logger
}

// NewCatalogServer returns a CatalogService server over catalog and
// importer, logging internal errors to logger.
func NewCatalogServer(catalog bookshop.Catalog, importer bookshop.Importer, logger *slog.Logger) *CatalogServer {
	return &CatalogServer{catalog: catalog, importer: importer, logger: logger}
}

// GetBook returns one book. Errors: NOT_FOUND for an unknown id.
func (s *CatalogServer) GetBook(ctx context.Context, req *catalogv1.GetBookRequest) (*catalogv1.GetBookResponse, error) {
	b, err := s.catalog.Book(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, catalogv1.CatalogService_GetBook_FullMethodName, err)
	}
	return &catalogv1.GetBookResponse{Book: bookToProto(b)}, nil
}

// ExportBooks streams the books of a category (all for
// CATEGORY_UNSPECIFIED) in id order, ExportBatchSize at a time. It stops
// as soon as the client goes away. Errors: INVALID_ARGUMENT for an unknown
// category.
func (s *CatalogServer) ExportBooks(req *catalogv1.ExportBooksRequest, stream grpc.ServerStreamingServer[catalogv1.ExportBooksResponse]) error {
	ctx := stream.Context()
	c := bookshop.AllCategories
	if req.GetCategory() != catalogv1.Category_CATEGORY_UNSPECIFIED {
		var ok bool
		if c, ok = categoryFromProto(req.GetCategory()); !ok {
			return status.Errorf(codes.InvalidArgument, "unknown category %d: use CATEGORY_MYSTERY, CATEGORY_SCIENCE_FICTION, CATEGORY_SELF_HELP, or CATEGORY_UNSPECIFIED for all", int32(req.GetCategory()))
		}
	}
	err := s.catalog.ExportBooks(ctx, c, ExportBatchSize, func(batch []bookshop.Book) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		resp := &catalogv1.ExportBooksResponse{Books: make([]*catalogv1.Book, len(batch))}
		for i, b := range batch {
			resp.Books[i] = bookToProto(b)
		}
		return stream.Send(resp)
	})
	if err != nil {
		if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
			return err // a failed Send already carries its status
		}
		return toStatus(ctx, s.logger, catalogv1.CatalogService_ExportBooks_FullMethodName, err)
	}
	return nil
}

// ImportBooks reads the client's books until the stream ends, then imports
// the valid ones in one transaction and answers with a summary. If the
// stream breaks off or is cancelled, nothing is written. Errors:
// RESOURCE_EXHAUSTED past MaxImportBooks.
func (s *CatalogServer) ImportBooks(stream grpc.ClientStreamingServer[catalogv1.ImportBooksRequest, catalogv1.ImportBooksResponse]) error {
	ctx := stream.Context()
	var items []bookshop.ImportItem
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err // the stream broke off: nothing was written
		}
		// A book is a few hundred bytes; refuse a message that is not one
		// before holding it until the stream ends.
		if n := proto.Size(req); n > maxImportMessageBytes {
			return status.Errorf(codes.InvalidArgument, "message %d of the import is %d bytes: a book takes at most %d", len(items)+1, n, maxImportMessageBytes)
		}
		if len(items) == MaxImportBooks {
			return status.Errorf(codes.ResourceExhausted, "an import may hold at most %d books: split the file", MaxImportBooks)
		}
		items = append(items, bookshop.ImportItem{Book: bookFromProto(req.GetBook()), Line: int(req.GetLine())})
	}
	res, err := s.importer.ImportBooks(ctx, items)
	if err != nil {
		return toStatus(ctx, s.logger, catalogv1.CatalogService_ImportBooks_FullMethodName, err)
	}
	resp := &catalogv1.ImportBooksResponse{
		Imported: int32(res.Imported),
		Rejected: make([]*catalogv1.Rejection, len(res.Rejected)),
	}
	for i, r := range res.Rejected {
		resp.Rejected[i] = &catalogv1.Rejection{Index: int32(r.Index), Line: int32(r.Line), Reason: r.Reason}
	}
	return stream.SendAndClose(resp)
}

// CatalogClient is a [bookshop.Catalog] and [bookshop.Importer] that calls
// CatalogService over gRPC. It is safe for concurrent use.
type CatalogClient struct {
	client  catalogv1.CatalogServiceClient
	timeout time.Duration
}

// NewCatalogClient returns a client that calls CatalogService over conn.
// Unary calls whose context has no deadline get timeout; streams run as
// long as their context allows.
func NewCatalogClient(conn grpc.ClientConnInterface, timeout time.Duration) *CatalogClient {
	return &CatalogClient{client: catalogv1.NewCatalogServiceClient(conn), timeout: timeout}
}

// Book implements [bookshop.Catalog]. Errors: NotFound, Unavailable,
// Internal.
func (c *CatalogClient) Book(ctx context.Context, id int32) (bookshop.Book, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetBook(ctx, &catalogv1.GetBookRequest{Id: id})
	if err != nil {
		return bookshop.Book{}, fromStatus(err)
	}
	return bookFromProto(resp.GetBook()), nil
}

// ExportBooks implements [bookshop.Catalog] over the ExportBooks stream;
// batches are as the server sends them, whatever batchSize says.
func (c *CatalogClient) ExportBooks(ctx context.Context, cat bookshop.Category, _ int, yield func([]bookshop.Book) error) error {
	req := &catalogv1.ExportBooksRequest{}
	if cat != bookshop.AllCategories {
		if !cat.Valid() {
			return bookshop.Errorf(bookshop.Invalid, "unknown category %d", int32(cat))
		}
		req.Category = categoryToProto(cat)
	}
	ctx, cancel := context.WithCancel(ctx) // ends the stream if yield fails
	defer cancel()
	stream, err := c.client.ExportBooks(ctx, req)
	if err != nil {
		return fromStatus(err)
	}
	var batch []bookshop.Book
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fromStatus(err)
		}
		batch = batch[:0]
		for _, b := range resp.GetBooks() {
			batch = append(batch, bookFromProto(b))
		}
		if err := yield(batch); err != nil {
			return err
		}
	}
}

// ImportBooks implements [bookshop.Importer] over the ImportBooks stream.
func (c *CatalogClient) ImportBooks(ctx context.Context, items []bookshop.ImportItem) (bookshop.ImportResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.ImportBooks(ctx)
	if err != nil {
		return bookshop.ImportResult{}, fromStatus(err)
	}
	for _, it := range items {
		if err := stream.Send(&catalogv1.ImportBooksRequest{Book: bookToProto(it.Book), Line: int32(it.Line)}); err != nil {
			// The server ended the stream; CloseAndRecv tells why.
			break
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return bookshop.ImportResult{}, fromStatus(err)
	}
	res := bookshop.ImportResult{Imported: int(resp.GetImported())}
	for _, r := range resp.GetRejected() {
		res.Rejected = append(res.Rejected, bookshop.Rejection{Index: int(r.GetIndex()), Line: int(r.GetLine()), Reason: r.GetReason()})
	}
	return res, nil
}

// bookToProto converts a domain book to its message.
func bookToProto(b bookshop.Book) *catalogv1.Book {
	return &catalogv1.Book{
		Id:       b.ID,
		Title:    b.Title,
		Author:   b.Author,
		Year:     int32(b.Year),
		Category: categoryToProto(b.Category),
	}
}

// bookFromProto converts a message to a domain book. A missing or unknown
// category becomes an invalid Category, which validation refuses.
func bookFromProto(b *catalogv1.Book) bookshop.Book {
	c, ok := categoryFromProto(b.GetCategory())
	if !ok {
		c = invalidCategory
	}
	return bookshop.Book{
		ID:       b.GetId(),
		Title:    b.GetTitle(),
		Author:   b.GetAuthor(),
		Year:     int(b.GetYear()),
		Category: c,
	}
}

// invalidCategory stands for a missing or unknown category of a message.
const invalidCategory bookshop.Category = -100

// The catalog.v1 enum reserves 0 for "unspecified", so its numbers are the
// domain's plus one.
func categoryToProto(c bookshop.Category) catalogv1.Category {
	if !c.Valid() {
		return catalogv1.Category_CATEGORY_UNSPECIFIED
	}
	return catalogv1.Category(c + 1)
}

func categoryFromProto(c catalogv1.Category) (bookshop.Category, bool) {
	d := bookshop.Category(c - 1)
	return d, c != catalogv1.Category_CATEGORY_UNSPECIFIED && d.Valid()
}

// withDefaultTimeout gives ctx a deadline of d from now unless it has one.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}
