// Command accounts runs the Accounts gRPC service alone, on port 50070
// unless told otherwise: see `accounts -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("accounts", tool.RunService("accounts")) }
