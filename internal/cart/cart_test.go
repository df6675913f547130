package cart_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
)

// lines makes the lines of a cart as the Cart keeps them from pairs of
// book id and quantity.
func lines(pairs ...int) []bookshop.CartLine {
	var ls []bookshop.CartLine
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, bookshop.CartLine{Book: bookshop.Book{ID: int32(pairs[i])}, Quantity: pairs[i+1]})
	}
	return ls
}

// full returns a cart of n books, ids 1 to n, one copy each.
func full(n int) []bookshop.CartLine {
	var pairs []int
	for id := 1; id <= n; id++ {
		pairs = append(pairs, id, 1)
	}
	return lines(pairs...)
}

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bookshop.Code
	}{
		{"c-1", ""},
		{"g-AbC_123-xyz", ""},
		{strings.Repeat("a", 64), ""},
		{"", bookshop.Invalid},
		{strings.Repeat("a", 65), bookshop.Invalid},
		{"g-a b", bookshop.Invalid},
		{"g-é", bookshop.Invalid},
		{"g-a/b", bookshop.Invalid},
		{"g-a\x00", bookshop.Invalid},
	} {
		if got := bookshop.ErrorCode(cart.CheckID(tc.id)); got != tc.want {
			t.Errorf("CheckID(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

func TestAdded(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lines    []bookshop.CartLine
		book     int32
		quantity int
		want     []bookshop.CartLine
		code     bookshop.Code
		message  string // a part of the error's message
	}{
		{name: "to an empty cart", book: 7, quantity: 2, want: lines(7, 2)},
		{name: "a new book goes last", lines: lines(3, 1, 1, 4), book: 2, quantity: 1, want: lines(3, 1, 1, 4, 2, 1)},
		{name: "more copies on the book's line", lines: lines(3, 1, 1, 4), book: 1, quantity: 2, want: lines(3, 1, 1, 6)},
		{name: "up to 10 copies", lines: lines(1, 7), book: 1, quantity: 3, want: lines(1, 10)},
		{name: "10 at once", book: 1, quantity: 10, want: lines(1, 10)},
		{name: "past 10 copies", lines: lines(1, 8), book: 1, quantity: 3, code: bookshop.Conflict, message: "at most 10 copies of one book: the cart already holds 8"},
		{name: "11 at once", book: 1, quantity: 11, code: bookshop.Conflict, message: "at most 10 copies of one book"},
		{name: "a huge quantity", lines: lines(1, 1), book: 1, quantity: 1<<63 - 1, code: bookshop.Conflict, message: "at most 10 copies"},
		{name: "the 50th book", lines: full(49), book: 50, quantity: 1, want: append(full(49), lines(50, 1)...)},
		{name: "a 51st book", lines: full(50), book: 51, quantity: 1, code: bookshop.Conflict, message: "a cart holds at most 50 different books"},
		{name: "more of a book in a full cart", lines: full(50), book: 50, quantity: 9, want: append(full(49), lines(50, 10)...)},
		{name: "zero copies", book: 1, quantity: 0, code: bookshop.Invalid, message: "add 1 or more"},
		{name: "negative copies", lines: lines(1, 5), book: 1, quantity: -2, code: bookshop.Invalid},
		{name: "book 0", book: 0, quantity: 1, code: bookshop.Invalid, message: "book id 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.lines)
			got, err := cart.Added(tc.lines, tc.book, tc.quantity)
			if code := bookshop.ErrorCode(err); code != tc.code || !strings.Contains(bookshop.ErrorMessage(err), tc.message) {
				t.Fatalf("Added(%v, %d, %d) error = %v, want code %q with %q", tc.lines, tc.book, tc.quantity, err, tc.code, tc.message)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Added(%v, %d, %d) = %v, want %v", tc.lines, tc.book, tc.quantity, got, tc.want)
			}
			if !slices.Equal(tc.lines, before) {
				t.Errorf("Added changed its argument: %v, was %v", tc.lines, before)
			}
		})
	}
}

func TestWithQuantity(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lines    []bookshop.CartLine
		book     int32
		quantity int
		want     []bookshop.CartLine
		code     bookshop.Code
	}{
		{name: "change", lines: lines(1, 1, 2, 2, 3, 3), book: 2, quantity: 5, want: lines(1, 1, 2, 5, 3, 3)},
		{name: "to 10", lines: lines(1, 1), book: 1, quantity: 10, want: lines(1, 10)},
		{name: "0 removes the line", lines: lines(1, 1, 2, 2, 3, 3), book: 2, quantity: 0, want: lines(1, 1, 3, 3)},
		{name: "the last line", lines: lines(1, 4), book: 1, quantity: 0, want: lines()},
		{name: "11", lines: lines(1, 1), book: 1, quantity: 11, code: bookshop.Invalid},
		{name: "negative", lines: lines(1, 1), book: 1, quantity: -1, code: bookshop.Invalid},
		{name: "a book the cart lacks", lines: lines(1, 1), book: 2, quantity: 1, code: bookshop.NotFound},
		{name: "removing a book the cart lacks", book: 2, quantity: 0, code: bookshop.NotFound},
		{name: "book -1", lines: lines(1, 1), book: -1, quantity: 1, code: bookshop.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.lines)
			got, err := cart.WithQuantity(tc.lines, tc.book, tc.quantity)
			if code := bookshop.ErrorCode(err); code != tc.code {
				t.Fatalf("WithQuantity(%v, %d, %d) error = %v, want code %q", tc.lines, tc.book, tc.quantity, err, tc.code)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("WithQuantity(%v, %d, %d) = %v, want %v", tc.lines, tc.book, tc.quantity, got, tc.want)
			}
			if !slices.Equal(tc.lines, before) {
				t.Errorf("WithQuantity changed its argument: %v, was %v", tc.lines, before)
			}
		})
	}
}

