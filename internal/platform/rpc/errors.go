// Package rpc is what every Bookshop gRPC server and client is made of,
// whatever service it serves or calls: the interceptors (access log,
// request ids, panic recovery, validation), health and reflection,
// keepalive and message limits, TLS and the authorization mechanism
// (Policy), retries and balancing over replicas, graceful stop, and the
// one mapping between the kernel's error kinds and gRPC status codes.
//
// It knows no service: each slice registers its own services on a
// Server, and gives its own Policy entries and Validators.
package rpc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// codeOf maps domain error codes to gRPC codes.
var codeOf = map[bookshop.Code]codes.Code{
	bookshop.Invalid:         codes.InvalidArgument,
	bookshop.NotFound:        codes.NotFound,
	bookshop.Forbidden:       codes.PermissionDenied,
	bookshop.Unauthenticated: codes.Unauthenticated,
	bookshop.Exists:          codes.AlreadyExists,
	bookshop.Conflict:        codes.FailedPrecondition,
	bookshop.Exhausted:       codes.ResourceExhausted,
	bookshop.Unavailable:     codes.Unavailable,
	bookshop.Internal:        codes.Internal,
}

// ToStatus converts an error of the domain into a gRPC status error for the
// caller. The message of a *bookshop.Error is passed on (with its
// RetryAfter, Reason, and, for a Final UNAVAILABLE, a trailer that says
// not to retry it: see noRetryTrailer); any other error is logged and
// answered with a bare INTERNAL, so that internal details stay in the log.
// ctx is the call's: the trailer is set on it.
func ToStatus(ctx context.Context, logger *slog.Logger, method string, err error) error {
	if de, ok := errors.AsType[*bookshop.Error](err); ok {
		st := status.New(codeOf[de.Code], de.Message)
		if de.RetryAfter > 0 {
			if withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(de.RetryAfter)}); err == nil {
				st = withInfo
			}
		}
		if de.Final && de.Code == bookshop.Unavailable {
			// Only an UNAVAILABLE: a negative pushback also counts against
			// the client's retry throttling, which answers that it would
			// not retry anyway must not use up.
			_ = grpc.SetTrailer(ctx, noRetryTrailer) // fails only outside a call, or once it ended
		}
		if de.Reason != "" {
			if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: de.Reason, Domain: reasonDomain}); err == nil {
				st = withInfo
			}
		}
		return st.Err()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	logger.ErrorContext(ctx, "rpc failed", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}

// noRetryTrailer is the trailer of a Final UNAVAILABLE: gRPC's retry
// pushback, a negative one, which tells the caller's gRPC client not to
// retry the call (gRFC A6; grpc-go obeys it). A Bookshop client retries
// UNAVAILABLE (see serviceConfig), for the calls that did not reach a
// healthy server; a service that answered itself, having retried the
// calls it made, is not asked again at once. A stream copies what
// SetTrailer gives it, so one map serves every call.
var noRetryTrailer = metadata.Pairs("grpc-retry-pushback-ms", "-1")

// FromStatus converts an error of a gRPC call into a domain error. The
// server's message is kept for the codes that say something about the
// request (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED,
// ALREADY_EXISTS, FAILED_PRECONDITION, and RESOURCE_EXHAUSTED with a
// RetryInfo detail: a quota the caller used up, with RetryAfter set), and
// for an UNAVAILABLE with a reason (an ErrorInfo detail that ToStatus
// adds for a Reason, which only a Bookshop service gives, never the
// transport); the others become Unavailable or Internal with a generic
// message, the original kept in the chain for logs. A reason is kept as
// the error's Reason, whatever the code.
//
// UNAUTHENTICATED stays Unauthenticated: a service's own answer (a wrong
// password) and a refused client certificate both say the caller did not
// prove who it is.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st := statusOf(err)
	var de *bookshop.Error
	switch st.Code() {
	case codes.InvalidArgument, codes.OutOfRange:
		de = bookshop.Errorf(bookshop.Invalid, "%s", st.Message())
	case codes.NotFound:
		de = bookshop.Errorf(bookshop.NotFound, "%s", st.Message())
	case codes.PermissionDenied:
		de = bookshop.Errorf(bookshop.Forbidden, "%s", st.Message())
	case codes.Unauthenticated:
		de = bookshop.Errorf(bookshop.Unauthenticated, "%s", st.Message())
	case codes.AlreadyExists:
		de = bookshop.Errorf(bookshop.Exists, "%s", st.Message())
	case codes.FailedPrecondition:
		de = bookshop.Errorf(bookshop.Conflict, "%s", st.Message())
	case codes.ResourceExhausted:
		if after := retryDelay(st); after > 0 {
			de = &bookshop.Error{Code: bookshop.Exhausted, Message: st.Message(), RetryAfter: after}
			break
		}
		de = bookshop.Errorf(bookshop.Unavailable, "the service is unavailable right now")
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
		de = bookshop.Errorf(bookshop.Unavailable, "the service is unavailable right now")
	default:
		de = bookshop.Errorf(bookshop.Internal, "internal error")
	}
	if reason := errorReason(st); reason != "" {
		de.Reason = reason
		if de.Code == bookshop.Unavailable {
			// A Bookshop service's own answer, not the transport's, which
			// gives no reason: its words say what happened.
			de.Message = st.Message()
		}
	}
	return &callError{domain: de, cause: err}
}

// statusOf returns the status of err, a call's error: the status the
// server answered, with its own message, when err wraps it. grpc-go wraps
// the last attempt's when its retries are spent ("max retries exhausted:
// failed after 3 attempts: rpc error: code = ..."), and status.Convert
// would take that account, meant for logs, as the status's message.
func statusOf(err error) *status.Status {
	if se, ok := errors.AsType[interface {
		error
		GRPCStatus() *status.Status
	}](err); ok {
		return se.GRPCStatus()
	}
	if errors.Is(err, io.EOF) {
		// grpc-go's retries spent on an UNAVAILABLE (only a retryable code
		// is retried) whose last answer came before the request was all
		// sent: the attempt's error is the send's io.EOF, its status lost.
		return status.New(codes.Unavailable, err.Error())
	}
	return status.Convert(err)
}

// reasonDomain is the domain of the ErrorInfo details that carry the
// Reason of a *bookshop.Error.
const reasonDomain = "bookshop"

// errorReason returns the reason of st's ErrorInfo detail of Bookshop's
// domain, or "".
func errorReason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == reasonDomain {
			return info.GetReason()
		}
	}
	return ""
}

// retryDelay returns the delay of st's RetryInfo detail, or zero.
func retryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.RetryInfo); ok && info.GetRetryDelay().IsValid() {
			return info.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// callError is a failed call: a domain error for the caller, with the
// gRPC error it came from for the log.
type callError struct {
	domain *bookshop.Error
	cause  error
}

func (e *callError) Error() string { return e.cause.Error() }

// Unwrap returns both the domain error and the gRPC error, so that
// errors.As finds either.
func (e *callError) Unwrap() []error { return []error{e.domain, e.cause} }

// WithDefaultTimeout gives ctx a deadline of d from now unless it has one,
// for clients whose every call must have a deadline.
func WithDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// CallError returns an error of a call that failed for cause, which the
// caller sees as domain (errors.As finds either): for a client that knows
// better than the status what went wrong, such as a stream that ended.
func CallError(domain *bookshop.Error, cause error) error {
	return &callError{domain: domain, cause: cause}
}
