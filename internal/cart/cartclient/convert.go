package cartclient

import (
	"github.com/bookshop-go/bookshop/internal/bookshop"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
)

// CartToProto converts a priced cart to its message. A line is available
// when its book has a price (see Available).
func CartToProto(c bookshop.Cart) *cartv1.Cart {
	m := &cartv1.Cart{
		Id:       c.ID,
		Lines:    make([]*cartv1.CartLine, len(c.Lines)),
		Count:    int32(c.Count),
		Subtotal: moneyToProto(c.Subtotal),
	}
	for i, l := range c.Lines {
		m.Lines[i] = &cartv1.CartLine{
			BookId:    l.Book.ID,
			Title:     l.Book.Title,
			Author:    l.Book.Author,
			UnitPrice: moneyToProto(l.Book.Price),
			Quantity:  int32(l.Quantity),
			LineTotal: moneyToProto(l.Total),
			Available: Available(l),
		}
	}
	return m
}

// CartFromProto converts a message to a priced cart. The books of the
// lines have the fields the message carries: id, title, author and
// price. An unavailable line's book has only its id.
func CartFromProto(m *cartv1.Cart) bookshop.Cart {
	c := bookshop.Cart{
		ID:       m.GetId(),
		Lines:    make([]bookshop.CartLine, len(m.GetLines())),
		Count:    int(m.GetCount()),
		Subtotal: moneyFromProto(m.GetSubtotal()),
	}
	for i, l := range m.GetLines() {
		line := bookshop.CartLine{Book: bookshop.Book{ID: l.GetBookId()}, Quantity: int(l.GetQuantity())}
		if l.GetAvailable() {
			line.Book.Title, line.Book.Author = l.GetTitle(), l.GetAuthor()
			line.Book.Price = moneyFromProto(l.GetUnitPrice())
			line.Total = moneyFromProto(l.GetLineTotal())
		}
		c.Lines[i] = line
	}
	return c
}

// moneyToProto converts an amount; the zero Money (none) becomes nil, an
// unset field.
func moneyToProto(m bookshop.Money) *moneyv1.Money {
	if m == (bookshop.Money{}) {
		return nil
	}
	return &moneyv1.Money{Units: m.Units, Currency: m.Currency}
}

// moneyFromProto converts a message; nil becomes the zero Money.
func moneyFromProto(m *moneyv1.Money) bookshop.Money {
	return bookshop.Money{Units: m.GetUnits(), Currency: m.GetCurrency()}
}