func TestMerged(t *testing.T) {
	// 48 books in the customer's cart, ids 1 to 48; the guest's has book
	// 48 and four others: one fits, the 50th, and the rest are dropped.
	guest := lines(100, 1, 48, 2, 101, 1, 102, 1, 103, 1)
	for _, tc := range []struct {
		name            string
		into, from      []bookshop.CartLine
		want            []bookshop.CartLine
		dropped, capped int
	}{
		{name: "into an empty cart", from: lines(3, 1, 1, 2), want: lines(3, 1, 1, 2)},
		{name: "from an empty cart", into: lines(3, 1), want: lines(3, 1)},
		{name: "both empty"},
		{name: "quantities added", into: lines(1, 2, 2, 1), from: lines(2, 3), want: lines(1, 2, 2, 4)},
		{name: "up to 10, not capped", into: lines(1, 3), from: lines(1, 7), want: lines(1, 10)},
		{name: "capped at 10", into: lines(1, 7, 2, 9), from: lines(1, 7, 2, 2), want: lines(1, 10, 2, 10), capped: 2},
		{name: "new books after into's, in from's order", into: lines(5, 1, 1, 1), from: lines(9, 2, 1, 1, 4, 3), want: lines(5, 1, 1, 2, 9, 2, 4, 3)},
		{name: "lines past 50 dropped", into: full(48), from: guest, want: append(append(full(47), lines(48, 3)...), lines(100, 1, 101, 1)...), dropped: 2},
		{name: "a full cart still adds quantities", into: full(50), from: lines(3, 9, 60, 1), want: slices.Concat(full(2), lines(3, 10), full(50)[3:]), dropped: 1},
		{name: "a full cart, a full guest cart", into: full(50), from: lines(50, 10, 51, 1, 52, 1, 53, 1, 54, 1, 55, 1), want: slices.Concat(full(49), lines(50, 10)), dropped: 5, capped: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			into, from := slices.Clone(tc.into), slices.Clone(tc.from)
			got, dropped, capped := cart.Merged(tc.into, tc.from)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Merged(%v, %v) = %v, want %v", tc.into, tc.from, got, tc.want)
			}
			if dropped != tc.dropped || capped != tc.capped {
				t.Errorf("Merged(%v, %v): %d lines dropped, %d capped; want %d and %d", tc.into, tc.from, dropped, capped, tc.dropped, tc.capped)
			}
			if len(got) > bookshop.MaxCartLines {
				t.Errorf("Merged returned %d lines, more than %d", len(got), bookshop.MaxCartLines)
			}
			if !slices.Equal(tc.into, into) || !slices.Equal(tc.from, from) {
				t.Errorf("Merged changed its arguments")
			}
		})
	}
}

