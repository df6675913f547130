package marketplace

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// readyTimeout bounds each readiness check.
const readyTimeout = time.Second

// readyFresh is how long the answer of a readiness check is reused. /readyz
// is not rate limited, so that probes are never refused; this keeps a flood
// of it from becoming a flood of calls to Recommendations.
const readyFresh = time.Second

// Answers of /readyz. The reasons are for people and probes; the errors
// behind them go to the log.
const (
	messageReady        = "ready"
	messageShuttingDown = "not ready: shutting down"
	messageRecsDown     = "not ready: Recommendations is unavailable"
	messageRecsSlow     = "not ready: Recommendations did not answer within 1s"
)

// RecommendationsReady returns the Marketplace's readiness check, as Run
// wires it: Recommendations' health over conn, or, from a server without
// a health service, such as the tutorial's, whether it recommends one
// book through r (see rpc.HealthOrProbeReady). So another gRPC server at
// RECOMMENDATIONS_HOST, which lacks both, leaves the Marketplace not
// ready, as does the tutorial's server once it fails its calls.
func RecommendationsReady(conn grpc.ClientConnInterface, r bookshop.Recommender) func(context.Context) error {
	return rpc.HealthOrProbeReady(conn, "Recommendations", func(ctx context.Context) error {
		_, err := r.Recommend(ctx, bookshop.RecommendRequest{Category: bookshop.Mystery, MaxResults: 1})
		return err
	})
}

// errReadyTimeout marks a readiness check that ran out of time.
var errReadyTimeout = errors.New("readiness check timed out")

// readiness runs a readiness check for /readyz, one at a time, and reuses
// its answer for readyFresh. It is safe for concurrent use.
type readiness struct {
	check  func(context.Context) error // nil: always ready
	logger *slog.Logger

	mu  sync.Mutex
	at  time.Time // when err was found; zero before the first check
	err error
}

func newReadiness(check func(context.Context) error, logger *slog.Logger) *readiness {
	return &readiness{check: check, logger: logger}
}

// ready runs the check, within readyTimeout, or returns the answer of one
// that ended less than readyFresh ago. Callers that come during a check
// wait for it and share its answer. A check that runs out of time returns
// an error that wraps errReadyTimeout.
func (r *readiness) ready(ctx context.Context) error {
	if r.check == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.at.IsZero() && time.Since(r.at) < readyFresh {
		return r.err
	}
	// The answer is shared, so the request that runs the check must not
	// cut it short by going away.
	checkCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	err := r.check(checkCtx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || checkCtx.Err() != nil {
			err = errors.Join(errReadyTimeout, err)
		}
		r.logger.WarnContext(ctx, "not ready: the readiness check failed", "err", err)
	}
	r.err, r.at = err, time.Now()
	return err
}

// handleReadyz answers, in plain text, whether the Marketplace is ready to
// serve: 200 "ready" while it runs and Recommendations can be reached (with
// RecommendationsReady, its health says SERVING or, from a server without
// a health service, as the tutorial's, a Recommend succeeds); 503 with a
// short reason once it shuts down or when Recommendations cannot be
// reached in time.
func (s *server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.shutdown:
			writePlain(w, http.StatusServiceUnavailable, messageShuttingDown)
			return
		default:
		}
		switch err := s.readiness.ready(r.Context()); {
		case err == nil:
			writePlain(w, http.StatusOK, messageReady)
		case errors.Is(err, errReadyTimeout):
			writePlain(w, http.StatusServiceUnavailable, messageRecsSlow)
		default:
			writePlain(w, http.StatusServiceUnavailable, messageRecsDown)
		}
	})
}
