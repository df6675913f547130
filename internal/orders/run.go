package orders

import (
	"context"

	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Run runs the Orders service on deps.Listener until ctx is done: it
// opens the database (creating it on first start), serves OrdersService
// with health and reflection, then shuts down gracefully. It calls no
// other service, and has nothing to finish at start: an order is recorded
// whole or not at all (see package sqlite).
func Run(ctx context.Context, cfg Config, deps process.Deps) error {
	if err := deps.Validate(); err != nil {
		deps.Close()
		return err
	}
	db, err := sqlite.Open(ctx, cfg.DB)
	if err != nil {
		deps.Close()
		if ctx.Err() != nil {
			return nil // stopped while opening: nothing was served, nothing lost
		}
		return err
	}
	defer db.Close()
	n, err := db.CountOrders(ctx)
	if err != nil {
		deps.Close()
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	svc := NewService(db, Options{Logger: deps.Logger, Metrics: deps.Metrics})
	srv, err := NewGRPCServer(svc, deps)
	if err != nil {
		deps.Close()
		return err
	}
	deps.Logger.Info("Orders serving gRPC", "addr", deps.Listener.Addr().String(), "db", cfg.DB, "orders", n, "tracing", deps.Tracing != nil)
	return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener)
}

// NewGRPCServer returns a gRPC server with OrdersService registered over
// svc, authorized by Policy when deps' TLS verifies client certificates.
func NewGRPCServer(svc *Service, deps process.Deps) (*rpc.Server, error) {
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer(scfg)
	ordersv1.RegisterOrdersServiceServer(srv, NewServer(svc, deps.Logger))
	return srv, nil
}

// The promises of the Orders service's parts, checked by the compiler.
var _ Store = (*sqlite.DB)(nil)
