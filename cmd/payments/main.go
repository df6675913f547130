// Command payments runs the Payments gRPC service alone, a fake card
// processor, on port 50100 unless told otherwise: see `payments -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop payments` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Main("payments", launch.Alone("payments", payments.Command())) }
