package recommendations_test

import "github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"

// The helpers of every test here: a context that ends with the test, and
// a plaintext connection closed with it.
var (
	testContext = rpctest.Context
	dial        = rpctest.Dial
)
