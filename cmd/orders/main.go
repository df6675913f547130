// Command orders runs the Orders gRPC service alone, the shop's
// transaction database, on port 50110 unless told otherwise: see
// `orders -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("orders", tool.RunService("orders")) }
