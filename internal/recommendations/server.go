package recommendations

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Server serves a [bookshop.Recommender] as the tutorial's
// Recommendations service (method path /Recommendations/Recommend).
type Server struct {
	recommendationspb.UnimplementedRecommendationsServer
	rec    bookshop.Recommender
	logger *slog.Logger
	books  bookMessages
}

var _ recommendationspb.RecommendationsServer = (*Server)(nil)

// NewServer returns a server that answers with rec and logs internal
// errors to logger.
func NewServer(rec bookshop.Recommender, logger *slog.Logger) *Server {
	return &Server{rec: rec, logger: logger}
}

// Recommend returns distinct random books of the requested category.
// Errors: NOT_FOUND for a category without books (numbers outside the enum
// included), INVALID_ARGUMENT for a negative max_results, INTERNAL for
// anything unexpected.
func (s *Server) Recommend(ctx context.Context, req *recommendationspb.RecommendationRequest) (*recommendationspb.RecommendationResponse, error) {
	books, err := s.rec.Recommend(ctx, bookshop.RecommendRequest{
		UserID:     req.GetUserId(),
		Category:   bookshop.Category(req.GetCategory()),
		MaxResults: int(req.GetMaxResults()),
	})
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, "/Recommendations/Recommend", err)
	}
	resp := &recommendationspb.RecommendationResponse{
		Recommendations: make([]*recommendationspb.BookRecommendation, len(books)),
	}
	for i, b := range books {
		resp.Recommendations[i] = s.books.message(b)
	}
	return resp, nil
}

// maxBookMessages bounds the messages a Server keeps: some 200 bytes
// each, for the books recommended most in a large catalog, and every book
// of a small one (the built-in catalog has 45).
const maxBookMessages = 1024

// bookMessages keeps the message of each book recommended, made the first
// time, so that a response is its books' pointers rather than two messages
// made for each book of each call: a response to the homepage was a dozen
// allocations, some 700 bytes for the garbage collector to reclaim. The
// messages are shared between responses, which is safe: they are never
// changed once made, and protobuf-go marshals a message from several
// goroutines at once (as bench/fixedgrpc shares its one response). A book
// whose fields change (a new price) gets a new message. Past
// maxBookMessages books, the others get a message of their own each time.
// It is safe for concurrent use.
type bookMessages struct {
	m sync.Map // book id -> *bookMessage
	n atomic.Int32
}

// bookMessage is the message of a book, as it was when made.
type bookMessage struct {
	book bookshop.Book
	msg  *recommendationspb.BookRecommendation
}

// message returns the message of b.
func (c *bookMessages) message(b bookshop.Book) *recommendationspb.BookRecommendation {
	if v, ok := c.m.Load(b.ID); ok {
		if e := v.(*bookMessage); e.book == b {
			return e.msg
		}
	}
	msg := &recommendationspb.BookRecommendation{
		Id:     b.ID,
		Title:  b.Title,
		Author: b.Author,
		Year:   int32(b.Year),
		Price:  catalogclient.MoneyToProto(b.Price),
	}
	if _, had := c.m.Swap(b.ID, &bookMessage{book: b, msg: msg}); !had && c.n.Add(1) > maxBookMessages {
		c.m.Delete(b.ID) // full: b keeps no message
		c.n.Add(-1)
	}
	return msg
}
