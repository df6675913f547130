// Command promotions runs the Promotions gRPC service alone, on port 50130
// unless told otherwise, with the customers' uses of the promotion in
// promotions.db: see `promotions -h`.
//
// The binary links no other service's server: this service, the
// platform, and the clients of the services it calls (rule 7 of
// internal/architecture). `bookshop promotions` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/promotions"
)

func main() { launch.Run(promotions.Command()) }
