// Command payments runs the Payments gRPC service alone, a fake card
// processor, on port 50100 unless told otherwise: see `payments -h`.
//
// The binary links no other service's server: this service, the
// platform, and the clients of the services it calls (rule 7 of
// internal/architecture). `bookshop payments` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Run(payments.Command()) }
