// Command cart runs the Cart gRPC service alone, on port 50080 unless told
// otherwise, pricing carts from the Catalog at CATALOG_HOST: see
// `cart -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("cart", tool.RunService("cart")) }
