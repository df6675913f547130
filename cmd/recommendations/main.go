// Command recommendations runs the Recommendations gRPC service alone, on
// port 50051 unless told otherwise: see `recommendations -h`.
//
// The binary links no other service's server: this service, the
// platform, the clients of the services it calls, and the Catalog's file
// format, for its built-in catalog (rule 7 of internal/architecture).
// `bookshop recommendations` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

func main() { launch.Run(recommendations.Command(catalogfile.Builtin)) }
