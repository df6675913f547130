package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	demov1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/demo/v1"
)

const (
	// MaxMessages is the most messages CollectMessages accepts in one call.
	MaxMessages = 10000

	// summaryAll is the most messages a summary lists in full; past it, a
	// summary lists the first and the last.
	summaryAll = 5
	// summaryRunes is how much of each message a summary quotes, in
	// characters, so that a summary stays small whatever the client sends.
	summaryRunes = 50
)

// ClientStreamingMessages returns what the client-streaming client of
// `bookshop demo` sends.
func ClientStreamingMessages() []string {
	return []string{"First message", "Second message", "Third message"}
}

// ClientStreamingServer is the ClientStreamingService demo: a stream of
// requests, one response.
type ClientStreamingServer struct {
	demov1.UnimplementedClientStreamingServiceServer
}

// CollectMessages reads the client's messages until the client closes its
// side of the stream, then answers with how many arrived and a summary
// that quotes them:
//
//	Received no messages
//	Received 1 message: "a"
//	Received 3 messages: "a", "b", "c"
//	Received 6 messages: "a", ..., "f"
//
// Up to 5 messages are all listed; past that, the first and the last. Each
// is quoted as Go quotes strings, cut to its first 50 characters and "...".
// It keeps only what the summary needs, not every message. Errors:
// INVALID_ARGUMENT as soon as message MaxMessages+1 arrives; the stream's
// error when the call ends early.
func (ClientStreamingServer) CollectMessages(stream grpc.ClientStreamingServer[demov1.CollectMessagesRequest, demov1.CollectMessagesResponse]) error {
	var (
		n     int
		first []string // the first summaryAll messages, cut short
		last  string   // the last message, cut short
	)
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&demov1.CollectMessagesResponse{
				Count:   int32(n),
				Summary: summary(n, first, last),
			})
		}
		if err != nil {
			return err
		}
		n++
		if n > MaxMessages {
			return status.Errorf(codes.InvalidArgument, "too many messages: at most %d in one call", MaxMessages)
		}
		last = cut(req.GetMessage())
		if len(first) < summaryAll {
			first = append(first, last)
		}
	}
}

// summary describes n messages, of which first are the first few and last
// the last, as CollectMessages documents.
func summary(n int, first []string, last string) string {
	switch {
	case n == 0:
		return "Received no messages"
	case n == 1:
		return fmt.Sprintf("Received 1 message: %q", last)
	}
	quoted := make([]string, 0, len(first))
	for _, m := range first {
		quoted = append(quoted, fmt.Sprintf("%q", m))
	}
	if n > summaryAll {
		quoted = []string{quoted[0], "...", fmt.Sprintf("%q", last)}
	}
	return fmt.Sprintf("Received %d messages: %s", n, strings.Join(quoted, ", "))
}

// cut returns m, or its first summaryRunes characters and "..." when it is
// longer.
func cut(m string) string {
	i := 0
	for pos := range m {
		if i == summaryRunes {
			return m[:pos] + "..."
		}
		i++
	}
	return m
}

// CallClientStreaming sends messages to the ClientStreamingService on conn,
// one at a time, then closes its side of the stream and waits for the
// answer. It writes each message and the answer to out, a line each. A ctx
// without a deadline gets DefaultTimeout. Errors: the call's gRPC status,
// wrapped (the server may end the call before every message is sent); or
// the first error of writing to out.
func CallClientStreaming(ctx context.Context, conn grpc.ClientConnInterface, out io.Writer, messages []string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	p := &printer{w: out}
	method := demov1.ClientStreamingService_CollectMessages_FullMethodName

	stream, err := demov1.NewClientStreamingServiceClient(conn).CollectMessages(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for _, m := range messages {
		req := &demov1.CollectMessagesRequest{Message: m}
		p.print("sent", req)
		if err := stream.Send(req); err != nil {
			if errors.Is(err, io.EOF) {
				break // the call has ended: CloseAndRecv says why
			}
			return fmt.Errorf("%s: send: %w", method, err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	p.print("received", resp)
	if err := p.Err(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
