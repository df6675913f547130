package payments

import (
	"context"
	"log/slog"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Server serves a [Service] as bookshop.payments.v1.PaymentsService.
type Server struct {
	paymentsv1.UnimplementedPaymentsServiceServer
	svc    *Service
	logger *slog.Logger
}

var _ paymentsv1.PaymentsServiceServer = (*Server)(nil)

// NewServer returns a PaymentsService server over svc, logging internal
// errors to logger.
func NewServer(svc *Service, logger *slog.Logger) *Server {
	return &Server{svc: svc, logger: logger}
}

// Charge takes an amount from a card, once for each idempotency key.
// Errors: INVALID_ARGUMENT (the message names the fields), FAILED_PRECONDITION
// (declined; a key used for another charge, or cancelled), UNAVAILABLE (the
// processor).
func (s *Server) Charge(ctx context.Context, req *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error) {
	c, err := s.svc.Charge(ctx, req.GetIdempotencyKey(), catalogclient.MoneyFromProto(req.GetAmount()), paymentsclient.CardFromProto(req.GetCard()))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, paymentsv1.PaymentsService_Charge_FullMethodName, err)
	}
	return &paymentsv1.ChargeResponse{Charge: paymentsclient.ChargeToProto(c)}, nil
}

// Refund gives a charge back, named by its id or its key; a key that made
// no charge is cancelled. Errors: INVALID_ARGUMENT, NOT_FOUND.
func (s *Server) Refund(ctx context.Context, req *paymentsv1.RefundRequest) (*paymentsv1.RefundResponse, error) {
	c, err := s.byIDOrKey(ctx, req.GetChargeId(), req.GetIdempotencyKey(), s.svc.Refund, s.svc.RefundKey)
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, paymentsv1.PaymentsService_Refund_FullMethodName, err)
	}
	return &paymentsv1.RefundResponse{Charge: c}, nil
}

// GetCharge returns a charge, named by its id or its key. Errors:
// INVALID_ARGUMENT, NOT_FOUND.
func (s *Server) GetCharge(ctx context.Context, req *paymentsv1.GetChargeRequest) (*paymentsv1.GetChargeResponse, error) {
	c, err := s.byIDOrKey(ctx, req.GetChargeId(), req.GetIdempotencyKey(), s.svc.ChargeByID, s.svc.ChargeByKey)
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, paymentsv1.PaymentsService_GetCharge_FullMethodName, err)
	}
	return &paymentsv1.GetChargeResponse{Charge: c}, nil
}

// byIDOrKey calls byID with id when it is set, and byKey with key
// otherwise, and converts the charge.
func (s *Server) byIDOrKey(ctx context.Context, id, key string, byID, byKey func(context.Context, string) (bookshop.Charge, error)) (*paymentsv1.Charge, error) {
	var (
		c   bookshop.Charge
		err error
	)
	if id != "" {
		c, err = byID(ctx, id)
	} else {
		c, err = byKey(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	return paymentsclient.ChargeToProto(c), nil
}
