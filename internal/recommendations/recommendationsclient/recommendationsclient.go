// Package recommendationsclient is the Recommendations service's contract
// in Go terms: clients of the tutorial's /Recommendations/Recommend and of
// bookshop.recommendations.v1.LiveRecommendationsService that speak the
// kernel's types, converting protobuf messages and status codes at the
// edge. The Marketplace calls Recommendations through it; it imports
// nothing of the service's own internals.
package recommendationsclient

import (
	"cmp"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The clients' promises, checked by the compiler.
var (
	_ bookshop.Recommender     = (*Client)(nil)
	_ bookshop.LiveRecommender = (*LiveClient)(nil)
	_ bookshop.LiveStream      = (*LiveStream)(nil)
)

// DefaultPort is Recommendations' gRPC port, the tutorial's: where callers
// look for it when its host names no port.
const DefaultPort = 50051

// MaxLiveResults is the longest live list the contract allows a caller to
// ask for (max_results of LiveRecommendRequest).
const MaxLiveResults = 20

// Client is a [bookshop.Recommender] that calls a
// Recommendations service over gRPC. It is safe for concurrent use.
type Client struct {
	client  recommendationspb.RecommendationsClient
	timeout time.Duration
}

// New returns a client that calls Recommendations over
// conn. Calls whose context has no deadline get timeout.
func New(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	return &Client{client: recommendationspb.NewRecommendationsClient(conn), timeout: timeout}
}

// Recommend implements [bookshop.Recommender] over gRPC. Errors: Invalid and
// NotFound with the server's message; Unavailable when the service cannot be
// reached or does not answer in time; Internal otherwise.
func (c *Client) Recommend(ctx context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	if req.MaxResults < 0 || req.MaxResults > 1<<31-1 {
		return nil, bookshop.Errorf(bookshop.Invalid, "max_results must be from 0 to 2147483647, got %d", req.MaxResults)
	}
	resp, err := c.client.Recommend(ctx, &recommendationspb.RecommendationRequest{
		UserId:     req.UserID,
		Category:   recommendationspb.BookCategory(req.Category),
		MaxResults: int32(req.MaxResults),
	})
	if err != nil {
		return nil, rpc.FromStatus(err)
	}
	books := make([]bookshop.Book, len(resp.GetRecommendations()))
	for i, r := range resp.GetRecommendations() {
		books[i] = bookshop.Book{
			ID:       r.GetId(),
			Title:    r.GetTitle(),
			Author:   r.GetAuthor(),
			Year:     int(r.GetYear()),
			Category: req.Category,
			Price:    catalogclient.MoneyFromProto(r.GetPrice()),
		}
	}
	return books, nil
}

// LiveClient is a [bookshop.LiveRecommender] that calls
// LiveRecommendationsService over gRPC. It is safe for concurrent use.
type LiveClient struct {
	client recommendationsv1.LiveRecommendationsServiceClient
}

// NewLiveClient returns a client that calls LiveRecommendationsService over
// conn. Its streams have no deadline of their own: they last as long as
// the context given to Open, which is the shopper's session.
func NewLiveClient(conn grpc.ClientConnInterface) *LiveClient {
	return &LiveClient{client: recommendationsv1.NewLiveRecommendationsServiceClient(conn)}
}

// openTimeout bounds how long Open waits for the server to say that it
// took a stream: a server that says nothing until its first list (one
// older than the promise to send headers at once) still gets its stream,
// after this long, rather than none.
const openTimeout = 5 * time.Second

// Open implements [bookshop.LiveRecommender]: it opens one LiveRecommend
// stream, and waits until the server has taken it (it sends its headers
// at once) or refused it. Errors: Invalid for a maxResults outside 1 to
// 20; Exhausted when the server serves as many streams as it may (in all
// or of this caller), so that the caller can refuse its own caller at
// once, not once its answer has begun; Unavailable when the service
// cannot be reached or is shutting down (errors.Is(err, rpc.ErrDraining)
// then).
func (c *LiveClient) Open(ctx context.Context, userID int32, maxResults int) (bookshop.LiveStream, error) {
	if maxResults < 1 || maxResults > MaxLiveResults {
		return nil, bookshop.Errorf(bookshop.Invalid, "max_results must be from 1 to %d, got %d", MaxLiveResults, maxResults)
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.client.LiveRecommend(ctx)
	if err != nil {
		cancel()
		return nil, rpc.FromStatus(err)
	}
	if err := waitTaken(stream); err != nil {
		cancel()
		return nil, err
	}
	return &LiveStream{stream: stream, cancel: cancel, userID: userID, maxResults: int32(maxResults)}, nil
}

// waitTaken waits, at most openTimeout, for stream's headers, which the
// server sends once it takes the stream, and returns the stream's error
// if it ended before: Exhausted for RESOURCE_EXHAUSTED, with or without
// a RetryInfo, what rpc.FromStatus says otherwise.
func waitTaken(stream grpc.ClientStream) error {
	taken := make(chan bool, 1)
	go func() {
		// Header returns once the headers come, or the stream ends
		// (nil: Recv has its status), or its context does.
		md, _ := stream.Header()
		taken <- md != nil
	}()
	t := time.NewTimer(openTimeout)
	defer t.Stop()
	select {
	case ok := <-taken:
		if ok {
			return nil
		}
	case <-t.C:
		return nil // an older server: it may still refuse the stream later
	}
	err := stream.RecvMsg(new(recommendationsv1.LiveRecommendResponse))
	if errors.Is(err, io.EOF) || err == nil {
		return rpc.CallError(bookshop.Errorf(bookshop.Unavailable, "the live recommendations stream ended before it began"), cmp.Or(err, io.ErrUnexpectedEOF))
	}
	de := rpc.FromStatus(err)
	if status.Code(err) == codes.ResourceExhausted && bookshop.ErrorCode(de) != bookshop.Exhausted {
		// No RetryInfo: the server's caps on streams, not a quota of
		// the caller's, but Exhausted all the same: try again later.
		return rpc.CallError(&bookshop.Error{Code: bookshop.Exhausted, Message: status.Convert(err).Message()}, err)
	}
	return de
}

// LiveStream is an open LiveRecommend stream: a [bookshop.LiveStream].
type LiveStream struct {
	stream     grpc.BidiStreamingClient[recommendationsv1.LiveRecommendRequest, recommendationsv1.LiveRecommendResponse]
	cancel     context.CancelFunc
	userID     int32
	maxResults int32

	sendMu sync.Mutex // gRPC allows one sender at a time
}

// Send implements [bookshop.LiveStream]. Errors: Invalid for an unknown
// event type; Unavailable when the stream has ended.
func (s *LiveStream) Send(ev bookshop.Event) error {
	t, ok := eventTypeToProto(ev.Type)
	if !ok {
		return bookshop.Errorf(bookshop.Invalid, "unknown event type %d", ev.Type)
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	err := s.stream.Send(&recommendationsv1.LiveRecommendRequest{
		Type:       t,
		BookId:     ev.BookID,
		UserId:     s.userID,
		MaxResults: s.maxResults,
	})
	if errors.Is(err, io.EOF) {
		// The server ended the stream; Recv has its status.
		return rpc.CallError(bookshop.Errorf(bookshop.Unavailable, "the live recommendations stream has ended"), err)
	}
	return rpc.FromStatus(err)
}

// Recv implements [bookshop.LiveStream]: io.EOF when the server ended the
// stream with OK, otherwise the list or a domain error of the stream's
// status.
func (s *LiveStream) Recv() ([]bookshop.Book, error) {
	resp, err := s.stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	if err != nil {
		return nil, rpc.FromStatus(err)
	}
	books := make([]bookshop.Book, len(resp.GetBooks()))
	for i, b := range resp.GetBooks() {
		books[i] = catalogclient.BookFromProto(b)
	}
	return books, nil
}

// Close implements [bookshop.LiveStream]: it cancels the stream, which the
// server sees at once.
func (s *LiveStream) Close() { s.cancel() }

// eventTypeToProto converts a domain event type; ok is false for an
// unknown one.
func eventTypeToProto(t bookshop.EventType) (recommendationsv1.EventType, bool) {
	switch t {
	case bookshop.Viewed:
		return recommendationsv1.EventType_EVENT_TYPE_VIEWED, true
	case bookshop.Dismissed:
		return recommendationsv1.EventType_EVENT_TYPE_DISMISSED, true
	default:
		return recommendationsv1.EventType_EVENT_TYPE_UNSPECIFIED, false
	}
}
