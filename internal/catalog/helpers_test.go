package catalog_test

import (
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// The helpers of every test here: a context that ends with the test, and
// a plaintext connection closed with it.
var (
	testContext = rpctest.Context
	dial        = rpctest.Dial
)

// testPrice is the price of the books the tests import: 9.99 in the
// shop's default currency.
var testPrice = bookshop.Money{Units: 999, Currency: bookshop.DefaultCurrency}
