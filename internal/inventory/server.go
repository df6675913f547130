package inventory

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Server serves the [Service] as bookshop.inventory.v1.InventoryService.
type Server struct {
	inventoryv1.UnimplementedInventoryServiceServer
	svc    *Service
	logger *slog.Logger
}

var _ inventoryv1.InventoryServiceServer = (*Server)(nil)

// NewServer returns an InventoryService server over svc, logging internal
// errors to logger.
func NewServer(svc *Service, logger *slog.Logger) *Server {
	return &Server{svc: svc, logger: logger}
}

// GetStock returns the stock of up to 100 books. Errors: INVALID_ARGUMENT.
func (s *Server) GetStock(ctx context.Context, req *inventoryv1.GetStockRequest) (*inventoryv1.GetStockResponse, error) {
	levels, err := s.svc.Levels(ctx, req.GetBookIds())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, inventoryv1.InventoryService_GetStock_FullMethodName, err)
	}
	resp := &inventoryv1.GetStockResponse{Stock: make([]*inventoryv1.BookStock, len(levels))}
	for i, l := range levels {
		resp.Stock[i] = inventoryclient.LevelToProto(l)
	}
	return resp, nil
}

// Reserve holds copies for a checkout, at most once for an idempotency
// key. Errors: INVALID_ARGUMENT; FAILED_PRECONDITION, with a
// PreconditionFailure detail, for too few copies; FAILED_PRECONDITION for
// a key that made a reservation of other lines.
func (s *Server) Reserve(ctx context.Context, req *inventoryv1.ReserveRequest) (*inventoryv1.ReserveResponse, error) {
	ttl, err := ttlOf(req.GetTtl())
	if err == nil {
		var r bookshop.Reservation
		r, err = s.svc.Reserve(ctx, req.GetIdempotencyKey(), inventoryclient.LinesFromProto(req.GetLines()), ttl)
		if err == nil {
			return &inventoryv1.ReserveResponse{Reservation: inventoryclient.ReservationToProto(r)}, nil
		}
	}
	if soldOut, ok := errors.AsType[*inventoryclient.SoldOutError](err); ok {
		return nil, soldOut.Status().Err()
	}
	return nil, rpc.ToStatus(ctx, s.logger, inventoryv1.InventoryService_Reserve_FullMethodName, err)
}

// Commit takes a reservation's copies off the stock for good. Errors:
// INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION (released or expired).
func (s *Server) Commit(ctx context.Context, req *inventoryv1.CommitRequest) (*inventoryv1.CommitResponse, error) {
	r, err := s.svc.Commit(ctx, req.GetReservationId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, inventoryv1.InventoryService_Commit_FullMethodName, err)
	}
	return &inventoryv1.CommitResponse{Reservation: inventoryclient.ReservationToProto(r)}, nil
}

// Release gives a reservation's copies back. Errors: INVALID_ARGUMENT,
// NOT_FOUND, FAILED_PRECONDITION (committed).
func (s *Server) Release(ctx context.Context, req *inventoryv1.ReleaseRequest) (*inventoryv1.ReleaseResponse, error) {
	r, err := s.svc.Release(ctx, req.GetReservationId())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, inventoryv1.InventoryService_Release_FullMethodName, err)
	}
	return &inventoryv1.ReleaseResponse{Reservation: inventoryclient.ReservationToProto(r)}, nil
}

// SetStock sets the copies on hand of a book. Errors: INVALID_ARGUMENT,
// FAILED_PRECONDITION (fewer than its reservations hold).
func (s *Server) SetStock(ctx context.Context, req *inventoryv1.SetStockRequest) (*inventoryv1.SetStockResponse, error) {
	l, err := s.svc.SetStockLevel(ctx, req.GetBookId(), int(req.GetOnHand()))
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, inventoryv1.InventoryService_SetStock_FullMethodName, err)
	}
	return &inventoryv1.SetStockResponse{Stock: inventoryclient.LevelToProto(l)}, nil
}

// ttlOf returns the duration of a request's ttl: 0 when unset. Errors:
// Invalid for a malformed one, or one out of range (see CheckTTL).
func ttlOf(d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, bookshop.Errorf(bookshop.Invalid, "ttl: not a valid duration")
	}
	ttl := d.AsDuration()
	return ttl, CheckTTL(ttl)
}
