package demo

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/gen/unarypb"
)

// UnaryMessage is what the tutorial's unary client sends.
const UnaryMessage = "Hello Server you there?"

// UnaryServer is the tutorial's Unary service: one request, one response.
type UnaryServer struct {
	unarypb.UnimplementedUnaryServer
}

// GetServerResponse answers a message as the tutorial's server does: with
// `Hello I am up and running received "<message>" message from you`, the
// message as it came, and received = true. It returns no errors.
func (UnaryServer) GetServerResponse(_ context.Context, req *unarypb.Message) (*unarypb.MessageResponse, error) {
	return &unarypb.MessageResponse{
		Message:  `Hello I am up and running received "` + req.GetMessage() + `" message from you`,
		Received: true,
	}, nil
}

// CallUnary sends message to the Unary service on conn and writes the
// request and the response to out, a line each. A ctx without a deadline
// gets DefaultTimeout. Errors: the call's gRPC status, wrapped; or the
// first error of writing to out.
func CallUnary(ctx context.Context, conn grpc.ClientConnInterface, out io.Writer, message string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	p := &printer{w: out}

	req := &unarypb.Message{Message: message}
	p.print("sent", req)
	resp, err := unarypb.NewUnaryClient(conn).GetServerResponse(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", unarypb.Unary_GetServerResponse_FullMethodName, err)
	}
	p.print("received", resp)
	if err := p.Err(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
