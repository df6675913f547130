// Command checkout runs the Checkout gRPC service alone, on port 50120
// unless told otherwise, placing orders with the Cart, the Catalog, the
// Inventory, Payments, Orders and Promotions at CART_HOST, CATALOG_HOST,
// INVENTORY_HOST, PAYMENTS_HOST, ORDERS_HOST and PROMOTIONS_HOST: see
// `checkout -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop checkout` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Main("checkout", launch.Alone("checkout", checkout.Command())) }
