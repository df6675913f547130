package grpcapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
)

// The sizes of a live list on the wire: max_results 0 asks for
// defaultLiveResults; more than maxLiveResults is refused. They are the
// contract's, and recommend.DefaultLiveResults and MaxLiveResults.
const (
	defaultLiveResults = 4
	maxLiveResults     = 20
)

// LiveSession is one shopper's live recommendations, as a
// *recommend.Session is: Apply records an event and returns the fresh
// list. Errors: Invalid for a bad event or size, NotFound for an unknown
// book.
type LiveSession interface {
	Apply(ctx context.Context, ev bookshop.Event, maxResults int) ([]bookshop.Book, error)
}

// LiveServer serves bookshop.recommendations.v1.LiveRecommendationsService:
// one LiveSession per stream.
type LiveServer struct {
	recommendationsv1.UnimplementedLiveRecommendationsServiceServer
	newSession func() LiveSession
	logger     *slog.Logger
}

// NewLiveServer returns a server that starts a session with newSession for
// each stream, and logs internal errors to logger.
func NewLiveServer(newSession func() LiveSession, logger *slog.Logger) *LiveServer {
	return &LiveServer{newSession: newSession, logger: logger}
}

// LiveRecommend reads the client's events until it closes its side of the
// stream (then it returns OK) or the stream breaks off, and after each
// event sends the session's fresh list. Errors, which end the stream:
// INVALID_ARGUMENT for an event without a known type, a max_results
// outside 0 to 20, or a book that does not exist (the contract names this
// an invalid argument, not NOT_FOUND: the stream, not a book, is what the
// client asked for); CANCELLED or DEADLINE_EXCEEDED when the client goes
// away; INTERNAL for anything unexpected.
func (s *LiveServer) LiveRecommend(stream grpc.BidiStreamingServer[recommendationsv1.LiveRecommendRequest, recommendationsv1.LiveRecommendResponse]) error {
	const method = recommendationsv1.LiveRecommendationsService_LiveRecommend_FullMethodName
	ctx := stream.Context()
	session := s.newSession()
	var events int32
	for {
		// Recv returns as soon as the client cancels or the server stops,
		// so the loop watches the stream's context through it.
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err // the stream broke off; err carries its status
		}
		ev, err := eventFromProto(req)
		if err != nil {
			return toStatus(ctx, s.logger, method, err)
		}
		max := int(req.GetMaxResults())
		if max == 0 {
			max = defaultLiveResults
		}
		books, err := session.Apply(ctx, ev, max)
		if bookshop.ErrorCode(err) == bookshop.NotFound {
			return status.Error(codes.InvalidArgument, bookshop.ErrorMessage(err))
		}
		if err != nil {
			return toStatus(ctx, s.logger, method, err)
		}
		if events < math.MaxInt32 {
			events++
		}
		resp := &recommendationsv1.LiveRecommendResponse{Books: make([]*catalogv1.Book, len(books)), Events: events}
		for i, b := range books {
			resp.Books[i] = bookToProto(b)
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// eventFromProto converts a request to a domain event. Errors: Invalid for
// a type the contract does not define.
func eventFromProto(req *recommendationsv1.LiveRecommendRequest) (bookshop.Event, error) {
	ev := bookshop.Event{BookID: req.GetBookId()}
	switch req.GetType() {
	case recommendationsv1.EventType_EVENT_TYPE_VIEWED:
		ev.Type = bookshop.Viewed
	case recommendationsv1.EventType_EVENT_TYPE_DISMISSED:
		ev.Type = bookshop.Dismissed
	case recommendationsv1.EventType_EVENT_TYPE_UNSPECIFIED:
		return ev, bookshop.Errorf(bookshop.Invalid, "the event has no type: use EVENT_TYPE_VIEWED or EVENT_TYPE_DISMISSED")
	default:
		return ev, bookshop.Errorf(bookshop.Invalid, "unknown event type %d: use EVENT_TYPE_VIEWED or EVENT_TYPE_DISMISSED", int32(req.GetType()))
	}
	return ev, nil
}

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

// Open implements [bookshop.LiveRecommender]: it opens one LiveRecommend
// stream. Errors: Invalid for a maxResults outside 1 to 20; Unavailable
// when the service cannot be reached.
func (c *LiveClient) Open(ctx context.Context, userID int32, maxResults int) (bookshop.LiveStream, error) {
	if maxResults < 1 || maxResults > maxLiveResults {
		return nil, bookshop.Errorf(bookshop.Invalid, "max_results must be from 1 to %d, got %d", maxLiveResults, maxResults)
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.client.LiveRecommend(ctx)
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	return &LiveStream{stream: stream, cancel: cancel, userID: userID, maxResults: int32(maxResults)}, nil
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
		return &callError{domain: bookshop.Errorf(bookshop.Unavailable, "the live recommendations stream has ended"), cause: err}
	}
	return fromStatus(err)
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
		return nil, fromStatus(err)
	}
	books := make([]bookshop.Book, len(resp.GetBooks()))
	for i, b := range resp.GetBooks() {
		books[i] = bookFromProto(b)
	}
	return books, nil
}

// Close implements [bookshop.LiveStream]: it cancels the stream, which the
// server sees at once.
func (s *LiveStream) Close() { s.cancel() }
