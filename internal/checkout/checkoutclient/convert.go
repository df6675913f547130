package checkoutclient

import (
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// QuoteToProto converts a quote to its message. Amounts convert with
// catalogclient's MoneyToProto, as every contract's do: the zero Money
// (none) becomes an unset field.
func QuoteToProto(q bookshop.Quote) *checkoutv1.Quote {
	m := &checkoutv1.Quote{
		Lines:         LinesToProto(q.Lines),
		Subtotal:      catalogclient.MoneyToProto(q.Subtotal),
		Discount:      catalogclient.MoneyToProto(q.Discount),
		Total:         catalogclient.MoneyToProto(q.Total),
		ShortLines:    make([]*checkoutv1.ShortLine, len(q.Short)),
		FreeBookId:    q.FreeBookID,
		Promotions:    q.Promotions,
		DiscountLabel: q.DiscountLabel,
		LinesDigest:   q.LinesDigest,
	}
	for i, s := range q.Short {
		m.ShortLines[i] = &checkoutv1.ShortLine{BookId: s.BookID, Available: rpc.Int32(s.Available)}
	}
	return m
}

// QuoteFromProto converts a message to a quote; an unset amount becomes
// the zero Money.
func QuoteFromProto(m *checkoutv1.Quote) bookshop.Quote {
	q := bookshop.Quote{
		Lines:         LinesFromProto(m.GetLines()),
		Subtotal:      catalogclient.MoneyFromProto(m.GetSubtotal()),
		Discount:      catalogclient.MoneyFromProto(m.GetDiscount()),
		Total:         catalogclient.MoneyFromProto(m.GetTotal()),
		FreeBookID:    m.GetFreeBookId(),
		Promotions:    m.GetPromotions(),
		DiscountLabel: m.GetDiscountLabel(),
		LinesDigest:   m.GetLinesDigest(),
	}
	for _, s := range m.GetShortLines() {
		q.Short = append(q.Short, bookshop.SoldOut{BookID: s.GetBookId(), Available: int(s.GetAvailable())})
	}
	return q
}

// LinesToProto converts the lines of a quote or an order to their
// messages.
func LinesToProto(lines []bookshop.OrderLine) []*ordersv1.OrderLine {
	m := make([]*ordersv1.OrderLine, len(lines))
	for i, l := range lines {
		m[i] = &ordersv1.OrderLine{
			BookId:    l.BookID,
			Title:     l.Title,
			UnitPrice: catalogclient.MoneyToProto(l.UnitPrice),
			Quantity:  rpc.Int32(l.Quantity),
			LineTotal: catalogclient.MoneyToProto(l.Total),
		}
	}
	return m
}

// LinesFromProto converts the messages of the lines of a quote or an
// order.
func LinesFromProto(m []*ordersv1.OrderLine) []bookshop.OrderLine {
	lines := make([]bookshop.OrderLine, len(m))
	for i, l := range m {
		lines[i] = bookshop.OrderLine{
			BookID:    l.GetBookId(),
			Title:     l.GetTitle(),
			UnitPrice: catalogclient.MoneyFromProto(l.GetUnitPrice()),
			Quantity:  int(l.GetQuantity()),
			Total:     catalogclient.MoneyFromProto(l.GetLineTotal()),
		}
	}
	return lines
}

// PlaceOrderToProto converts what a shopper confirms to its request; the
// card goes as Payments' Card message.
func PlaceOrderToProto(p bookshop.PlaceOrder) *checkoutv1.PlaceOrderRequest {
	return &checkoutv1.PlaceOrderRequest{
		IdempotencyKey:  p.Key,
		CustomerId:      p.CustomerID,
		CartId:          p.CartID,
		Total:           catalogclient.MoneyToProto(p.Total),
		ShippingAddress: ordersclient.AddressToProto(p.Shipping),
		Card:            paymentsclient.CardToProto(p.Card),
		LinesDigest:     p.LinesDigest,
	}
}

// PlaceOrderFromProto converts a request to what the shopper confirmed.
func PlaceOrderFromProto(m *checkoutv1.PlaceOrderRequest) bookshop.PlaceOrder {
	return bookshop.PlaceOrder{
		Key:         m.GetIdempotencyKey(),
		CustomerID:  m.GetCustomerId(),
		CartID:      m.GetCartId(),
		Total:       catalogclient.MoneyFromProto(m.GetTotal()),
		Shipping:    ordersclient.AddressFromProto(m.GetShippingAddress()),
		Card:        paymentsclient.CardFromProto(m.GetCard()),
		LinesDigest: m.GetLinesDigest(),
	}
}

// OrderToProto converts an order to Orders' message of it, which
// PlaceOrder answers with (see ordersclient.OrderToProto).
func OrderToProto(o bookshop.Order) *ordersv1.Order { return ordersclient.OrderToProto(o) }

// OrderFromProto converts Orders' message of an order (see
// ordersclient.OrderFromProto).
func OrderFromProto(m *ordersv1.Order) bookshop.Order { return ordersclient.OrderFromProto(m) }
