package payments

import (
	"context"

	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Run runs the Payments service on deps.Listener until ctx is done: it
// opens the database (creating it on first start), serves PaymentsService
// with health and reflection, then shuts down gracefully. It calls no
// other service.
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
	svc := NewService(db, Options{Logger: deps.Logger, Metrics: deps.Metrics, Latency: cfg.Latency})
	srv, err := NewGRPCServer(svc, deps)
	if err != nil {
		deps.Close()
		return err
	}
	deps.Logger.Info("Payments serving gRPC", "addr", deps.Listener.Addr().String(), "db", cfg.DB,
		"latency", cfg.Latency.String(), "tracing", deps.Tracing != nil)
	return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener)
}

// NewGRPCServer returns a gRPC server with PaymentsService registered
// over svc, authorized by Policy when deps' TLS verifies client
// certificates.
func NewGRPCServer(svc *Service, deps process.Deps) (*rpc.Server, error) {
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer(scfg)
	paymentsv1.RegisterPaymentsServiceServer(srv, NewServer(svc, deps.Logger))
	return srv, nil
}

// The promise of the Service's Store, checked by the compiler.
var _ Store = (*sqlite.DB)(nil)
