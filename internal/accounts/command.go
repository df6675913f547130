package accounts

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns Accounts as a service the process runs: its settings,
// port, Run, authorization policy and contracts, for its own binary
// (cmd/accounts) and for the bookshop tool (bookshop accounts, bookshop up).
// Each call makes a new one, with settings of its own.
func Command() *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:      "accounts",
		Title:     "Accounts",
		Summary:   "run the Accounts gRPC service alone",
		About:     "Runs the Accounts gRPC service (bookshop.accounts.v1.AccountsService):\ncustomers' accounts, sign-in and sessions, with the standard health\nservice and server reflection.",
		Serves:    true,
		Flags:     cfg.Flags,
		Validate:  cfg.Validate,
		Port:      func() int { return cfg.Port },
		Run:       func(ctx context.Context, deps process.Deps) error { return Run(ctx, cfg, deps) },
		Policy:    Policy,
		Contracts: Contracts,
	}
}
