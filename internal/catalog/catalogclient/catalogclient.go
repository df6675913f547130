// Package catalogclient is the Catalog service's contract in Go terms: a
// client of bookshop.catalog.v1.CatalogService that speaks the kernel's
// types, converting protobuf messages and status codes at the edge. Other
// services, the Marketplace and the bookshop tool call the Catalog
// through it; it imports nothing of the service's own internals, so that
// calling the Catalog never pulls in its storage.
package catalogclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the Catalog's gRPC port: where callers look for it when
// its host names no port.
const DefaultPort = 50060

// The Client's promises, checked by the compiler.
var (
	_ bookshop.Catalog  = (*Client)(nil)
	_ bookshop.Importer = (*Client)(nil)
)

// Client is a [bookshop.Catalog] and [bookshop.Importer] that calls
// CatalogService over gRPC, and follows the catalog with Watch. It is safe for concurrent use.
type Client struct {
	client     catalogv1.CatalogServiceClient
	timeout    time.Duration
	watchLimit int
}

// New returns a client that calls CatalogService over conn.
// Unary calls whose context has no deadline get timeout; streams run as
// long as their context allows.
func New(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	return &Client{client: catalogv1.NewCatalogServiceClient(conn), timeout: timeout, watchLimit: MaxWatchBooks}
}

// WithWatchLimit returns a copy of c whose Watch holds at most limit books
// at once (a snapshot, or one import; at most MaxWatchBooks): a follower
// with a memory budget stops receiving as soon as the catalog passes it,
// rather than after holding it all.
func (c *Client) WithWatchLimit(limit int) *Client {
	d := *c
	d.watchLimit = min(max(limit, 1), MaxWatchBooks)
	return &d
}

// TooManyBooksError is the error of a Watch that the catalog sent more
// books at once than its limit.
type TooManyBooksError struct{ Limit int }

// Error says what the limit is.
func (e *TooManyBooksError) Error() string {
	return fmt.Sprintf("the catalog sent more than %d books at once, more than this copy may hold", e.Limit)
}

// Book implements [bookshop.Catalog]. Errors: NotFound, Unavailable,
// Internal.
func (c *Client) Book(ctx context.Context, id int32) (bookshop.Book, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetBook(ctx, &catalogv1.GetBookRequest{Id: id})
	if err != nil {
		return bookshop.Book{}, rpc.FromStatus(err)
	}
	return BookFromProto(resp.GetBook()), nil
}

// MaxGetBooks is the most ids one Books call may ask for.
const MaxGetBooks = 100

// Books returns the books of ids that exist, in the order of ids, each
// once: an id with no book is left out. No ids get no books, without a
// call. Errors: Invalid for more than MaxGetBooks ids or an id under 1;
// Unavailable, Internal.
func (c *Client) Books(ctx context.Context, ids []int32) ([]bookshop.Book, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetBooks(ctx, &catalogv1.GetBooksRequest{Ids: ids})
	if err != nil {
		return nil, rpc.FromStatus(err)
	}
	books := make([]bookshop.Book, len(resp.GetBooks()))
	for i, b := range resp.GetBooks() {
		books[i] = BookFromProto(b)
	}
	return books, nil
}

// ExportBooks implements [bookshop.Catalog] over the ExportBooks stream;
// batches are as the server sends them, whatever batchSize says.
func (c *Client) ExportBooks(ctx context.Context, cat bookshop.Category, _ int, yield func([]bookshop.Book) error) error {
	req := &catalogv1.ExportBooksRequest{}
	if cat != bookshop.AllCategories {
		if !cat.Valid() {
			return bookshop.Errorf(bookshop.Invalid, "unknown category %d", int32(cat))
		}
		req.Category = CategoryToProto(cat)
	}
	ctx, cancel := context.WithCancel(ctx) // ends the stream if yield fails
	defer cancel()
	stream, err := c.client.ExportBooks(ctx, req)
	if err != nil {
		return rpc.FromStatus(err)
	}
	var batch []bookshop.Book
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return rpc.FromStatus(err)
		}
		batch = batch[:0]
		for _, b := range resp.GetBooks() {
			batch = append(batch, BookFromProto(b))
		}
		if err := yield(batch); err != nil {
			return err
		}
	}
}

// ImportBooks implements [bookshop.Importer] over the ImportBooks stream,
// key on its first message.
func (c *Client) ImportBooks(ctx context.Context, key string, items []bookshop.ImportItem) (bookshop.ImportResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.ImportBooks(ctx)
	if err != nil {
		return bookshop.ImportResult{}, rpc.FromStatus(err)
	}
	for i, it := range items {
		req := &catalogv1.ImportBooksRequest{Book: BookToProto(it.Book), Line: int32(it.Line)}
		if i == 0 {
			req.IdempotencyKey = key
		}
		if err := stream.Send(req); err != nil {
			// The server ended the stream; CloseAndRecv tells why.
			break
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return bookshop.ImportResult{}, rpc.FromStatus(err)
	}
	res := bookshop.ImportResult{Imported: int(resp.GetImported()), Replayed: resp.GetReplayed()}
	for _, r := range resp.GetRejected() {
		res.Rejected = append(res.Rejected, bookshop.Rejection{Index: int(r.GetIndex()), Line: int(r.GetLine()), Reason: r.GetReason()})
	}
	return res, nil
}

// Watch follows the catalog over the WatchBooks stream: it calls snapshot
// once with every book, when the server has sent them all, then added
// with the books of each import, whole, as it commits, until ctx ends or
// the stream breaks off. It returns the error that ended the stream (a
// domain error: Unavailable when the server stopped, cannot be reached,
// or ended the watch), or the first error a callback returns; ctx's own
// error when ctx ended it. Callbacks run on the caller's goroutine, one
// at a time, and own the slices they are given. A caller that wants to
// keep following calls Watch again: it starts with a whole snapshot
// again. Past its limit at once (a snapshot, or one import; see
// WithWatchLimit), Watch fails with a *TooManyBooksError, rather than hold
// more.
func (c *Client) Watch(ctx context.Context, snapshot, added func([]bookshop.Book) error) error {
	ctx, cancel := context.WithCancel(ctx) // ends the stream if a callback fails
	defer cancel()
	stream, err := c.client.WatchBooks(ctx, &catalogv1.WatchBooksRequest{})
	if err != nil {
		return rpc.FromStatus(err)
	}
	var (
		books    []bookshop.Book // of the snapshot, or of the import being received
		complete bool            // the snapshot is in
	)
	for {
		resp, err := stream.Recv()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, io.EOF):
			return bookshop.Errorf(bookshop.Unavailable, "the catalog ended the watch")
		case err != nil:
			return rpc.FromStatus(err)
		case len(books)+len(resp.GetBooks()) > c.watchLimit:
			return &TooManyBooksError{Limit: c.watchLimit}
		}
		for _, b := range resp.GetBooks() {
			books = append(books, BookFromProto(b))
		}
		switch {
		case !complete && resp.GetSnapshotComplete():
			complete = true
			err, books = snapshot(books), nil
		case complete && resp.GetChangeComplete():
			err, books = added(books), nil
		}
		if err != nil {
			return err
		}
	}
}

// MaxWatchBooks is the most books Watch holds before it hands them over:
// a whole snapshot, or one import. It bounds what a Catalog can make a
// client hold; a follower such as Recommendations keeps a tighter budget
// of its own.
const MaxWatchBooks = 2_000_000
