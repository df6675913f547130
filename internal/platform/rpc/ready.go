package rpc

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthCheckTimeout bounds a readiness check whose context has no
// deadline.
const healthCheckTimeout = time.Second

// HealthReady returns a readiness check of the gRPC service named service
// (for example "Recommendations"; "" for the whole server) over conn: it
// calls grpc.health.v1.Health/Check and returns nil when the answer is
// SERVING, or when the server answers UNIMPLEMENTED: a server without the
// health service, such as the tutorial's Python one, counts as serving,
// as client-side health checking counts it (gRFC A17), and readiness then
// follows whether the server answers calls at all. Otherwise it returns
// an error that wraps the call's error (a gRPC status: UNAVAILABLE for a
// server that cannot be reached, NOT_FOUND for a service the server does
// not know, DEADLINE_EXCEEDED when it does not answer in time, which is
// also wrapped as context.DeadlineExceeded) or names the status the
// server answered with. Calls whose context has no deadline get one of
// 1s.
func HealthReady(conn grpc.ClientConnInterface, service string) func(context.Context) error {
	client := healthpb.NewHealthClient(conn)
	return func(ctx context.Context) error {
		ctx, cancel := WithDefaultTimeout(ctx, healthCheckTimeout)
		defer cancel()
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		switch status.Code(err) {
		case codes.OK:
		case codes.Unimplemented:
			// The server answered, so it is up and speaks gRPC; it has no
			// health service to say more.
			return nil
		case codes.DeadlineExceeded:
			// The server may give up a moment before ctx does: say that
			// this was a deadline, whichever side saw it first.
			return fmt.Errorf("health check of %q: %w (%w)", service, err, context.DeadlineExceeded)
		default:
			return fmt.Errorf("health check of %q: %w", service, err)
		}
		if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health check of %q: the service is %s", service, st)
		}
		return nil
	}
}
