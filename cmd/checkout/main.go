// Command checkout runs the Checkout gRPC service alone, on port 50120
// unless told otherwise, placing orders with the Cart, the Catalog, the
// Inventory, Payments, Orders and Promotions at CART_HOST, CATALOG_HOST,
// INVENTORY_HOST, PAYMENTS_HOST, ORDERS_HOST and PROMOTIONS_HOST: see
// `checkout -h`.
//
// The binary links no other service's server: this service, the
// platform, and the clients of the services it calls (rule 7 of
// internal/architecture). `bookshop checkout` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Run(checkout.Command()) }
