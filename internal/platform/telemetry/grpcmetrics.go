package telemetry

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The kinds of call, as the grpc_type label names them.
const (
	unary        = "unary"
	clientStream = "client_stream"
	serverStream = "server_stream"
	bidiStream   = "bidi_stream"
)

// numCodes is the number of gRPC status codes, OK to Unauthenticated.
const numCodes = int(codes.Unauthenticated) + 1

// grpcMetrics are the metrics of the calls of one side, server or client,
// under the names and labels that go-grpc-prometheus made the convention,
// so that existing dashboards and alerts work with them:
//
//	grpc_<side>_started_total{grpc_type, grpc_service, grpc_method}
//	grpc_<side>_handled_total{grpc_type, grpc_service, grpc_method, grpc_code}
//	grpc_<side>_msg_received_total{grpc_type, grpc_service, grpc_method}
//	grpc_<side>_msg_sent_total{grpc_type, grpc_service, grpc_method}
//	grpc_<side>_handling_seconds{grpc_type, grpc_service, grpc_method} (histogram)
//
// The series of a method are looked up once, when the method is first
// seen, and kept: a call then counts with atomic adds, without hashing its
// labels, which go-grpc-middleware's provider did five times a call, at a
// cost that showed in the load tests.
type grpcMetrics struct {
	started, received, sent *prometheus.CounterVec
	handled                 *handledCounts
	handling                *prometheus.HistogramVec
	methods                 sync.Map   // full method name -> *methodMetrics
	newMethod               sync.Mutex // held to make a method's series, once
	exemplars               bool       // see WithExemplars
}

// methodMetrics are the series of one method.
type methodMetrics struct {
	started, received, sent prometheus.Counter
	handled                 *codeCounts
	handling                prometheus.Observer
	exemplars               bool
}

func newGRPCMetrics(side string) *grpcMetrics {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "grpc_" + side + "_" + name, Help: help}, labels)
	}
	return &grpcMetrics{
		started:  counter("started_total", "gRPC calls started on the "+side+".", labels),
		handled:  newHandledCounts("grpc_"+side+"_handled_total", "gRPC calls completed on the "+side+", by status code."),
		received: counter("msg_received_total", "Messages the "+side+" received in gRPC calls.", labels),
		sent:     counter("msg_sent_total", "Messages the "+side+" sent in gRPC calls.", labels),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_" + side + "_handling_seconds",
			Help:    "Time gRPC calls took on the " + side + ", start to end.",
			Buckets: latencyBuckets,
		}, labels),
	}
}

func (g *grpcMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{g.started, g.handled, g.received, g.sent, g.handling}
}

// method returns the series of fullMethod ("/service/method"), making them
// the first time.
func (g *grpcMetrics) method(fullMethod, typ string) *methodMetrics {
	if m, ok := g.methods.Load(fullMethod); ok {
		return m.(*methodMetrics)
	}
	g.newMethod.Lock()
	defer g.newMethod.Unlock()
	if m, ok := g.methods.Load(fullMethod); ok { // made while this call waited
		return m.(*methodMetrics)
	}
	service, name, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	m := &methodMetrics{
		started:   g.started.WithLabelValues(typ, service, name),
		received:  g.received.WithLabelValues(typ, service, name),
		sent:      g.sent.WithLabelValues(typ, service, name),
		handled:   g.handled.method(typ, service, name),
		handling:  g.handling.WithLabelValues(typ, service, name),
		exemplars: g.exemplars,
	}
	g.methods.Store(fullMethod, m)
	return m
}

// init makes the series of every method of srv's services, so that they
// appear, at zero, before the first call.
func (g *grpcMetrics) init(srv *grpc.Server) {
	for service, info := range srv.GetServiceInfo() {
		for _, mi := range info.Methods {
			g.method("/"+service+"/"+mi.Name, callType(mi.IsClientStream, mi.IsServerStream))
		}
	}
}

// callType is the grpc_type of a call.
func callType(clientStreams, serverStreams bool) string {
	switch {
	case clientStreams && serverStreams:
		return bidiStream
	case clientStreams:
		return clientStream
	case serverStreams:
		return serverStream
	}
	return unary
}

// inc adds one to c, with ctx's trace as its exemplar when it has one.
func (m *methodMetrics) inc(ctx context.Context, c prometheus.Counter) {
	if !m.exemplars {
		c.Inc()
		return
	}
	if ex := exemplar(ctx); ex != nil {
		c.(prometheus.ExemplarAdder).AddWithExemplar(1, ex)
		return
	}
	c.Inc()
}

// done records the end of a call: its status code and how long it took.
func (m *methodMetrics) done(ctx context.Context, err error, start time.Time) {
	code := status.Code(err)
	if int(code) >= numCodes {
		code = codes.Unknown
	}
	d := time.Since(start).Seconds()
	if !m.exemplars {
		m.handled.inc(code)
		m.handling.Observe(d)
		return
	}
	if ex := exemplar(ctx); ex != nil {
		m.handled.incWithExemplar(code, ex)
		m.handling.(prometheus.ExemplarObserver).ObserveWithExemplar(d, ex)
		return
	}
	m.handled.inc(code)
	m.handling.Observe(d)
}

func (g *grpcMetrics) unaryServer(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	m := ServerMethod{g.method(info.FullMethod, unary)}
	m.UnaryStarted(ctx)
	resp, err := handler(ctx, req)
	m.UnaryDone(ctx, err, start)
	return resp, err
}

