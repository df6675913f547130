// Command orders runs the Orders gRPC service alone, the shop's
// transaction database, on port 50110 unless told otherwise: see
// `orders -h`.
//
// The binary links no other service's server: this service, the
// platform, and the clients of the services it calls (rule 7 of
// internal/architecture). `bookshop orders` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Run(orders.Command()) }
