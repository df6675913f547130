// Command accounts runs the Accounts gRPC service alone, on port 50070
// unless told otherwise: see `accounts -h`.
// The binary holds this service and the platform alone (see
// internal/platform/launch); `bookshop accounts` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Main("accounts", launch.Alone("accounts", accounts.Command())) }
