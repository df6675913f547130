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

// MaxPendingEvents is the most events of one stream that wait for their
// lists on the server, read but not yet applied: a client sends more only
// while it reads none of its lists (the server's sends wait), and its
// stream ends with RESOURCE_EXHAUSTED. The Marketplace reads every list
// as it comes, and its shoppers' events are rate-limited.
const MaxPendingEvents = 64

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
// Config.MaxLiveStreams), and when more than MaxPendingEvents events wait
// for their lists (the client reads none); CANCELLED or DEADLINE_EXCEEDED when the client
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
	// shutdown (Recv returns only when the client sends, goes away, or
	// the stream ends, which returning from here makes it do), and so that
	// what the client sends is read as it comes, even while this one
	// cannot send a list (the client reads none): an event left in
	// grpc-go's buffers, up to the stream's window, costs far more than
	// one waiting here. At most MaxPendingEvents wait here; past them the
	// stream ends with RESOURCE_EXHAUSTED, and until it does the receiver
	// reads and drops what comes.
	in := make(chan *recommendationsv1.LiveRecommendRequest, MaxPendingEvents)
	var recvErr error // why Recv failed: set before in gets nil
	flooded := make(chan struct{})
	go func() {
		dropping := false
		for {
			req, err := stream.Recv()
			if err != nil {
				recvErr = err
				if !dropping {
					select {
					case in <- nil: // after the events before it
					case <-ctx.Done():
					}
				}
				return
			}
			if dropping {
				continue
			}
			select {
			case in <- req:
			default:
				dropping = true
				close(flooded)
			}
		}
	}()
	var events int32
	for {
		var req *recommendationsv1.LiveRecommendRequest
		select {
		case <-flooded:
			return status.Errorf(codes.ResourceExhausted, "more than %d events wait for their lists: read the lists as they come", MaxPendingEvents)
		case req = <-in:
		case <-s.draining:
			return rpc.ErrDraining
		case <-ctx.Done(): // the client went away: the receiver may not say so
			return status.FromContextError(ctx.Err()).Err()
		}
		if req == nil {
			if errors.Is(recvErr, io.EOF) {
				return nil
			}
			return recvErr // the stream broke off; it carries its status
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
