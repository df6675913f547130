package promotions

import (
	"context"
	"log/slog"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// Server serves the [Service] as bookshop.promotions.v1.PromotionsService.
type Server struct {
	promotionsv1.UnimplementedPromotionsServiceServer
	svc    *Service
	logger *slog.Logger
}

var _ promotionsv1.PromotionsServiceServer = (*Server)(nil)

// NewServer returns a PromotionsService server over svc, logging internal
// errors to logger.
func NewServer(svc *Service, logger *slog.Logger) *Server {
	return &Server{svc: svc, logger: logger}
}

// GetOffer returns the offer as a shopper sees it now. Errors:
// INVALID_ARGUMENT.
func (s *Server) GetOffer(ctx context.Context, req *promotionsv1.GetOfferRequest) (*promotionsv1.GetOfferResponse, error) {
	o, err := s.svc.Offer(ctx, req.GetCustomerId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, promotionsv1.PromotionsService_GetOffer_FullMethodName, err)
	}
	return &promotionsv1.GetOfferResponse{Offer: promotionsclient.OfferToProto(o)}, nil
}

// PriceCart returns the discount a cart would get now, if any. Errors:
// INVALID_ARGUMENT.
func (s *Server) PriceCart(ctx context.Context, req *promotionsv1.PriceCartRequest) (*promotionsv1.PriceCartResponse, error) {
	d, ok, err := s.svc.Price(ctx, req.GetCustomerId(), promotionsclient.LinesFromProto(req.GetLines()))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, promotionsv1.PromotionsService_PriceCart_FullMethodName, err)
	}
	return &promotionsv1.PriceCartResponse{Discount: discountIf(d, ok)}, nil
}

// Claim takes a customer's use of the promotion for a checkout, when it
// can, and says why not when it cannot. Errors: INVALID_ARGUMENT.
func (s *Server) Claim(ctx context.Context, req *promotionsv1.ClaimRequest) (*promotionsv1.ClaimResponse, error) {
	d, outcome, err := s.svc.Claim(ctx, req.GetCustomerId(), req.GetIdempotencyKey(), promotionsclient.LinesFromProto(req.GetLines()))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, promotionsv1.PromotionsService_Claim_FullMethodName, err)
	}
	return promotionsclient.ClaimToProto(d, outcome), nil
}

// Confirm records that a claim's order was placed. Errors:
// INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION.
func (s *Server) Confirm(ctx context.Context, req *promotionsv1.ConfirmRequest) (*promotionsv1.ConfirmResponse, error) {
	c, err := s.svc.ConfirmClaim(ctx, req.GetCustomerId(), req.GetIdempotencyKey())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, promotionsv1.PromotionsService_Confirm_FullMethodName, err)
	}
	return &promotionsv1.ConfirmResponse{Discount: promotionsclient.DiscountToProto(c.Discount)}, nil
}

// Release gives back the use a claim holds, or spent if confirmed.
// Errors: INVALID_ARGUMENT.
func (s *Server) Release(ctx context.Context, req *promotionsv1.ReleaseRequest) (*promotionsv1.ReleaseResponse, error) {
	if err := s.svc.Release(ctx, req.GetCustomerId(), req.GetIdempotencyKey()); err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, promotionsv1.PromotionsService_Release_FullMethodName, err)
	}
	return &promotionsv1.ReleaseResponse{}, nil
}

// discountIf is d's message when ok, nil otherwise.
func discountIf(d bookshop.Discount, ok bool) *promotionsv1.Discount {
	if !ok {
		return nil
	}
	return promotionsclient.DiscountToProto(d)
}
