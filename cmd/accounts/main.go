// Command accounts runs the Accounts gRPC service alone, on port 50070
// unless told otherwise: see `accounts -h`.
//
// The binary links no other service's server: this service, the
// platform, and the clients of the services it calls (rule 7 of
// internal/architecture). `bookshop accounts` runs the same service.
package main

import (
	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

func main() { launch.Run(accounts.Command()) }
