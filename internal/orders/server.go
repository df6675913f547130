package orders

import (
	"context"
	"log/slog"

	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Server serves a [Service] as bookshop.orders.v1.OrdersService. Errors
// become status codes in rpc.ToStatus: a domain error's message goes to
// the caller, any other is logged and answered INTERNAL.
type Server struct {
	ordersv1.UnimplementedOrdersServiceServer
	orders *Service
	logger *slog.Logger
}

var _ ordersv1.OrdersServiceServer = (*Server)(nil)

// NewServer returns an OrdersService server over orders, logging internal
// errors to logger.
func NewServer(orders *Service, logger *slog.Logger) *Server {
	return &Server{orders: orders, logger: logger}
}

// CreateOrder records an order, at most once for an idempotency key.
// Errors: INVALID_ARGUMENT, FAILED_PRECONDITION (a key used for another
// order).
func (s *Server) CreateOrder(ctx context.Context, req *ordersv1.CreateOrderRequest) (*ordersv1.CreateOrderResponse, error) {
	o, err := s.orders.Create(ctx, req.GetIdempotencyKey(), ordersclient.OrderFromProto(req.GetOrder()))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, ordersv1.OrdersService_CreateOrder_FullMethodName, err)
	}
	return &ordersv1.CreateOrderResponse{Order: ordersclient.OrderToProto(o)}, nil
}

// GetOrder returns a customer's order. Errors: INVALID_ARGUMENT,
// NOT_FOUND (unknown, or another customer's).
func (s *Server) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.GetOrderResponse, error) {
	o, err := s.orders.Order(ctx, req.GetCustomerId(), req.GetOrderId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, ordersv1.OrdersService_GetOrder_FullMethodName, err)
	}
	return &ordersv1.GetOrderResponse{Order: ordersclient.OrderToProto(o)}, nil
}

// ListOrders returns a page of a customer's orders, newest first. Errors:
// INVALID_ARGUMENT.
func (s *Server) ListOrders(ctx context.Context, req *ordersv1.ListOrdersRequest) (*ordersv1.ListOrdersResponse, error) {
	p, err := s.orders.List(ctx, req.GetCustomerId(), req.GetPageToken(), int(req.GetPageSize()))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, ordersv1.OrdersService_ListOrders_FullMethodName, err)
	}
	orders, next := ordersclient.PageToProto(p)
	return &ordersv1.ListOrdersResponse{Orders: orders, NextPageToken: next}, nil
}

// ListAllOrders returns a page of every customer's orders, newest first.
// Errors: INVALID_ARGUMENT.
func (s *Server) ListAllOrders(ctx context.Context, req *ordersv1.ListAllOrdersRequest) (*ordersv1.ListAllOrdersResponse, error) {
	p, err := s.orders.ListAll(ctx, req.GetPageToken(), int(req.GetPageSize()))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, ordersv1.OrdersService_ListAllOrders_FullMethodName, err)
	}
	orders, next := ordersclient.PageToProto(p)
	return &ordersv1.ListAllOrdersResponse{Orders: orders, NextPageToken: next}, nil
}

// CancelOrder cancels an order. Errors: INVALID_ARGUMENT, NOT_FOUND.
func (s *Server) CancelOrder(ctx context.Context, req *ordersv1.CancelOrderRequest) (*ordersv1.CancelOrderResponse, error) {
	o, err := s.orders.Cancel(ctx, req.GetOrderId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, ordersv1.OrdersService_CancelOrder_FullMethodName, err)
	}
	return &ordersv1.CancelOrderResponse{Order: ordersclient.OrderToProto(o)}, nil
}
