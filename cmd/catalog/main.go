// Command catalog runs the Catalog gRPC service alone, on port 50060 unless
// told otherwise: see `catalog -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("catalog", tool.RunCatalog) }
