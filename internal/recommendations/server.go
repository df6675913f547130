package recommendations

import (
	"context"
	"log/slog"

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
		resp.Recommendations[i] = &recommendationspb.BookRecommendation{
			Id:     b.ID,
			Title:  b.Title,
			Author: b.Author,
			Year:   int32(b.Year),
			Price:  catalogclient.MoneyToProto(b.Price),
		}
	}
	return resp, nil
}
