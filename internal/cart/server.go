package cart

import (
	"context"
	"log/slog"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Carts is what a Server serves: the kernel's [bookshop.Carts], and
// RemoveLines (see [Service.RemoveLines]), which Checkout calls. The
// [Service] is one.
type Carts interface {
	bookshop.Carts
	RemoveLines(ctx context.Context, id string, lines []bookshop.StockLine, key string) (int, error)
	Lines(ctx context.Context, id string) ([]bookshop.CartLine, error)
}

var _ Carts = (*Service)(nil)

// Server serves [Carts] (the [Service]) as bookshop.cart.v1.CartService.
type Server struct {
	cartv1.UnimplementedCartServiceServer
	carts  Carts
	logger *slog.Logger
}

var _ cartv1.CartServiceServer = (*Server)(nil)

// NewServer returns a CartService server over carts, logging internal
// errors to logger.
func NewServer(carts Carts, logger *slog.Logger) *Server {
	return &Server{carts: carts, logger: logger}
}

// GetCart returns a cart, priced, or only its lines with unpriced, which
// needs no Catalog. Errors: INVALID_ARGUMENT, UNAVAILABLE (the Catalog,
// when pricing).
func (s *Server) GetCart(ctx context.Context, req *cartv1.GetCartRequest) (*cartv1.GetCartResponse, error) {
	if req.GetUnpriced() {
		lines, err := s.carts.Lines(ctx, req.GetCartId())
		if err != nil {
			return nil, rpc.ToStatus(ctx, s.logger, cartv1.CartService_GetCart_FullMethodName, err)
		}
		c := bookshop.Cart{ID: req.GetCartId(), Lines: lines}
		for _, l := range lines {
			c.Count += l.Quantity
		}
		return &cartv1.GetCartResponse{Cart: cartclient.CartToProto(c)}, nil
	}
	c, err := s.carts.Cart(ctx, req.GetCartId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, cartv1.CartService_GetCart_FullMethodName, err)
	}
	return &cartv1.GetCartResponse{Cart: cartclient.CartToProto(c)}, nil
}

// CountItems returns how many copies a cart holds, without the Catalog.
// Errors: INVALID_ARGUMENT.
func (s *Server) CountItems(ctx context.Context, req *cartv1.CountItemsRequest) (*cartv1.CountItemsResponse, error) {
	n, err := s.carts.Count(ctx, req.GetCartId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, cartv1.CartService_CountItems_FullMethodName, err)
	}
	return &cartv1.CountItemsResponse{Count: int32(n)}, nil
}

// AddItem adds copies of a book, at most once for an idempotency key.
// Errors: INVALID_ARGUMENT, NOT_FOUND (the book), FAILED_PRECONDITION (a
// limit, or a key used for another addition), UNAVAILABLE (the Catalog).
func (s *Server) AddItem(ctx context.Context, req *cartv1.AddItemRequest) (*cartv1.AddItemResponse, error) {
	c, err := s.carts.Add(ctx, req.GetCartId(), req.GetBookId(), int(req.GetQuantity()), req.GetIdempotencyKey())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, cartv1.CartService_AddItem_FullMethodName, err)
	}
	return &cartv1.AddItemResponse{Cart: cartclient.CartToProto(c)}, nil
}

// SetQuantity sets how many copies of a book a cart holds; 0 removes the
// line. Errors: INVALID_ARGUMENT, NOT_FOUND (no such line), UNAVAILABLE
// (the Catalog).
func (s *Server) SetQuantity(ctx context.Context, req *cartv1.SetQuantityRequest) (*cartv1.SetQuantityResponse, error) {
	c, err := s.carts.SetQuantity(ctx, req.GetCartId(), req.GetBookId(), int(req.GetQuantity()))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, cartv1.CartService_SetQuantity_FullMethodName, err)
	}
	return &cartv1.SetQuantityResponse{Cart: cartclient.CartToProto(c)}, nil
}

// MergeCarts moves one cart's lines into another. Errors:
// INVALID_ARGUMENT, UNAVAILABLE (the Catalog).
func (s *Server) MergeCarts(ctx context.Context, req *cartv1.MergeCartsRequest) (*cartv1.MergeCartsResponse, error) {
	m, err := s.carts.Merge(ctx, req.GetFromCartId(), req.GetIntoCartId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, cartv1.CartService_MergeCarts_FullMethodName, err)
	}
	return &cartv1.MergeCartsResponse{
		Cart:         cartclient.CartToProto(m.Cart),
		DroppedLines: rpc.Int32(m.DroppedLines),
		CappedLines:  rpc.Int32(m.CappedLines),
	}, nil
}

// RemoveLines takes copies of books out of a cart, at most once for its
// idempotency key, and answers how many copies are left. Errors:
// INVALID_ARGUMENT, FAILED_PRECONDITION (a key used for other lines).
func (s *Server) RemoveLines(ctx context.Context, req *cartv1.RemoveLinesRequest) (*cartv1.RemoveLinesResponse, error) {
	n, err := s.carts.RemoveLines(ctx, req.GetCartId(), cartclient.RemovalsFromProto(req.GetLines()), req.GetIdempotencyKey())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, cartv1.CartService_RemoveLines_FullMethodName, err)
	}
	return &cartv1.RemoveLinesResponse{Count: int32(n)}, nil
}
