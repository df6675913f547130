package tool

import (
	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// services returns the shop's services with their defaults, a service
// before those that call it (up starts them all at once; callers wait
// for their dependencies' health). Each call makes new ones, with
// settings of their own.
//
// Adding a service is one entry here: its Command.
func services() []*launch.Service {
	return []*launch.Service{
		catalog.Command(), cart.Command(), recommendations.Command(catalogfile.Builtin), accounts.Command(),
		inventory.Command(), orders.Command(), payments.Command(), promotions.Command(), checkout.Command(),
		marketplace.Command(),
	}
}

// shopIdentities returns the identities `bookshop certs` issues by
// default: each service's that calls others, and the operators'.
func shopIdentities() []string {
	var ids []string
	for _, s := range services() {
		if s.Identity != "" {
			ids = append(ids, s.Identity)
		}
	}
	return append(ids, rpc.IdentityAdmin)
}

// shopNames returns the names the server certificate covers: every
// service's, and the demo server's.
func shopNames() []string {
	var names []string
	for _, s := range services() {
		names = append(names, s.Name)
	}
	return append(names, "demo")
}
