// Command recommendations runs the Recommendations gRPC service alone, on
// port 50051 unless told otherwise: see `recommendations -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop recommendations` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

func main() {
	launch.Main("recommendations", launch.Alone("recommendations", recommendations.Command(catalogfile.Builtin)))
}
