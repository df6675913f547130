// Command promotions runs the Promotions gRPC service alone, on port 50130
// unless told otherwise, with the customers' uses of the promotion in
// promotions.db: see `promotions -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("promotions", tool.RunService("promotions")) }
