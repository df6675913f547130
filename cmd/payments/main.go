// Command payments runs the Payments gRPC service alone, a fake card
// processor, on port 50100 unless told otherwise: see `payments -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("payments", tool.RunService("payments")) }