func TestPriced(t *testing.T) {
	eur := func(units int64) bookshop.Money { return bookshop.Money{Units: units, Currency: "EUR"} }
	dune := bookshop.Book{ID: 1, Title: "Dune", Author: "Frank Herbert", Price: eur(1299)}
	emma := bookshop.Book{ID: 2, Title: "Emma", Author: "Jane Austen", Price: eur(450)}
	unpriced := bookshop.Book{ID: 3, Title: "Old", Author: "Someone"}
	books := map[int32]bookshop.Book{1: dune, 2: emma, 3: unpriced}
	for _, tc := range []struct {
		name  string
		lines []bookshop.CartLine
		books map[int32]bookshop.Book
		want  bookshop.Cart
		err   bool
	}{
		{name: "empty", want: bookshop.Cart{ID: "c-1", Lines: []bookshop.CartLine{}}},
		{name: "two lines", lines: lines(1, 2, 2, 3), books: books, want: bookshop.Cart{
			ID: "c-1",
			Lines: []bookshop.CartLine{
				{Book: dune, Quantity: 2, Total: eur(2598)},
				{Book: emma, Quantity: 3, Total: eur(1350)},
			},
			Count:    5,
			Subtotal: eur(3948),
		}},
		{name: "a book the catalog lacks, or does not sell", lines: lines(9, 1, 2, 1, 3, 4), books: books, want: bookshop.Cart{
			ID: "c-1",
			Lines: []bookshop.CartLine{
				{Book: bookshop.Book{ID: 9}, Quantity: 1},
				{Book: emma, Quantity: 1, Total: eur(450)},
				{Book: bookshop.Book{ID: 3}, Quantity: 4},
			},
			Count:    6,
			Subtotal: eur(450),
		}},
		{name: "no line available", lines: lines(9, 2), want: bookshop.Cart{ID: "c-1", Lines: []bookshop.CartLine{{Book: bookshop.Book{ID: 9}, Quantity: 2}}, Count: 2}},
		{name: "two currencies", lines: lines(1, 1, 4, 1), books: map[int32]bookshop.Book{1: dune, 4: {ID: 4, Title: "T", Author: "A", Price: bookshop.Money{Units: 100, Currency: "USD"}}}, err: true},
		{name: "a sum too large", lines: lines(1, 2), books: map[int32]bookshop.Book{1: {ID: 1, Title: "T", Author: "A", Price: eur(1 << 62)}}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cart.Priced("c-1", tc.lines, tc.books)
			if tc.err {
				// The caller did nothing wrong: the error is Internal.
				if code := bookshop.ErrorCode(err); code != bookshop.Internal {
					t.Fatalf("Priced(%v) error = %v (code %q), want an Internal error", tc.lines, err, code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Priced(%v): %v", tc.lines, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Priced(%v) =\n%+v, want\n%+v", tc.lines, got, tc.want)
			}
		})
	}
}

// removal makes the lines of a removal from pairs of book id and
// quantity.
func removal(pairs ...int) []bookshop.StockLine {
	var ls []bookshop.StockLine
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, bookshop.StockLine{BookID: int32(pairs[i]), Quantity: pairs[i+1]})
	}
	return ls
}

func TestRemoved(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lines  []bookshop.CartLine
		remove []bookshop.StockLine
		want   []bookshop.CartLine
	}{
		{name: "every copy bought", lines: lines(1, 2, 2, 1), remove: removal(1, 2, 2, 1), want: lines()},
		{name: "copies added since stay", lines: lines(1, 3, 2, 1), remove: removal(1, 2, 2, 1), want: lines(1, 1)},
		{name: "books added since stay, in order", lines: lines(5, 1, 1, 2, 9, 4), remove: removal(1, 2), want: lines(5, 1, 9, 4)},
		{name: "fewer copies now than bought", lines: lines(1, 1), remove: removal(1, 3), want: lines()},
		{name: "a book no longer in the cart", lines: lines(1, 1), remove: removal(7, 2), want: lines(1, 1)},
		{name: "an empty cart", remove: removal(1, 1), want: lines()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.lines)
			if got := cart.Removed(tc.lines, tc.remove); !slices.Equal(got, tc.want) {
				t.Errorf("Removed(%v, %v) = %v, want %v", tc.lines, tc.remove, got, tc.want)
			}
			if !slices.Equal(tc.lines, before) {
				t.Errorf("Removed changed its argument: %v, was %v", tc.lines, before)
			}
		})
	}
}

func TestCheckRemove(t *testing.T) {
	tooMany := make([]bookshop.StockLine, bookshop.MaxCartLines+1)
	for i := range tooMany {
		tooMany[i] = bookshop.StockLine{BookID: int32(i + 1), Quantity: 1}
	}
	for _, tc := range []struct {
		name  string
		lines []bookshop.StockLine
		want  string // a part of the message; "" for none
	}{
		{"one line", removal(1, 1), ""},
		{"fifty lines", tooMany[:bookshop.MaxCartLines], ""},
		{"ten copies", removal(1, 10), ""},
		{"no lines", nil, "0 lines to remove: want 1 to 50"},
		{"fifty-one lines", tooMany, "51 lines to remove"},
		{"a book twice", removal(1, 1, 2, 1, 1, 2), "book 1 is in the lines to remove twice"},
		{"no copy", removal(1, 0), "quantity 0 of book 1"},
		{"eleven copies", removal(1, 11), "quantity 11 of book 1"},
		{"a book id under 1", removal(0, 1), "book id 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cart.CheckRemove(tc.lines)
			if tc.want == "" {
				if err != nil {
					t.Errorf("CheckRemove = %v, want nil", err)
				}
				return
			}
			if bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tc.want) {
				t.Errorf("CheckRemove = %v, want Invalid with %q", err, tc.want)
			}
		})
	}
}
