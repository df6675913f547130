package checkout

import (
	"context"
	"log/slog"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Server serves a [bookshop.Checkout] (the [Service]) as
// bookshop.checkout.v1.CheckoutService.
type Server struct {
	checkoutv1.UnimplementedCheckoutServiceServer
	checkout bookshop.Checkout
	logger   *slog.Logger
}

var _ checkoutv1.CheckoutServiceServer = (*Server)(nil)

// NewServer returns a CheckoutService server over checkout, logging
// internal errors to logger.
func NewServer(checkout bookshop.Checkout, logger *slog.Logger) *Server {
	return &Server{checkout: checkout, logger: logger}
}

// GetQuote prices a customer's cart for the checkout page. Errors:
// INVALID_ARGUMENT, UNAVAILABLE (the Cart, the Catalog or the Inventory).
func (s *Server) GetQuote(ctx context.Context, req *checkoutv1.GetQuoteRequest) (*checkoutv1.GetQuoteResponse, error) {
	q, err := s.checkout.Quote(ctx, req.GetCustomerId(), req.GetCartId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, checkoutv1.CheckoutService_GetQuote_FullMethodName, err)
	}
	return &checkoutv1.GetQuoteResponse{Quote: checkoutclient.QuoteToProto(q)}, nil
}

// PlaceOrder places the order of a customer's cart, once for its
// idempotency key. Errors: INVALID_ARGUMENT (a field, named),
// FAILED_PRECONDITION (the total changed, sold out, declined, an empty
// cart, a key reused), UNAVAILABLE (not placed, or not known yet),
// INTERNAL.
func (s *Server) PlaceOrder(ctx context.Context, req *checkoutv1.PlaceOrderRequest) (*checkoutv1.PlaceOrderResponse, error) {
	order, err := s.checkout.Place(ctx, checkoutclient.PlaceOrderFromProto(req))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, checkoutv1.CheckoutService_PlaceOrder_FullMethodName, err)
	}
	return &checkoutv1.PlaceOrderResponse{Order: checkoutclient.OrderToProto(order)}, nil
}
