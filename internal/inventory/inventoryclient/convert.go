package inventoryclient

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The states of a reservation, as bookshop.Reservation.State names them.
const (
	Held      = "held"
	Committed = "committed"
	Released  = "released"
	Expired   = "expired"
)

// stateToProto and stateFromProto map the states to the contract's enum.
var (
	stateToProto = map[string]inventoryv1.ReservationState{
		Held:      inventoryv1.ReservationState_RESERVATION_STATE_HELD,
		Committed: inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED,
		Released:  inventoryv1.ReservationState_RESERVATION_STATE_RELEASED,
		Expired:   inventoryv1.ReservationState_RESERVATION_STATE_EXPIRED,
	}
	stateFromProto = map[inventoryv1.ReservationState]string{
		inventoryv1.ReservationState_RESERVATION_STATE_HELD:      Held,
		inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED: Committed,
		inventoryv1.ReservationState_RESERVATION_STATE_RELEASED:  Released,
		inventoryv1.ReservationState_RESERVATION_STATE_EXPIRED:   Expired,
	}
)

// LinesToProto converts the lines of a reservation to their messages.
func LinesToProto(lines []bookshop.StockLine) []*inventoryv1.StockLine {
	m := make([]*inventoryv1.StockLine, len(lines))
	for i, l := range lines {
		m[i] = &inventoryv1.StockLine{BookId: l.BookID, Quantity: rpc.Int32(l.Quantity)}
	}
	return m
}

// LinesFromProto converts messages to the lines of a reservation.
func LinesFromProto(m []*inventoryv1.StockLine) []bookshop.StockLine {
	lines := make([]bookshop.StockLine, len(m))
	for i, l := range m {
		lines[i] = bookshop.StockLine{BookID: l.GetBookId(), Quantity: int(l.GetQuantity())}
	}
	return lines
}

// ReservationToProto converts a reservation to its message.
func ReservationToProto(r bookshop.Reservation) *inventoryv1.Reservation {
	return &inventoryv1.Reservation{
		Id:         r.ID,
		Lines:      LinesToProto(r.Lines),
		State:      stateToProto[r.State],
		ExpireTime: timestamppb.New(r.Expires),
	}
}

// ReservationFromProto converts a message to a reservation, its times in
// UTC.
func ReservationFromProto(m *inventoryv1.Reservation) bookshop.Reservation {
	r := bookshop.Reservation{
		ID:    m.GetId(),
		Lines: LinesFromProto(m.GetLines()),
		State: stateFromProto[m.GetState()],
	}
	if m.GetExpireTime() != nil {
		r.Expires = m.GetExpireTime().AsTime()
	}
	return r
}

// LevelToProto converts a book's stock to its message.
func LevelToProto(l Level) *inventoryv1.BookStock {
	return &inventoryv1.BookStock{BookId: l.BookID, Available: rpc.Int32(l.Available), OnHand: rpc.Int32(l.OnHand), Held: rpc.Int32(l.Held)}
}

// LevelFromProto converts a message to a book's stock.
func LevelFromProto(m *inventoryv1.BookStock) Level {
	return Level{BookID: m.GetBookId(), Available: int(m.GetAvailable()), OnHand: int(m.GetOnHand()), Held: int(m.GetHeld())}
}
