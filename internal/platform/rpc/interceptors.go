package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/reqid"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// A Server does its work around every call in one interceptor of each
// kind, serverCalls' unary and stream, rather than in a chain of five:
// grpc-go's chain makes a closure per interceptor for every call, and each
// link is frames more on a stack that the garbage collector shrinks at
// every cycle and the next calls grow again. The work is done in this
// order, outermost first:
//
//  1. the metrics (telemetry.ServerMethod), which count every call, those
//     refused below too;
//  2. the access log, one line per call when it ends (logCall), and the
//     request id, taken from the x-request-id metadata or made, put in the
//     context, and, when made, sent back in the trailer (withRequestID);
//  3. recovery: a panic in what follows is INTERNAL for the caller, its
//     stack in the log only, so that one bad call cannot take the server
//     down;
//  4. authorization (see Authorize), so that an unauthorized caller learns
//     nothing of the rules of the requests; then a request that could not
//     be read (see requestCodec) is INVALID_ARGUMENT, and in a stream,
//     each message received that could not;
//  5. the interceptors the server is given (ServerConfig.UnaryInterceptors
//     and StreamInterceptors), chained as grpc-go chains them;
//  6. validation (see Validators): a request that breaks its method's rules
//     is INVALID_ARGUMENT, saying what is wrong, before the handler sees
//     it; in a stream, each message received is checked.
type serverCalls struct {
	logger     *slog.Logger
	rule       certs.IdentityRule
	metrics    *telemetry.Metrics
	policy     Policy // nil: no authorization
	unaryNext  grpc.UnaryServerInterceptor
	streamNext grpc.StreamServerInterceptor
	validators Validators
	// commonNameRefused says, once, how to accept certificates named by
	// their Common Name (see refused).
	commonNameRefused sync.Once
}

// newServerCalls returns the per-call work of a server made as cfg says.
func newServerCalls(cfg ServerConfig) *serverCalls {
	c := &serverCalls{
		logger:     cfg.Logger,
		rule:       cfg.ClientIdentity,
		metrics:    cfg.Metrics,
		policy:     cfg.Authorization,
		validators: cfg.Validators,
	}
	if len(cfg.UnaryInterceptors) > 0 {
		c.unaryNext = chainUnary(cfg.UnaryInterceptors)
	}
	if len(cfg.StreamInterceptors) > 0 {
		c.streamNext = chainStream(cfg.StreamInterceptors)
	}
	return c
}

// unary is the server's unary interceptor.
func (c *serverCalls) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	counts := c.metrics.UnaryServerMethod(info.FullMethod)
	counts.UnaryStarted(ctx)
	ctx = withRequestID(ctx)
	resp, err := c.unaryGuarded(ctx, req, info, handler)
	logCall(ctx, c.logger, c.rule, info.FullMethod, "unary", start, err)
	counts.UnaryDone(ctx, err, start)
	return resp, err
}

// unaryGuarded authorizes, runs the given interceptors, validates and
// handles a unary call, recovering from a panic in any of them.
func (c *serverCalls) unaryGuarded(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, logPanic(ctx, c.logger, info.FullMethod, p)
		}
	}()
	if c.policy != nil {
		authorized, err := c.policy.check(ctx, info.FullMethod, c.rule)
		if err != nil {
			c.refused(ctx, info.FullMethod)
			return nil, err
		}
		ctx = authorized // with the caller's identity, for Identity
	}
	if err := malformed(req); err != nil {
		return nil, err
	}
	if c.unaryNext != nil {
		return c.unaryNext(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			if err := c.validators.validate(info.FullMethod, req); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		})
	}
	if err := c.validators.validate(info.FullMethod, req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// stream is the server's stream interceptor: one access log line when the
// stream ends.
func (c *serverCalls) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	counts := c.metrics.StreamServerMethod(info)
	ctx := ss.Context()
	counts.StreamStarted(ctx)
	ctx = withRequestID(ctx)
	err := c.streamGuarded(ctx, srv, &callStream{ServerStream: ss, ctx: ctx, counts: counts}, info, handler)
	logCall(ctx, c.logger, c.rule, info.FullMethod, "stream", start, err)
	counts.StreamDone(ctx, err, start)
	return err
}

