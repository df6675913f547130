package recommendations

import (
	"errors"
	"io"
	"log/slog"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// LiveServer serves bookshop.recommendations.v1.LiveRecommendationsService:
// one Session per stream.
type LiveServer struct {
	recommendationsv1.UnimplementedLiveRecommendationsServiceServer
	newSession func() *Session
	logger     *slog.Logger
	metrics    *metrics
	// draining, once closed, ends every stream with rpc.ErrDraining: the
	// server is shutting down (see rpc.Server.Draining). Nil: never.
	draining <-chan struct{}
	// streams caps the streams open at once. Nil: no cap.
	streams *liveStreams
}

var _ recommendationsv1.LiveRecommendationsServiceServer = (*LiveServer)(nil)

// NewLiveServer returns a server that starts a session with newSession for
// each stream, and logs internal errors to logger.
func NewLiveServer(newSession func() *Session, logger *slog.Logger) *LiveServer {
	return &LiveServer{newSession: newSession, logger: logger}
}

// LiveRecommend reads the client's events until it closes its side of the
// stream (then it returns OK) or the stream breaks off, and after each
// event sends the session's fresh list. Errors, which end the stream:
// INVALID_ARGUMENT for an event without a known type, a max_results
// outside 0 to 20, or a book that does not exist (the contract names this
// an invalid argument, not NOT_FOUND: the stream, not a book, is what the
// client asked for); RESOURCE_EXHAUSTED at once when the server serves as
// many streams as it may, in all or of this caller (see
// Config.MaxLiveStreams); CANCELLED or DEADLINE_EXCEEDED when the client
// goes away; UNAVAILABLE (rpc.ErrDraining) at once when the server shuts down,
// so that the client opens a new stream elsewhere; INTERNAL for anything
// unexpected.
//
// A stream that is not refused gets the response headers at once, before
// any list: a client waits for them to know that its stream was taken
// (see recommendationsclient.LiveClient.Open). A refused one gets none,
// only its status.
func (s *LiveServer) LiveRecommend(stream grpc.BidiStreamingServer[recommendationsv1.LiveRecommendRequest, recommendationsv1.LiveRecommendResponse]) error {
	const method = recommendationsv1.LiveRecommendationsService_LiveRecommend_FullMethodName
	ctx := stream.Context()
	select {
	case <-s.draining:
		return rpc.ErrDraining
	default:
	}
	if s.streams != nil {
		release, err := s.streams.acquire(ctx)
		if err != nil {
			return rpc.ToStatus(ctx, s.logger, method, err)
		}
		defer release()
	}
	// The stream is taken: the headers say so at once, so that the
	// client knows, before it answers its own caller, that the stream was
	// not refused (the first list comes only after the first event).
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err // the client went away; err carries the status
	}
	s.metrics.liveStreamOpened()
	defer s.metrics.liveStreamClosed()
	session := s.newSession()
	// Receive in a goroutine of its own, so that this one can watch for
	// shutdown: Recv returns only when the client sends, goes away, or
	// the stream ends, which returning from here makes it do.
	type received struct {
		req *recommendationsv1.LiveRecommendRequest
		err error
	}
	in := make(chan received)
	go func() {
		for {
			req, err := stream.Recv()
			select {
			case in <- received{req, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var events int32
	for {
		var r received
		select {
		case r = <-in:
		case <-s.draining:
			return rpc.ErrDraining
		case <-ctx.Done(): // the client went away: the receiver may not say so
			return status.FromContextError(ctx.Err()).Err()
		}
		req, err := r.req, r.err
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err // the stream broke off; err carries its status
		}
		ev, err := eventFromProto(req)
		if err != nil {
			return rpc.ToStatus(ctx, s.logger, method, err)
		}
		max := int(req.GetMaxResults())
		if max == 0 {
			max = DefaultLiveResults
		}
		books, err := session.Apply(ctx, ev, max)
		if bookshop.ErrorCode(err) == bookshop.NotFound {
			return status.Error(codes.InvalidArgument, bookshop.ErrorMessage(err))
		}
		if err != nil {
			return rpc.ToStatus(ctx, s.logger, method, err)
		}
		if events < math.MaxInt32 {
			events++
		}
		resp := &recommendationsv1.LiveRecommendResponse{Books: make([]*catalogv1.Book, len(books)), Events: events}
		for i, b := range books {
			resp.Books[i] = catalogclient.BookToProto(b)
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
