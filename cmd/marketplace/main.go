// Command marketplace runs the Marketplace web front end alone, on port
// 8080 unless told otherwise, calling the other services at their
// addresses (RECOMMENDATIONS_HOST, CATALOG_HOST, ACCOUNTS_HOST, CART_HOST,
// INVENTORY_HOST, CHECKOUT_HOST, ORDERS_HOST, PROMOTIONS_HOST): see
// `marketplace -h`.
//
// The binary links no other service's server: this service, the
// platform, and the clients of the services it calls (rule 7 of
// internal/architecture). `bookshop marketplace` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Run(marketplace.Command()) }
