package catalogclient

import (
	"github.com/bookshop-go/bookshop/internal/bookshop"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
)

// BookToProto converts a domain book to its message.
func BookToProto(b bookshop.Book) *catalogv1.Book {
	return &catalogv1.Book{
		Id:       b.ID,
		Title:    b.Title,
		Author:   b.Author,
		Year:     int32(b.Year),
		Category: CategoryToProto(b.Category),
		Price:    MoneyToProto(b.Price),
	}
}

// BookFromProto converts a message to a domain book. A missing or unknown
// category becomes an invalid Category, which validation refuses.
func BookFromProto(b *catalogv1.Book) bookshop.Book {
	c, ok := CategoryFromProto(b.GetCategory())
	if !ok {
		c = invalidCategory
	}
	return bookshop.Book{
		ID:       b.GetId(),
		Title:    b.GetTitle(),
		Author:   b.GetAuthor(),
		Year:     int(b.GetYear()),
		Category: c,
		Price:    MoneyFromProto(b.GetPrice()),
	}
}

// MoneyToProto converts an amount to its message; the zero Money (no
// amount) becomes nil, an unset field. Every contract carries money as
// bookshop.money.v1.Money, so clients of other services that carry books
// or amounts convert with it too.
func MoneyToProto(m bookshop.Money) *moneyv1.Money {
	if m == (bookshop.Money{}) {
		return nil
	}
	return &moneyv1.Money{Units: m.Units, Currency: m.Currency}
}

// MoneyFromProto converts a message to an amount; nil becomes the zero
// Money. It checks nothing: the receiver's rules do (Book.Validate).
func MoneyFromProto(m *moneyv1.Money) bookshop.Money {
	return bookshop.Money{Units: m.GetUnits(), Currency: m.GetCurrency()}
}

// invalidCategory stands for a missing or unknown category of a message.
const invalidCategory bookshop.Category = -100

// CategoryToProto converts a domain category; an unknown one becomes
// CATEGORY_UNSPECIFIED. The catalog.v1 enum reserves 0 for "unspecified",
// so its numbers are the domain's plus one.
func CategoryToProto(c bookshop.Category) catalogv1.Category {
	if !c.Valid() {
		return catalogv1.Category_CATEGORY_UNSPECIFIED
	}
	return catalogv1.Category(c + 1)
}

// CategoryFromProto converts a message's category; ok is false for
// CATEGORY_UNSPECIFIED or a number the domain does not know.
func CategoryFromProto(c catalogv1.Category) (bookshop.Category, bool) {
	d := bookshop.Category(c - 1)
	return d, c != catalogv1.Category_CATEGORY_UNSPECIFIED && d.Valid()
}
