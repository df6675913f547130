package bookshop_test

import (
	"errors"
	"fmt"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// A book's rules live on the type: every adapter calls Validate.
func ExampleBook_Validate() {
	b := bookshop.Book{ID: 1, Title: "The Maltese Falcon", Author: "", Year: 1930, Category: bookshop.Mystery}
	err := b.Validate()
	var fe *bookshop.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field, "-", fe.Message)
	}
	// Output: author - must not be empty
}

// Errors that are safe to show carry a code, which each transport maps to
// its status once; any other error is Internal, its text kept for the log.
func ExampleErrorCode() {
	err := fmt.Errorf("load book: %w", bookshop.Errorf(bookshop.NotFound, "no book has id %d", 7))
	fmt.Println(bookshop.ErrorCode(err), "-", bookshop.ErrorMessage(err))
	fmt.Println(bookshop.ErrorCode(errors.New("disk on fire")), "-", bookshop.ErrorMessage(errors.New("disk on fire")))
	// Output:
	// not_found - no book has id 7
	// internal - internal error
}

// Money is integer minor units and a currency, never a float.
func ExampleParseMoney() {
	price, _ := bookshop.ParseMoney("12.99", "EUR")
	total, _ := price.Mul(3)
	fmt.Println(price.Units, total, total.Format())
	// Output: 1299 38.97 EUR €38.97
}
