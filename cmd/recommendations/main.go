// Command recommendations runs the Recommendations gRPC service alone, on
// port 50051 unless told otherwise: see `recommendations -h`.
package main

import "github.com/bookshop-go/bookshop/internal/tool"

func main() { tool.Main("recommendations", tool.RunRecommendations) }
