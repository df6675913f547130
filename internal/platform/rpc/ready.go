package rpc

import (
	"context"
	"errors"
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
// as client-side health checking counts it (gRFC A17). That says only
// that something answers gRPC at conn's target: any gRPC server answers
// UNIMPLEMENTED to a service it lacks. HealthOrProbeReady checks such a
// server with a call of the service's own.
//
// Otherwise it returns an error that wraps the call's error (a gRPC
// status: UNAVAILABLE for a server that cannot be reached, NOT_FOUND for
// a service the server does not know, DEADLINE_EXCEEDED when it does not
// answer in time, which is also wrapped as context.DeadlineExceeded) or
// names the status the server answered with. Calls whose context has no
// deadline get one of 1s.
func HealthReady(conn grpc.ClientConnInterface, service string) func(context.Context) error {
	return HealthOrProbeReady(conn, service, nil)
}

// HealthOrProbeReady is HealthReady for a service whose server may have
// no health service: when the server answers UNIMPLEMENTED to Health,
// readiness is what probe says, a cheap call of the service's own (such
// as a Recommend of one book), run with the same deadline; its error is
// wrapped. So a server without health counts as serving while it serves
// the service, and a gRPC server that lacks both, such as another service
// on the wrong port, is not ready. A nil probe counts UNIMPLEMENTED as
// serving, as HealthReady.
func HealthOrProbeReady(conn grpc.ClientConnInterface, service string, probe func(context.Context) error) func(context.Context) error {
	client := healthpb.NewHealthClient(conn)
	return func(ctx context.Context) error {
		ctx, cancel := WithDefaultTimeout(ctx, healthCheckTimeout)
		defer cancel()
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		switch status.Code(err) {
		case codes.OK:
		case codes.Unimplemented:
			// The server answered, so it is up and speaks gRPC; it has no
			// health service to say more. The service's own call does.
			if probe == nil {
				return nil
			}
			if err := probe(ctx); err != nil {
				return fmt.Errorf("%q has no health service, and a call of its own failed: %w", service, deadlineToo(err))
			}
			return nil
		case codes.DeadlineExceeded:
			return fmt.Errorf("health check of %q: %w", service, deadlineToo(err))
		default:
			return fmt.Errorf("health check of %q: %w", service, err)
		}
		if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health check of %q: the service is %s", service, st)
		}
		return nil
	}
}

// deadlineToo returns err, wrapped as context.DeadlineExceeded too when it
// is a DEADLINE_EXCEEDED status: the server may give up a moment before
// the context does, and either way it was a deadline.
func deadlineToo(err error) error {
	if status.Code(err) == codes.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%w)", err, context.DeadlineExceeded)
	}
	return err
}
