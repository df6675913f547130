// Command marketplace runs the Marketplace web front end alone, on port
// 8080 unless told otherwise, calling Recommendations at
// RECOMMENDATIONS_HOST: see `marketplace -h`.
package main

import "github.com/bookshop-go/bookshop/internal/cli"

func main() { cli.Main("marketplace", cli.RunMarketplace) }