// streamGuarded is unaryGuarded for streams: it authorizes, runs the given
// interceptors and the handler, whose stream checks each message it
// receives, recovering from a panic in any of them.
func (c *serverCalls) streamGuarded(ctx context.Context, srv any, cs *callStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = logPanic(ctx, c.logger, info.FullMethod, p)
		}
	}()
	if c.policy != nil {
		authorized, err := c.policy.check(ctx, info.FullMethod, c.rule)
		if err != nil {
			c.refused(ctx, info.FullMethod)
			return err
		}
		cs.ctx = authorized // with the caller's identity, for Identity
	}
	check := c.validators[info.FullMethod]
	if c.streamNext != nil {
		// The given interceptors see the stream unchecked, as they saw it
		// when validation was an interceptor after them.
		return c.streamNext(srv, cs, info, func(srv any, ss grpc.ServerStream) error {
			if check == nil {
				return handler(srv, ss)
			}
			return handler(srv, &validatingStream{ServerStream: ss, check: check})
		})
	}
	cs.check = check
	return handler(srv, cs)
}

// refused is called when authorization refuses a call. The first time the
// caller's verified certificate has no spiffe:// URI but a Common Name
// that is an identity, as the tutorial's certificates have, and the rule
// does not name callers by Common Name, it says once, as a warning, what
// would accept such certificates: the operator who runs the tutorial's
// code against ours learns the flag from the log, not from the source.
func (c *serverCalls) refused(ctx context.Context, method string) {
	leaf := verifiedLeaf(ctx)
	if leaf == nil {
		return
	}
	if _, err := c.rule.Identify(leaf); !errors.Is(err, certs.ErrNoSPIFFE) {
		return
	}
	cn, err := certs.SPIFFEOrCommonName.Identify(leaf)
	if err != nil {
		return
	}
	c.commonNameRefused.Do(func() {
		c.logger.WarnContext(ctx, "refused a verified client certificate without a spiffe:// URI: "+
			"its Common Name names no caller by -tls-client-identity spiffe, the default; "+
			"if the client CA signs certificates for this shop's services only (as the tutorial's gen_certs.sh makes them), "+
			"run with -tls-client-identity spiffe-or-cn (TLS_CLIENT_IDENTITY) to name callers by Common Name (see docs/security.md); "+
			"said once", "method", method, "common_name", cn)
	})
}

// callStream is the stream a streaming handler gets: the call's context,
// with its request id, messages counted in the metrics and, when its
// method has rules, each message received checked.
type callStream struct {
	grpc.ServerStream
	ctx    context.Context
	counts telemetry.ServerMethod
	check  func(req any) string // nil: no rules
}

func (s *callStream) Context() context.Context { return s.ctx }

func (s *callStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.counts.Sent()
	}
	return err
}

// RecvMsg receives a message and, when it breaks the method's rules, fails
// with INVALID_ARGUMENT, which ends the call.
func (s *callStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	s.counts.Received()
	if err := malformed(m); err != nil {
		return err
	}
	return checkMessage(s.check, m)
}

// validatingStream checks each message a stream receives.
type validatingStream struct {
	grpc.ServerStream
	check func(req any) string
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return checkMessage(s.check, m)
}

// checkMessage is INVALID_ARGUMENT, saying what is wrong, for a message
// that check refuses; nil for one it accepts, or when check is nil.
func checkMessage(check func(req any) string, m any) error {
	if check == nil {
		return nil
	}
	if msg := check(m); msg != "" {
		return status.Error(codes.InvalidArgument, msg)
	}
	return nil
}

// chainUnary makes one interceptor of several, the first outermost.
func chainUnary(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if len(interceptors) == 1 {
		return interceptors[0]
	}
	first, rest := interceptors[0], chainUnary(interceptors[1:])
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return first(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return rest(ctx, req, info, handler)
		})
	}
}

// chainStream makes one interceptor of several, the first outermost.
func chainStream(interceptors []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	if len(interceptors) == 1 {
		return interceptors[0]
	}
	first, rest := interceptors[0], chainStream(interceptors[1:])
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return first(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
			return rest(srv, ss, info, handler)
		})
	}
}

