// Command orders runs the Orders gRPC service alone, the shop's
// transaction database, on port 50110 unless told otherwise: see
// `orders -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop orders` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Main("orders", launch.Alone("orders", orders.Command())) }