func (g *grpcMetrics) streamServer(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	ctx := ss.Context()
	m := ServerMethod{g.method(info.FullMethod, callType(info.IsClientStream, info.IsServerStream))}
	m.StreamStarted(ctx)
	err := handler(srv, m.Messages(ss))
	m.StreamDone(ctx, err, start)
	return err
}

// ServerMethod counts the calls of one method of a server, as the
// interceptors of Metrics.ServerInterceptors do, for a server that does
// their work in an interceptor of its own (package rpc's, which does the
// work of several in one). The zero ServerMethod counts nothing.
type ServerMethod struct{ m *methodMetrics }

// UnaryServerMethod returns the counts of a unary method of a server,
// by its full name ("/service/method"); the zero ServerMethod when m is
// nil.
func (m *Metrics) UnaryServerMethod(fullMethod string) ServerMethod {
	if m == nil {
		return ServerMethod{}
	}
	return ServerMethod{m.grpcServer.method(fullMethod, unary)}
}

// StreamServerMethod returns the counts of the streaming method of info;
// the zero ServerMethod when m is nil.
func (m *Metrics) StreamServerMethod(info *grpc.StreamServerInfo) ServerMethod {
	if m == nil {
		return ServerMethod{}
	}
	return ServerMethod{m.grpcServer.method(info.FullMethod, callType(info.IsClientStream, info.IsServerStream))}
}

// UnaryStarted counts a unary call started and its request received.
func (s ServerMethod) UnaryStarted(ctx context.Context) {
	if s.m == nil {
		return
	}
	s.m.inc(ctx, s.m.started)
	s.m.received.Inc()
}

// UnaryDone counts the end of a unary call that started at start: its
// response sent, when err is nil, its status code and how long it took.
func (s ServerMethod) UnaryDone(ctx context.Context, err error, start time.Time) {
	if s.m == nil {
		return
	}
	if err == nil {
		s.m.sent.Inc()
	}
	s.m.done(ctx, err, start)
}

// StreamStarted counts a streaming call started.
func (s ServerMethod) StreamStarted(ctx context.Context) {
	if s.m != nil {
		s.m.inc(ctx, s.m.started)
	}
}

// Messages returns ss, counting the messages sent and received on it.
func (s ServerMethod) Messages(ss grpc.ServerStream) grpc.ServerStream {
	if s.m == nil {
		return ss
	}
	return &countingServerStream{ServerStream: ss, m: s.m}
}

// Sent counts a message sent on a stream.
func (s ServerMethod) Sent() {
	if s.m != nil {
		s.m.sent.Inc()
	}
}

// Received counts a message received on a stream.
func (s ServerMethod) Received() {
	if s.m != nil {
		s.m.received.Inc()
	}
}

// StreamDone counts the end of a streaming call that started at start:
// its status code and how long it took.
func (s ServerMethod) StreamDone(ctx context.Context, err error, start time.Time) {
	if s.m != nil {
		s.m.done(ctx, err, start)
	}
}

// countingServerStream counts the messages of a call.
type countingServerStream struct {
	grpc.ServerStream
	m *methodMetrics
}

func (s *countingServerStream) SendMsg(msg any) error {
	err := s.ServerStream.SendMsg(msg)
	if err == nil {
		s.m.sent.Inc()
	}
	return err
}

func (s *countingServerStream) RecvMsg(msg any) error {
	err := s.ServerStream.RecvMsg(msg)
	if err == nil {
		s.m.received.Inc()
	}
	return err
}

func (g *grpcMetrics) unaryClient(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	m := g.method(method, unary)
	m.inc(ctx, m.started)
	m.sent.Inc() // the request, handed to gRPC
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil {
		m.received.Inc()
	}
	m.done(ctx, err, start)
	return err
}

func (g *grpcMetrics) streamClient(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	start := time.Now()
	m := g.method(method, callType(desc.ClientStreams, desc.ServerStreams))
	m.inc(ctx, m.started)
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		m.done(ctx, err, start)
		return nil, err
	}
	s := &countingClientStream{ClientStream: cs, ctx: ctx, m: m, start: start, serverStreams: desc.ServerStreams}
	// A caller may also end a stream by cancelling its context, without
	// another receive: the call ends then, with the context's status.
	stop := context.AfterFunc(ctx, func() { s.end(status.FromContextError(ctx.Err()).Err()) })
	s.mu.Lock()
	s.stopWatch = stop
	s.mu.Unlock()
	return s, nil
}

// countingClientStream counts the messages of a call, and records its end
// once: when a receive fails (io.EOF is the server's OK), for a call with
// one response when that response arrives, or when the caller's context
// ends first.
type countingClientStream struct {
	grpc.ClientStream
	ctx           context.Context
	m             *methodMetrics
	start         time.Time
	serverStreams bool
	ended         atomic.Bool

	mu        sync.Mutex
	stopWatch func() bool // stops watching ctx; set just after the stream is made
}

func (s *countingClientStream) SendMsg(msg any) error {
	err := s.ClientStream.SendMsg(msg)
	if err == nil {
		s.m.sent.Inc()
	}
	return err
}

func (s *countingClientStream) RecvMsg(msg any) error {
	err := s.ClientStream.RecvMsg(msg)
	switch {
	case err == nil:
		s.m.received.Inc()
		if !s.serverStreams {
			s.end(nil)
		}
	case errors.Is(err, io.EOF):
		s.end(nil)
	default:
		s.end(err)
	}
	return err
}

func (s *countingClientStream) end(err error) {
	if s.ended.CompareAndSwap(false, true) {
		s.mu.Lock()
		stop := s.stopWatch
		s.mu.Unlock()
		if stop != nil {
			stop()
		}
		s.m.done(s.ctx, err, s.start)
	}
}
