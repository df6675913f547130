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
	r := bookshop.RecommendRequest{
		UserID:     req.GetUserId(),
		Category:   bookshop.Category(req.GetCategory()),
		MaxResults: int(req.GetMaxResults()),
	}
	var (
		books []bookshop.Book
		err   error
	)
	if a, ok := s.rec.(booksAppender); ok {
		// The books are only read here, into the response's messages: a
		// slice used again saves a slice of them a call.
		buf := bookBuffers.Get().(*[]bookshop.Book)
		books, err = a.RecommendAppend(ctx, r, (*buf)[:0])
		defer func() {
			clear(books)
			*buf = books[:0]
			bookBuffers.Put(buf)
		}()
	} else {
		books, err = s.rec.Recommend(ctx, r)
	}
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, "/Recommendations/Recommend", err)
	}
	resp := newResponse(len(books))
	for i, b := range books {
		resp.Recommendations[i] = s.books.message(b)
	}
	return resp, nil
}

// bookBuffers holds the slices Recommend has its books appended to.
var bookBuffers = sync.Pool{New: func() any { return new([]bookshop.Book) }}

// smallResponse is a response of up to 3 books, the homepage's, with its
// slice of them: one allocation rather than two.
type smallResponse struct {
	resp recommendationspb.RecommendationResponse
	recs [3]*recommendationspb.BookRecommendation
}

// newResponse returns a response with room for n books.
func newResponse(n int) *recommendationspb.RecommendationResponse {
	if n > len(smallResponse{}.recs) {
		return &recommendationspb.RecommendationResponse{Recommendations: make([]*recommendationspb.BookRecommendation, n)}
	}
	r := new(smallResponse)
	r.resp.Recommendations = r.recs[:n:n]
	return &r.resp
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
