package demo

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	demov1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/demo/v1"
)

const (
	// DefaultReplies is how many replies StreamReplies sends for a count
	// of 0.
	DefaultReplies = 5
	// MaxReplies is the largest count StreamReplies accepts.
	MaxReplies = 100

	// ServerStreamingMessage and ServerStreamingCount are what the
	// server-streaming client of `bookshop demo` asks for.
	ServerStreamingMessage = "Hello Server, send me some replies"
	ServerStreamingCount   = 3
)

// ServerStreamingServer is the ServerStreamingService demo: one request, a
// stream of responses.
type ServerStreamingServer struct {
	demov1.UnimplementedServerStreamingServiceServer
}

// StreamReplies sends count replies to the request's message, one at a
// time, each `Reply N of M to "<message>"` with index N; a count of 0 means
// DefaultReplies. Between replies it checks whether the call has ended, and
// stops if so. Errors: INVALID_ARGUMENT for a count below 0 or above
// MaxReplies; CANCELLED or DEADLINE_EXCEEDED when the call ends before the
// last reply.
func (ServerStreamingServer) StreamReplies(req *demov1.StreamRepliesRequest, stream grpc.ServerStreamingServer[demov1.StreamRepliesResponse]) error {
	count := req.GetCount()
	switch {
	case count < 0 || count > MaxReplies:
		return status.Errorf(codes.InvalidArgument, "count must be from 0 to %d (0 means %d), got %d", MaxReplies, DefaultReplies, count)
	case count == 0:
		count = DefaultReplies
	}
	ctx := stream.Context()
	for i := int32(1); i <= count; i++ {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		default:
		}
		err := stream.Send(&demov1.StreamRepliesResponse{
			Message: fmt.Sprintf("Reply %d of %d to %q", i, count, req.GetMessage()),
			Index:   i,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// CallServerStreaming asks the ServerStreamingService on conn for count
// replies to message, and writes the request and each reply to out, a line
// each, as the replies arrive. A ctx without a deadline gets
// DefaultTimeout. Errors: the call's gRPC status, wrapped, after the
// replies that came before it; or the first error of writing to out.
func CallServerStreaming(ctx context.Context, conn grpc.ClientConnInterface, out io.Writer, message string, count int32) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	p := &printer{w: out}
	method := demov1.ServerStreamingService_StreamReplies_FullMethodName

	req := &demov1.StreamRepliesRequest{Message: message, Count: count}
	p.print("sent", req)
	stream, err := demov1.NewServerStreamingServiceClient(conn).StreamReplies(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		p.print("received", resp)
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
