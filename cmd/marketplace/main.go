// Command marketplace runs the Marketplace web front end alone, on port
// 8080 unless told otherwise, calling Recommendations at
// RECOMMENDATIONS_HOST and the Catalog at CATALOG_HOST: see
// `marketplace -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop marketplace` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Main("marketplace", launch.Alone("marketplace", marketplace.Command())) }
