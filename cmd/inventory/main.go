// Command inventory runs the Inventory gRPC service alone, on port 50090
// unless told otherwise, with the stock in inventory.db: see
// `inventory -h`.
//
// The binary links no other service's server: this service, the
// platform, and the clients of the services it calls (rule 7 of
// internal/architecture). `bookshop inventory` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Run(inventory.Command()) }
