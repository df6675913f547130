// Command promotions runs the Promotions gRPC service alone, on port 50130
// unless told otherwise, with the customers' uses of the promotion in
// promotions.db: see `promotions -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop promotions` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/promotions"
)

func main() { launch.Main("promotions", launch.Alone("promotions", promotions.Command())) }
