// Command catalog runs the Catalog gRPC service alone, on port 50060 unless
// told otherwise: see `catalog -h`.
//
// The binary links no other service's server: this service, the
// platform, and the clients of the services it calls (rule 7 of
// internal/architecture). `bookshop catalog` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Run(catalog.Command()) }
