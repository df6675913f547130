package ordersclient

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The states of an order, as bookshop.Order.State holds them.
const (
	// StatePlaced is an order recorded: paid, its stock taken.
	StatePlaced = "placed"
	// StateCancelled is an order undone: its charge refunded, its stock
	// given back.
	StateCancelled = "cancelled"
)

// stateToProto and stateFromProto convert an order's state; an unknown
// one becomes ORDER_STATE_UNSPECIFIED, and back "".
var (
	stateToProto = map[string]ordersv1.OrderState{
		StatePlaced:    ordersv1.OrderState_ORDER_STATE_PLACED,
		StateCancelled: ordersv1.OrderState_ORDER_STATE_CANCELLED,
	}
	stateFromProto = map[ordersv1.OrderState]string{
		ordersv1.OrderState_ORDER_STATE_PLACED:    StatePlaced,
		ordersv1.OrderState_ORDER_STATE_CANCELLED: StateCancelled,
	}
)

// OrderToProto converts an order to its message. Amounts convert with
// catalogclient's MoneyToProto, as every contract's do: the zero Money
// (none) becomes an unset field. Zero times become unset fields.
func OrderToProto(o bookshop.Order) *ordersv1.Order {
	m := &ordersv1.Order{
		Id:              o.ID,
		CustomerId:      o.CustomerID,
		Lines:           make([]*ordersv1.OrderLine, len(o.Lines)),
		Subtotal:        catalogclient.MoneyToProto(o.Subtotal),
		Discount:        catalogclient.MoneyToProto(o.Discount),
		Total:           catalogclient.MoneyToProto(o.Total),
		Promotions:      o.Promotions,
		PaymentId:       o.PaymentID,
		ShippingAddress: AddressToProto(o.Shipping),
		State:           stateToProto[o.State],
		CreateTime:      timeToProto(o.Created),
		UpdateTime:      timeToProto(o.Updated),
	}
	for i, l := range o.Lines {
		m.Lines[i] = &ordersv1.OrderLine{
			BookId:    l.BookID,
			Title:     l.Title,
			UnitPrice: catalogclient.MoneyToProto(l.UnitPrice),
			Quantity:  rpc.Int32(l.Quantity),
			LineTotal: catalogclient.MoneyToProto(l.Total),
		}
	}
	return m
}

// OrderFromProto converts a message to an order. It checks nothing: the
// receiver's rules do. An unset amount becomes the zero Money, an unset
// time the zero time, an unknown state "".
func OrderFromProto(m *ordersv1.Order) bookshop.Order {
	o := bookshop.Order{
		ID:         m.GetId(),
		CustomerID: m.GetCustomerId(),
		Lines:      make([]bookshop.OrderLine, len(m.GetLines())),
		Subtotal:   catalogclient.MoneyFromProto(m.GetSubtotal()),
		Discount:   catalogclient.MoneyFromProto(m.GetDiscount()),
		Total:      catalogclient.MoneyFromProto(m.GetTotal()),
		Promotions: m.GetPromotions(),
		PaymentID:  m.GetPaymentId(),
		Shipping:   AddressFromProto(m.GetShippingAddress()),
		State:      stateFromProto[m.GetState()],
		Created:    timeFromProto(m.GetCreateTime()),
		Updated:    timeFromProto(m.GetUpdateTime()),
	}
	for i, l := range m.GetLines() {
		o.Lines[i] = bookshop.OrderLine{
			BookID:    l.GetBookId(),
			Title:     l.GetTitle(),
			UnitPrice: catalogclient.MoneyFromProto(l.GetUnitPrice()),
			Quantity:  int(l.GetQuantity()),
			Total:     catalogclient.MoneyFromProto(l.GetLineTotal()),
		}
	}
	return o
}

// AddressToProto converts a shipping address to its message.
func AddressToProto(a bookshop.Address) *ordersv1.Address {
	return &ordersv1.Address{
		Name:        a.Name,
		Line1:       a.Line1,
		Line2:       a.Line2,
		City:        a.City,
		PostalCode:  a.PostalCode,
		CountryCode: a.Country,
	}
}

// AddressFromProto converts a message to a shipping address; nil becomes
// the zero Address.
func AddressFromProto(m *ordersv1.Address) bookshop.Address {
	return bookshop.Address{
		Name:       m.GetName(),
		Line1:      m.GetLine1(),
		Line2:      m.GetLine2(),
		City:       m.GetCity(),
		PostalCode: m.GetPostalCode(),
		Country:    m.GetCountryCode(),
	}
}

// PageToProto converts a page of orders to the messages of a list's
// response and its next page token.
func PageToProto(p bookshop.OrderPage) ([]*ordersv1.Order, string) {
	out := make([]*ordersv1.Order, len(p.Orders))
	for i, o := range p.Orders {
		out[i] = OrderToProto(o)
	}
	return out, p.Next
}

// pageFromProto converts the orders and token of a list's response.
func pageFromProto(orders []*ordersv1.Order, next string) bookshop.OrderPage {
	p := bookshop.OrderPage{Orders: make([]bookshop.Order, len(orders)), Next: next}
	for i, m := range orders {
		p.Orders[i] = OrderFromProto(m)
	}
	return p
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
