package grpcapi

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
)

// RecommendationsServer serves a [bookshop.Recommender] as the tutorial's
// Recommendations service (method path /Recommendations/Recommend).
type RecommendationsServer struct {
	recommendationspb.UnimplementedRecommendationsServer
	rec    bookshop.Recommender
	logger *slog.Logger
}

// NewRecommendationsServer returns a server that answers with rec and logs
// internal errors to logger.
func NewRecommendationsServer(rec bookshop.Recommender, logger *slog.Logger) *RecommendationsServer {
	return &RecommendationsServer{rec: rec, logger: logger}
}

// Recommend returns distinct random books of the requested category.
// Errors: NOT_FOUND for a category without books (numbers outside the enum
// included), INVALID_ARGUMENT for a negative max_results, INTERNAL for
// anything unexpected.
func (s *RecommendationsServer) Recommend(ctx context.Context, req *recommendationspb.RecommendationRequest) (*recommendationspb.RecommendationResponse, error) {
	books, err := s.rec.Recommend(ctx, bookshop.RecommendRequest{
		UserID:     req.GetUserId(),
		Category:   bookshop.Category(req.GetCategory()),
		MaxResults: int(req.GetMaxResults()),
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, "/Recommendations/Recommend", err)
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
		}
	}
	return resp, nil
}

// RecommendationsClient is a [bookshop.Recommender] that calls a
// Recommendations service over gRPC. It is safe for concurrent use.
type RecommendationsClient struct {
	client  recommendationspb.RecommendationsClient
	timeout time.Duration
}

// NewRecommendationsClient returns a client that calls Recommendations over
// conn. Calls whose context has no deadline get timeout.
func NewRecommendationsClient(conn grpc.ClientConnInterface, timeout time.Duration) *RecommendationsClient {
	return &RecommendationsClient{client: recommendationspb.NewRecommendationsClient(conn), timeout: timeout}
}

// Recommend implements [bookshop.Recommender] over gRPC. Errors: Invalid and
// NotFound with the server's message; Unavailable when the service cannot be
// reached or does not answer in time; Internal otherwise.
func (c *RecommendationsClient) Recommend(ctx context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.timeout)
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
		return nil, fromStatus(err)
	}
	books := make([]bookshop.Book, len(resp.GetRecommendations()))
	for i, r := range resp.GetRecommendations() {
		books[i] = bookshop.Book{
			ID:       r.GetId(),
			Title:    r.GetTitle(),
			Author:   r.GetAuthor(),
			Year:     int(r.GetYear()),
			Category: req.Category,
		}
	}
	return books, nil
}
