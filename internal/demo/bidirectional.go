package demo

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/gen/bidirectionalpb"
)

// BidirectionalMessages returns what the tutorial's bidirectional client
// sends.
func BidirectionalMessages() []string {
	return []string{"First message", "Second message", "Third message", "Fourth message", "Fifth message"}
}

// BidirectionalServer is the tutorial's Bidirectional service: both sides
// stream at once.
type BidirectionalServer struct {
	bidirectionalpb.UnimplementedBidirectionalServer
}

// GetServerResponse echoes each message as it arrives: it sends the echo
// before it reads the next message. It returns when the client closes its
// side of the stream. Errors: the stream's error when the call ends early.
func (BidirectionalServer) GetServerResponse(stream grpc.BidiStreamingServer[bidirectionalpb.Message, bidirectionalpb.Message]) error {
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&bidirectionalpb.Message{Message: in.GetMessage()}); err != nil {
			return err
		}
	}
}

// CallBidirectional sends messages to the Bidirectional service on conn
// while it receives the server's messages in a goroutine of its own, and
// writes each message sent and received to out, a line each. A "sent" line
// is written before its message is sent, so an echo always comes after
// the message it echoes; how the two directions interleave otherwise
// depends on timing. It returns once the server has ended its stream. A ctx
// without a deadline gets DefaultTimeout. Errors: the call's gRPC status,
// wrapped; or the first error of writing to out.
func CallBidirectional(ctx context.Context, conn grpc.ClientConnInterface, out io.Writer, messages []string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	p := &printer{w: out}
	method := bidirectionalpb.Bidirectional_GetServerResponse_FullMethodName

	stream, err := bidirectionalpb.NewBidirectionalClient(conn).GetServerResponse(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	received := make(chan error, 1)
	go func() {
		for {
			in, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				received <- nil
				return
			}
			if err != nil {
				received <- err
				return
			}
			p.print("received", in)
		}
	}()

	for _, m := range messages {
		msg := &bidirectionalpb.Message{Message: m}
		p.print("sent", msg)
		if err := stream.Send(msg); err != nil {
			if errors.Is(err, io.EOF) {
				break // the call has ended: Recv says why
			}
			cancel()
			<-received
			return fmt.Errorf("%s: send: %w", method, err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		cancel()
		<-received
		return fmt.Errorf("%s: close send: %w", method, err)
	}
	if err := <-received; err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
