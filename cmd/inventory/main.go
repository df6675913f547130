// Command inventory runs the Inventory gRPC service alone, on port 50090
// unless told otherwise, with the stock in inventory.db: see
// `inventory -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop inventory` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Main("inventory", launch.Alone("inventory", inventory.Command())) }
