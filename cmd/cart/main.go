// Command cart runs the Cart gRPC service alone, on port 50080 unless told
// otherwise, pricing carts from the Catalog at CATALOG_HOST: see
// `cart -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop cart` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Main("cart", launch.Alone("cart", cart.Command())) }
