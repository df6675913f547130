// Package demo holds the demo services of the tutorial "Python
// Microservices with gRPC" and a client for each, one pair for each of the
// four kinds of gRPC call:
//
//   - unary, one request and one response: the tutorial's
//     /unary.Unary/GetServerResponse ([UnaryServer], [CallUnary]);
//   - server streaming, one request and a stream of responses:
//     /bookshop.demo.v1.ServerStreamingService/StreamReplies
//     ([ServerStreamingServer], [CallServerStreaming]);
//   - client streaming, a stream of requests and one response:
//     /bookshop.demo.v1.ClientStreamingService/CollectMessages
//     ([ClientStreamingServer], [CallClientStreaming]);
//   - bidirectional streaming, both sides streaming at once: the tutorial's
//     /bidirectional.Bidirectional/GetServerResponse
//     ([BidirectionalServer], [CallBidirectional]).
//
// The servers have no dependencies and keep nothing between calls; their
// zero values are ready to use, and [Register] registers all four. The
// clients write each message they send and receive to an io.Writer, one
// line each, as the tutorial's clients print theirs:
//
//	sent: message:"Hello Server you there?"
//	received: message:"Hello I am up and running received \"Hello Server you there?\" message from you" received:true
//
// A line is "sent: " or "received: ", then every field of the message as
// name:value, in the order the .proto declares them, strings quoted as Go
// quotes them.
package demo

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bookshop-go/bookshop/internal/gen/bidirectionalpb"
	demov1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/demo/v1"
	"github.com/bookshop-go/bookshop/internal/gen/unarypb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultTimeout is the deadline the clients give a call whose context has
// none, so that every call has one.
const DefaultTimeout = 10 * time.Second

// Register registers the four demo services on s.
func Register(s grpc.ServiceRegistrar) {
	unarypb.RegisterUnaryServer(s, UnaryServer{})
	demov1.RegisterServerStreamingServiceServer(s, ServerStreamingServer{})
	demov1.RegisterClientStreamingServiceServer(s, ClientStreamingServer{})
	bidirectionalpb.RegisterBidirectionalServer(s, BidirectionalServer{})
}

// withDeadline returns ctx, with DefaultTimeout added when it has no
// deadline.
func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// printer writes a client's messages to w, a line each, in the format the
// package documents. It is safe for concurrent use, so that a sender and a
// receiver can share it, and it keeps the first write error.
type printer struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// print writes one line: direction ("sent" or "received") and m. After a
// write error it writes nothing more.
func (p *printer) print(direction string, m proto.Message) {
	line := direction + ": " + format(m) + "\n"
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		_, p.err = io.WriteString(p.w, line)
	}
}

// Err returns the first error of writing to w, or nil.
func (p *printer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// format writes m's fields as name:value separated by spaces, in the order
// the .proto declares them, zero values included, strings quoted as Go
// quotes them. It is meant for messages of scalar fields, as every demo
// message is. (prototext is not used because its output varies on purpose
// from build to build.)
func format(m proto.Message) string {
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	var b strings.Builder
	for i := range fields.Len() {
		fd := fields.Get(i)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(fd.Name()))
		b.WriteByte(':')
		v := r.Get(fd)
		if fd.Kind() == protoreflect.StringKind {
			b.WriteString(strconv.Quote(v.String()))
		} else {
			b.WriteString(v.String())
		}
	}
	return b.String()
}

// Policy returns who may call the demo services: anyone, with or without
// a certificate. They are demos of the kinds of call, with nothing to
// protect.
func Policy() rpc.Policy {
	return rpc.Policy{
		rpc.ServiceKey(unarypb.Unary_ServiceDesc):                 {rpc.Anyone},
		rpc.ServiceKey(demov1.ServerStreamingService_ServiceDesc): {rpc.Anyone},
		rpc.ServiceKey(demov1.ClientStreamingService_ServiceDesc): {rpc.Anyone},
		rpc.ServiceKey(bidirectionalpb.Bidirectional_ServiceDesc): {rpc.Anyone},
	}
}
