// Command catalog runs the Catalog gRPC service alone, on port 50060 unless
// told otherwise: see `catalog -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop catalog` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Main("catalog", launch.Alone("catalog", catalog.Command())) }