// withRequestID returns ctx with the caller's request id, or a new one
// that it sends back in the response trailer: a caller that sent its own
// id knows it already (every Bookshop service sends the id of the request
// it serves), so only one that sent none, or an id not valid, is told the
// id its call got. Not in the header: a header sent with a failed call
// commits it, and the client could no longer retry it (gRPC retries only
// calls that have received nothing).
//
// It runs on every call, so it reads the one value it needs rather than
// copying all the metadata (metadata.FromIncomingContext copies it), and
// builds the trailer directly, its key being lower case already, in a map
// it uses again: the stream copies what SetTrailer gives it into a map of
// its own (grpc-go merges the trailers of a call with metadata.Join), and
// a map of one key is some 400 bytes for the collector to reclaim, and as
// many again in the client, which copies the trailer it receives.
func withRequestID(ctx context.Context) context.Context {
	if v := metadata.ValueFromIncomingContext(ctx, reqid.Key); len(v) > 0 && reqid.Valid(v[0]) {
		return reqid.With(ctx, v[0])
	}
	id := reqid.New()
	md := trailers.Get().(metadata.MD)
	md[reqid.Key][0] = id
	_ = grpc.SetTrailer(ctx, md)
	md[reqid.Key][0] = ""
	trailers.Put(md)
	return reqid.With(ctx, id)
}

// trailers holds the maps withRequestID gives SetTrailer, each with its
// one key.
var trailers = sync.Pool{New: func() any { return metadata.MD{reqid.Key: make([]string, 1)} }}

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
		addr = peerNames.name(p.Addr)
	}
	// Not logger.LogAttrs, which would look up its caller's program
	// counter (runtime.Callers) for a source that no handler of ours
	// prints, and would copy the attributes past the fifth to a slice of
	// their own: telemetry.LogAttrs formats them from this array, on the
	// stack.
	var attrs [9]slog.Attr
	a := append(attrs[:0],
		slog.String("method", method),
		slog.String("kind", kind),
		slog.String("code", code.String()),
		slog.Duration("duration", time.Since(start)),
		slog.String("peer", addr),
		slog.String("identity", identityOrNone(ctx, rule)),
		slog.String("request_id", reqid.From(ctx)))
	if code == codes.Unauthenticated {
		// Such a caller has no identity to log: say why, and, when it
		// presented a certificate the server verified, whose it is.
		a = append(a, slog.String("reason", status.Convert(err).Message()))
		if leaf := verifiedLeaf(ctx); leaf != nil {
			a = append(a, slog.String("subject", leaf.Subject.String()))
		}
	}
	_ = telemetry.LogAttrs(ctx, logger, time.Now(), level, "rpc", a...) // nowhere to report a failed log write
}

// peerNames is the text of the addresses of the clients lately seen, for
// the access log. A connection's calls share its address, and its text
// took two allocations and a formatting of the IP address for each line.
var peerNames addrNames

// maxAddrNames bounds the addresses an addrNames keeps: a server has a
// few clients, each with a connection or a few, which last.
const maxAddrNames = 256

// addrNames keeps the text of TCP addresses, by address (the one a
// connection keeps for all its calls); past maxAddrNames it starts again.
// It is safe for concurrent use.
type addrNames struct {
	m sync.Map // *net.TCPAddr -> string
	n atomic.Int32
}

// name returns a.String(), kept for a TCP address.
func (c *addrNames) name(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if s, ok := c.m.Load(tcp); ok {
		return s.(string)
	}
	s := tcp.String()
	if c.n.Add(1) > maxAddrNames {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(tcp, s)
	return s
}

// identityOrNone is the caller's certificate identity as rule names it,
// or "" without mutual TLS or without an identity.
func identityOrNone(ctx context.Context, rule certs.IdentityRule) string {
	id, _ := IdentityBy(ctx, rule)
	return id
}

// logPanic logs a panic of a handler, with its stack, and returns what the
// caller gets: INTERNAL, without details.
func logPanic(ctx context.Context, logger *slog.Logger, method string, p any) error {
	logger.ErrorContext(ctx, "panic in gRPC handler", "method", method,
		"request_id", reqid.From(ctx), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

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
