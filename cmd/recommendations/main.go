// Command recommendations runs the Recommendations gRPC service alone, on
// port 50051 unless told otherwise: see `recommendations -h`.
package main

import "github.com/bookshop-go/bookshop/internal/cli"

func main() { cli.Main("recommendations", cli.RunRecommendations) }
