package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/reqid"
)

// The server interceptors run in this order, outermost first: the access
// log (which also takes or makes the request id), panic recovery, those the
// server is given (authorization), then request validation.

// logUnary writes one access log line per call: method, status code,
// duration, peer, the caller's identity as rule names it, and request id.
// It takes the caller's request id from the x-request-id metadata, or
// makes one, puts it in the context for the handler and its outgoing
// calls, and returns it in the response trailer.
func logUnary(logger *slog.Logger, rule certs.IdentityRule) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		ctx = withRequestID(ctx)
		resp, err := handler(ctx, req)
		logCall(ctx, logger, rule, info.FullMethod, "unary", start, err)
		return resp, err
	}
}

// logStream is logUnary for streaming calls: one line when the stream ends.
func logStream(logger *slog.Logger, rule certs.IdentityRule) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		ctx := withRequestID(ss.Context())
		err := handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
		logCall(ctx, logger, rule, info.FullMethod, "stream", start, err)
		return err
	}
}

// withRequestID returns ctx with the caller's request id, or a new one,
// and sends it back in the response trailer. Not in the header: a header
// sent with a failed call commits it, and the client could no longer retry
// it (gRPC retries only calls that have received nothing).
//
// It runs on every call, so it reads the one value it needs rather than
// copying all the metadata (metadata.FromIncomingContext copies it), and
// builds the trailer directly, its key being lower case already.
func withRequestID(ctx context.Context) context.Context {
	id := ""
	if v := metadata.ValueFromIncomingContext(ctx, reqid.Key); len(v) > 0 && reqid.Valid(v[0]) {
		id = v[0]
	}
	if id == "" {
		id = reqid.New()
	}
	_ = grpc.SetTrailer(ctx, metadata.MD{reqid.Key: []string{id}})
	return reqid.With(ctx, id)
}

func logCall(ctx context.Context, logger *slog.Logger, rule certs.IdentityRule, method, kind string, start time.Time, err error) {
	code := status.Code(err)
	level := slog.LevelInfo
	switch code {
	case codes.OK, codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.Unauthenticated:
	default:
		level = slog.LevelWarn
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	addr := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
	}
	// The record is made here rather than by logger.LogAttrs, which would
	// look up its caller's program counter (runtime.Callers) for a source
	// that no handler of ours prints, and that would name this function
	// anyway: a quarter of the cost of the line, in a profile under load.
	r := slog.NewRecord(time.Now(), level, "rpc", 0)
	r.AddAttrs(
		slog.String("method", method),
		slog.String("kind", kind),
		slog.String("code", code.String()),
		slog.Duration("duration", time.Since(start)),
		slog.String("peer", addr),
		slog.String("identity", identityOrNone(ctx, rule)),
		slog.String("request_id", reqid.From(ctx)))
	_ = logger.Handler().Handle(ctx, r) // nowhere to report a failed log write
}

// identityOrNone is the caller's certificate identity as rule names it,
// or "" without mutual TLS or without an identity.
func identityOrNone(ctx context.Context, rule certs.IdentityRule) string {
	id, _ := IdentityBy(ctx, rule)
	return id
}

// recoverUnary turns a panic in a unary handler into INTERNAL for the
// caller, with the panic and its stack in the log only, so that one bad
// call cannot take the server down.
func recoverUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = logPanic(ctx, logger, info.FullMethod, p)
			}
		}()
		return handler(ctx, req)
	}
}

// recoverStream is recoverUnary for streaming handlers.
func recoverStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = logPanic(ss.Context(), logger, info.FullMethod, p)
			}
		}()
		return handler(srv, ss)
	}
}

func logPanic(ctx context.Context, logger *slog.Logger, method string, p any) error {
	logger.ErrorContext(ctx, "panic in gRPC handler", "method", method,
		"request_id", reqid.From(ctx), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

// validateUnary answers INVALID_ARGUMENT, saying what is wrong, to a
// request that breaks its method's rules (see Validators), before the
// handler sees it.
func validateUnary(v Validators) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := v.validate(info.FullMethod, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// validateStream checks each message a streaming handler receives: a bad
// one makes RecvMsg fail with INVALID_ARGUMENT, which ends the call.
func validateStream(v Validators) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if _, ok := v[info.FullMethod]; !ok {
			return handler(srv, ss)
		}
		return handler(srv, &validatingStream{ServerStream: ss, method: info.FullMethod, validators: v})
	}
}

type validatingStream struct {
	grpc.ServerStream
	method     string
	validators Validators
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.validators.validate(s.method, m)
}

// contextStream is a ServerStream with another context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// clientUnary passes the request id of the context on to the server, and
// gives a call without a deadline the default one, so that no call of a
// Bookshop client can hang.
func clientUnary(defaultTimeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := WithDefaultTimeout(outgoingRequestID(ctx), defaultTimeout)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// clientStream passes the request id on. Streams last as long as their
// context allows: a live stream may rightly last an hour.
func clientStream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(outgoingRequestID(ctx), desc, cc, method, opts...)
	}
}

func outgoingRequestID(ctx context.Context) context.Context {
	if id := reqid.From(ctx); id != "" {
		return metadata.AppendToOutgoingContext(ctx, reqid.Key, id)
	}
	return ctx
}
