// Package web serves HTTP the way every Bookshop server does: with
// timeouts and limits on each connection, and a graceful shutdown that
// loses no request: a grace period in which every answer closes its
// connection, then a drain that lets requests in flight finish.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Server is an http.Server with Bookshop's limits, which knows when it is
// shutting down. Make one with NewServer.
type Server struct {
	http     *http.Server
	draining atomic.Bool
}

// NewServer returns a Server for handler with Bookshop's limits: headers
// within 5 s and 32 KiB, a request body within 10 s, a response within
// writeTimeout, idle connections closed after 2 minutes, and net/http's
// own errors logged at warn. Requests' contexts derive from ctx but are
// not cancelled with it: shutdown lets them finish.
//
// The connection of a request with a body in Transfer-Encoding (chunked)
// is closed after its answer: RFC 9112 (section 6.3) asks a server to
// close it after a request that has both Transfer-Encoding and
// Content-Length, and net/http drops the Content-Length before the
// handler could tell, so a request smuggled behind the first in its
// body's framing is never read. Browsers do not send chunked bodies.
func NewServer(ctx context.Context, handler http.Handler, writeTimeout time.Duration, logger *slog.Logger) *Server {
	s := &Server{}
	s.http = &http.Server{
		Handler:           s.closing(handler),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	return s
}

// closing wraps h: an answer says Connection: close, and net/http closes
// the connection after it, for a request with a chunked body and for
// every request once the Server is draining.
func (s *Server) closing(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 || s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// Drain is how a Server shuts down.
type Drain struct {
	// Grace is how long the Server goes on serving once its context ends:
	// every answer then says Connection: close, so that clients with
	// keep-alive connections, which a load balancer that has seen the
	// readiness check fail still has, open new ones elsewhere rather than
	// send a request on a connection the shutdown is about to close. It
	// should cover the time a load balancer takes to stop sending (in
	// Kubernetes, the preStop pause covers that before the signal: then a
	// short Grace lets the open connections turn over). Zero skips it.
	Grace time.Duration
	// Timeout is how long requests in flight may then take to finish
	// before they are cut off.
	Timeout time.Duration
}

// Serve serves on lis until ctx is done or serving fails. When ctx is
// done, it serves for d.Grace more with every answer closing its
// connection, then stops accepting and closes the idle connections, lets
// requests in flight finish for up to d.Timeout, and closes what is left.
// It returns nil after a shutdown asked for by ctx.
func (s *Server) Serve(ctx context.Context, lis net.Listener, d Drain, logger *slog.Logger) error {
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(lis) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	if d.Grace > 0 {
		logger.Info("HTTP server draining: every answer closes its connection", "addr", lis.Addr().String(), "grace", d.Grace)
		t := time.NewTimer(d.Grace)
		select {
		case err := <-served:
			t.Stop()
			return fmt.Errorf("serve HTTP on %s: %w", lis.Addr(), err)
		case <-t.C:
		}
	}
	logger.Info("HTTP server shutting down", "addr", lis.Addr().String(), "drain_timeout", d.Timeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.Timeout)
	defer cancel()
	if err := s.http.Shutdown(shutdownCtx); err != nil {
		logger.Warn("HTTP drain timed out; closing remaining connections", "addr", lis.Addr().String())
		s.http.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP on %s: %w", lis.Addr(), err)
	}
	return nil
}
