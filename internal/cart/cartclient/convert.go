package cartclient

import (
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// CartToProto converts a priced cart to its message. A line is available
// when its book has a price (see Available). Amounts convert as every
// contract's do, with catalogclient's MoneyToProto: the zero Money (none)
// becomes an unset field.
func CartToProto(c bookshop.Cart) *cartv1.Cart {
	m := &cartv1.Cart{
		Id:       c.ID,
		Lines:    make([]*cartv1.CartLine, len(c.Lines)),
		Count:    int32(c.Count),
		Subtotal: catalogclient.MoneyToProto(c.Subtotal),
	}
	for i, l := range c.Lines {
		m.Lines[i] = &cartv1.CartLine{
			BookId:    l.Book.ID,
			Title:     l.Book.Title,
			Author:    l.Book.Author,
			UnitPrice: catalogclient.MoneyToProto(l.Book.Price),
			Quantity:  int32(l.Quantity),
			LineTotal: catalogclient.MoneyToProto(l.Total),
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
		Subtotal: catalogclient.MoneyFromProto(m.GetSubtotal()),
	}
	for i, l := range m.GetLines() {
		line := bookshop.CartLine{Book: bookshop.Book{ID: l.GetBookId()}, Quantity: int(l.GetQuantity())}
		if l.GetAvailable() {
			line.Book.Title, line.Book.Author = l.GetTitle(), l.GetAuthor()
			line.Book.Price = catalogclient.MoneyFromProto(l.GetUnitPrice())
			line.Total = catalogclient.MoneyFromProto(l.GetLineTotal())
		}
		c.Lines[i] = line
	}
	return c
}

// RemovalsToProto converts the lines of a removal (RemoveLines) to their
// messages.
func RemovalsToProto(lines []bookshop.StockLine) []*cartv1.LineRemoval {
	m := make([]*cartv1.LineRemoval, len(lines))
	for i, l := range lines {
		m[i] = &cartv1.LineRemoval{BookId: l.BookID, Quantity: rpc.Int32(l.Quantity)}
	}
	return m
}

// RemovalsFromProto converts the messages of a removal's lines.
func RemovalsFromProto(m []*cartv1.LineRemoval) []bookshop.StockLine {
	lines := make([]bookshop.StockLine, len(m))
	for i, l := range m {
		lines[i] = bookshop.StockLine{BookID: l.GetBookId(), Quantity: int(l.GetQuantity())}
	}
	return lines
}
