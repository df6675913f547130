// Command inventory runs the Inventory gRPC service alone, on port 50090
// unless told otherwise, with the stock in inventory.db: see
// `inventory -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("inventory", tool.RunService("inventory")) }
