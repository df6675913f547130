// Package web serves HTTP the way every Bookshop server does: with
// timeouts and limits on each connection, and a graceful shutdown that
// lets requests in flight finish.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// NewServer returns an http.Server for handler with Bookshop's limits:
// headers within 5 s and 32 KiB, a request body within 10 s, a response
// within writeTimeout, idle connections closed after 2 minutes, and
// net/http's own errors logged at warn. Requests' contexts derive from
// ctx but are not cancelled with it: shutdown lets them finish.
func NewServer(ctx context.Context, handler http.Handler, writeTimeout time.Duration, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// Serve serves srv on lis until ctx is done or serving fails. At shutdown
// it stops accepting, lets requests in flight finish for up to
// drainTimeout, then closes what is left. It returns nil after a shutdown
// asked for by ctx.
func Serve(ctx context.Context, srv *http.Server, lis net.Listener, drainTimeout time.Duration, logger *slog.Logger) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	logger.Info("HTTP server shutting down", "addr", lis.Addr().String(), "drain_timeout", drainTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("HTTP drain timed out; closing remaining connections", "addr", lis.Addr().String())
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP on %s: %w", lis.Addr(), err)
	}
	return nil
}
