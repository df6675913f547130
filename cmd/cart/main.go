// Command cart runs the Cart gRPC service alone, on port 50080 unless told
// otherwise, pricing carts from the Catalog at CATALOG_HOST: see
// `cart -h`.
//
// The binary links no other service's server: this service, the
// platform, and the clients of the services it calls (rule 7 of
// internal/architecture). `bookshop cart` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Run(cart.Command()) }
