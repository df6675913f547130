// Command checkout runs the Checkout gRPC service alone, on port 50120
// unless told otherwise, placing orders with the Cart, the Catalog, the
// Inventory, Payments, Orders and Promotions at CART_HOST, CATALOG_HOST,
// INVENTORY_HOST, PAYMENTS_HOST, ORDERS_HOST and PROMOTIONS_HOST: see
// `checkout -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("checkout", tool.RunService("checkout")) }
