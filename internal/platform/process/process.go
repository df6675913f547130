// Package process is what a service gets from the process that runs it,
// whether that is its own command or `bookshop up` running every service
// at once: a logger, the process's metrics and tracing, TLS, how long to
// drain, and where to listen. A slice's Run takes a Deps and needs
// nothing global.
package process

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// Deps are what a process gives each service it runs.
type Deps struct {
	// Logger receives the service's logs. Required.
	Logger *slog.Logger
	// Metrics is the process's registry and its gRPC and HTTP metrics.
	// Optional: nil counts nothing.
	Metrics *telemetry.Metrics
	// Tracing traces the service's calls, under its own name. Optional:
	// nil traces nothing and costs nothing.
	Tracing *telemetry.Tracing
	// ServerTLS, when set, makes the service serve TLS only; mutual TLS,
	// with callers authorized by identity, when it verifies client
	// certificates.
	ServerTLS *tls.Config
	// ClientIdentity is how the service's server names the caller of a
	// verified client certificate, with mutual TLS. The zero value is
	// certs.SPIFFEOnly, the default.
	ClientIdentity certs.IdentityRule
	// ClientTLS, when set, is how the service calls others: the CA it
	// trusts and the certificate of its own identity.
	ClientTLS *tls.Config
	// DrainTimeout bounds a graceful shutdown: requests still running
	// after it are cut off.
	DrainTimeout time.Duration
	// Listener is where the service serves. Required; the service closes
	// it.
	Listener net.Listener
	// HealthListener, when set, is where a gRPC service serves its health
	// alone, in plaintext, for probes that cannot do mutual TLS.
	HealthListener net.Listener
}

// Validate returns an error naming what is missing from d.
func (d Deps) Validate() error {
	switch {
	case d.Logger == nil:
		return errors.New("process.Deps: no Logger")
	case d.Listener == nil:
		return errors.New("process.Deps: no Listener")
	case d.DrainTimeout <= 0:
		return errors.New("process.Deps: DrainTimeout must be positive")
	}
	return nil
}

// Close closes the listeners of d, for a service that fails before it
// serves.
func (d Deps) Close() {
	if d.Listener != nil {
		d.Listener.Close()
	}
	if d.HealthListener != nil {
		d.HealthListener.Close()
	}
}

// CloseLogged closes c, something the service opened for its run such as
// its database, and logs the error of Close, naming what: for the Close
// deferred at the end of a Run, whose error nothing would see otherwise.
func (d Deps) CloseLogged(what string, c io.Closer) {
	if err := c.Close(); err != nil {
		d.Logger.Error("could not close the "+what, "err", err)
	}
}

// RunAll runs every fn at once with a context that ends when ctx does or
// when any fn returns, for whatever reason, so that when one part of a
// process stops the others stop with it. It waits for all of them and
// returns their errors, joined.
func RunAll(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, len(fns))
	for _, fn := range fns {
		go func() {
			err := fn(ctx)
			cancel()
			done <- err
		}()
	}
	var errs []error
	for range fns {
		errs = append(errs, <-done)
	}
	return errors.Join(errs...)
}

// Every calls do at once and then every interval until ctx ends, and
// returns nil then: the loop of a service's sweeper, as a part of RunAll.
// do is given ctx, and is not called again once ctx has ended.
func Every(ctx context.Context, interval time.Duration, do func(context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		do(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Watch calls check at once and then every interval until ctx ends, each
// call bounded by interval, and calls changed with check's result the
// first time and each time it turns from nil to an error or back (not
// while it stays failing, even with other errors). It returns nil when ctx
// ends. It is the loop of a readiness check of what a service depends on,
// such as its database: changed marks the service serving or not (see
// rpc.Server.Watch) or sets what /readyz answers.
func Watch(ctx context.Context, interval time.Duration, check func(context.Context) error, changed func(error)) error {
	first, failing := true, false
	return Every(ctx, interval, func(ctx context.Context) {
		cctx, cancel := context.WithTimeout(ctx, interval)
		err := check(cctx)
		cancel()
		if ctx.Err() != nil {
			return // stopping: a check cut short says nothing
		}
		if first || failing != (err != nil) {
			first, failing = false, err != nil
			changed(err)
		}
	})
}
