// Command marketplace runs the Marketplace web front end alone, on port
// 8080 unless told otherwise, calling Recommendations at
// RECOMMENDATIONS_HOST and the Catalog at CATALOG_HOST: see
// `marketplace -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("marketplace", tool.RunMarketplace) }
