package demo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/demo"
	"github.com/bookshop-go/bookshop/internal/gen/bidirectionalpb"
)

// testContext returns a context that ends with the test or after 10s.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// startServer serves the four demo services over real gRPC on 127.0.0.1,
// at a free port, until the test ends, and returns a client connection to
// them.
func startServer(tb testing.TB, opts ...grpc.ServerOption) *grpc.ClientConn {
	tb.Helper()
	srv := grpc.NewServer(opts...)
	demo.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	tb.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatalf("grpc.NewClient(%q): %v", lis.Addr(), err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// lines splits a client's output into lines.
func lines(out string) []string {
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// checkLines reports the lines of got that differ from want.
func checkLines(tb testing.TB, call string, got string, want []string) {
	tb.Helper()
	gotLines := lines(got)
	if slices.Equal(gotLines, want) {
		return
	}
	for i := range max(len(gotLines), len(want)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			tb.Errorf("%s line %d = %s, want %s", call, i+1, g, w)
		}
	}
}

// TestUnary checks CallUnary against UnaryServer: the tutorial's answer,
// quoting the message as it came.
func TestUnary(t *testing.T) {
	conn := startServer(t)
	tests := []struct {
		name, message string
		want          []string
	}{
		{"tutorial message", demo.UnaryMessage, []string{
			`sent: message:"Hello Server you there?"`,
			`received: message:"Hello I am up and running received \"Hello Server you there?\" message from you" received:true`,
		}},
		{"empty message", "", []string{
			`sent: message:""`,
			`received: message:"Hello I am up and running received \"\" message from you" received:true`,
		}},
		{"quotes and non-ASCII kept as sent", `say "hé"`, []string{
			`sent: message:"say \"hé\""`,
			`received: message:"Hello I am up and running received \"say \"hé\"\" message from you" received:true`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := demo.CallUnary(testContext(t), conn, &out, tt.message); err != nil {
				t.Fatalf("CallUnary(%q) = %v", tt.message, err)
			}
			checkLines(t, fmt.Sprintf("CallUnary(%q)", tt.message), out.String(), tt.want)
		})
	}
}

// replies returns the lines CallServerStreaming writes for n replies to
// message.
func replies(message string, n int) []string {
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf(`received: message:"Reply %d of %d to \"%s\"" index:%d`, i, n, message, i))
	}
	return want
}

// TestServerStreaming checks the count rules of StreamReplies and the
// replies CallServerStreaming prints.
func TestServerStreaming(t *testing.T) {
	conn := startServer(t)
	tests := []struct {
		name     string
		count    int32
		wantCode codes.Code
		wantN    int // replies
	}{
		{"three", 3, codes.OK, 3},
		{"zero means five", 0, codes.OK, demo.DefaultReplies},
		{"one", 1, codes.OK, 1},
		{"the most", demo.MaxReplies, codes.OK, demo.MaxReplies},
		{"one too many", demo.MaxReplies + 1, codes.InvalidArgument, 0},
		{"negative", -1, codes.InvalidArgument, 0},
		{"most negative", -1 << 31, codes.InvalidArgument, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := demo.CallServerStreaming(testContext(t), conn, &out, "Tell me", tt.count)
			call := fmt.Sprintf("CallServerStreaming(%q, %d)", "Tell me", tt.count)
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("%s code = %v (%v), want %v", call, got, err, tt.wantCode)
			}
			if tt.wantCode == codes.InvalidArgument && !strings.Contains(status.Convert(err).Message(), fmt.Sprint(tt.count)) {
				t.Errorf("%s = %v, want a message naming the count", call, err)
			}
			want := append([]string{fmt.Sprintf(`sent: message:"Tell me" count:%d`, tt.count)}, replies("Tell me", tt.wantN)...)
			checkLines(t, call, out.String(), want)
		})
	}
}

// cancelAfterSends is a stream interceptor that ends the context of each
// call after the handler has sent n messages, as if the client had gone
// away at that point.
func cancelAfterSends(n int) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, cancel := context.WithCancel(ss.Context())
		defer cancel()
		return handler(srv, &cancellingStream{ServerStream: ss, ctx: ctx, cancel: cancel, left: n})
	}
}

// cancellingStream is a server stream whose context ends after a number of
// sends.
type cancellingStream struct {
	grpc.ServerStream
	ctx    context.Context
	cancel context.CancelFunc
	left   int
}

// Context returns the stream's own context, which the test ends.
func (s *cancellingStream) Context() context.Context { return s.ctx }

// SendMsg sends m, then ends the context once the last allowed send is done.
func (s *cancellingStream) SendMsg(m any) error {
	if err := s.ServerStream.SendMsg(m); err != nil {
		return err
	}
	if s.left--; s.left == 0 {
		s.cancel()
	}
	return nil
}

// TestServerStreamingStopsWhenCallEnds checks that StreamReplies watches
// the call's context between sends: once it ends, no more replies go out.
func TestServerStreamingStopsWhenCallEnds(t *testing.T) {
	conn := startServer(t, grpc.StreamInterceptor(cancelAfterSends(2)))
	var out bytes.Buffer
	err := demo.CallServerStreaming(testContext(t), conn, &out, "Tell me", demo.MaxReplies)
	if got := status.Code(err); got != codes.Canceled {
		t.Fatalf("CallServerStreaming with the call ended after 2 replies: code = %v (%v), want %v", got, err, codes.Canceled)
	}
	want := append([]string{fmt.Sprintf(`sent: message:"Tell me" count:%d`, demo.MaxReplies)}, replies("Tell me", demo.MaxReplies)[:2]...)
	checkLines(t, "CallServerStreaming", out.String(), want)
}

// TestClientStreaming checks the summaries of CollectMessages, from no
// messages to the most it accepts, and its refusal of one more.
func TestClientStreaming(t *testing.T) {
	conn := startServer(t)
	numbered := func(n int) []string {
		m := make([]string, n)
		for i := range m {
			m[i] = fmt.Sprintf("m%d", i+1)
		}
		return m
	}
	long := strings.Repeat("é", 60)
	tests := []struct {
		name        string
		messages    []string
		wantCode    codes.Code
		wantSummary string // for OK
	}{
		{"none", nil, codes.OK, `count:0 summary:"Received no messages"`},
		{"one", []string{"only"}, codes.OK, `count:1 summary:"Received 1 message: \"only\""`},
		{"the demo's", demo.ClientStreamingMessages(), codes.OK,
			`count:3 summary:"Received 3 messages: \"First message\", \"Second message\", \"Third message\""`},
		{"five listed", numbered(5), codes.OK, `count:5 summary:"Received 5 messages: \"m1\", \"m2\", \"m3\", \"m4\", \"m5\""`},
		{"six: first and last", numbered(6), codes.OK, `count:6 summary:"Received 6 messages: \"m1\", ..., \"m6\""`},
		{"empty messages", []string{"", ""}, codes.OK, `count:2 summary:"Received 2 messages: \"\", \"\""`},
		{"long message cut", []string{long}, codes.OK,
			`count:1 summary:"Received 1 message: \"` + strings.Repeat("é", 50) + `...\""`},
		{"the most", numbered(demo.MaxMessages), codes.OK, `count:10000 summary:"Received 10000 messages: \"m1\", ..., \"m10000\""`},
		{"one too many", numbered(demo.MaxMessages + 1), codes.InvalidArgument, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := demo.CallClientStreaming(testContext(t), conn, &out, tt.messages)
			call := fmt.Sprintf("CallClientStreaming(%d messages)", len(tt.messages))
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("%s code = %v (%v), want %v", call, got, err, tt.wantCode)
			}
			got := lines(out.String())
			if tt.wantCode != codes.OK {
				if last := got[len(got)-1]; strings.HasPrefix(last, "received:") {
					t.Errorf("%s failed with %v but wrote %s", call, err, last)
				}
				return
			}
			var want []string
			for _, m := range tt.messages {
				want = append(want, fmt.Sprintf("sent: message:%q", m))
			}
			want = append(want, "received: "+tt.wantSummary)
			checkLines(t, call, out.String(), want)
		})
	}
}

// TestBidirectional checks what CallBidirectional writes: a line for each
// message sent and each echo, each direction in order, each echo after the
// message it echoes.
func TestBidirectional(t *testing.T) {
	conn := startServer(t)
	messages := demo.BidirectionalMessages()
	var out bytes.Buffer
	if err := demo.CallBidirectional(testContext(t), conn, &out, messages); err != nil {
		t.Fatalf("CallBidirectional = %v", err)
	}
	got := lines(out.String())
	var sent, received []string
	for _, l := range got {
		switch {
		case strings.HasPrefix(l, "sent: "):
			sent = append(sent, l)
		case strings.HasPrefix(l, "received: "):
			received = append(received, l)
		default:
			t.Errorf("CallBidirectional wrote %q, want sent: or received: lines only", l)
		}
	}
	for i, m := range messages {
		wantSent := fmt.Sprintf("sent: message:%q", m)
		wantReceived := fmt.Sprintf("received: message:%q", m)
		if i >= len(sent) || sent[i] != wantSent {
			t.Errorf("CallBidirectional sent line %d = %v, want %s", i+1, sent[i:min(i+1, len(sent))], wantSent)
		}
		if i >= len(received) || received[i] != wantReceived {
			t.Errorf("CallBidirectional received line %d = %v, want %s", i+1, received[i:min(i+1, len(received))], wantReceived)
			continue
		}
		if slices.Index(got, wantReceived) < slices.Index(got, wantSent) {
			t.Errorf("CallBidirectional wrote %s before %s:\n%s", wantReceived, wantSent, out.String())
		}
	}
	if len(got) != 2*len(messages) {
		t.Errorf("CallBidirectional wrote %d lines, want %d:\n%s", len(got), 2*len(messages), out.String())
	}

	out.Reset()
	if err := demo.CallBidirectional(testContext(t), conn, &out, nil); err != nil || out.Len() != 0 {
		t.Errorf("CallBidirectional(no messages) = %v and wrote %q, want nil and nothing", err, out.String())
	}
}

// TestBidirectionalEchoesAsMessagesArrive checks that the server answers
// each message before the client sends the next: the client sends one,
// waits for its echo, then sends the next. A server that waited for the
// end of the client's stream would fail this at the deadline.
func TestBidirectionalEchoesAsMessagesArrive(t *testing.T) {
	client := bidirectionalpb.NewBidirectionalClient(startServer(t))
	ctx, cancel := context.WithTimeout(testContext(t), 5*time.Second)
	defer cancel()
	stream, err := client.GetServerResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range demo.BidirectionalMessages() {
		if err := stream.Send(&bidirectionalpb.Message{Message: m}); err != nil {
			t.Fatalf("Send(%q): %v", m, err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv after Send(%q), with the client's stream still open: %v", m, err)
		}
		if resp.GetMessage() != m {
			t.Errorf("echo of %q = %q", m, resp.GetMessage())
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after CloseSend = %v, %v; want io.EOF", resp, err)
	}
}

// requireDeadline is a server interceptor pair that refuses calls without
// a deadline.
func requireDeadline() []grpc.ServerOption {
	check := func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return status.Error(codes.FailedPrecondition, "call has no deadline")
		}
		return nil
	}
	return []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if err := check(ctx); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if err := check(ss.Context()); err != nil {
				return err
			}
			return handler(srv, ss)
		}),
	}
}

// TestClientsSetDeadline checks that every client gives its call a
// deadline when its context has none.
func TestClientsSetDeadline(t *testing.T) {
	conn := startServer(t, requireDeadline()...)
	ctx := context.Background() // no deadline: the clients must add one
	calls := map[string]func() error{
		"CallUnary": func() error { return demo.CallUnary(ctx, conn, io.Discard, "hi") },
		"CallServerStreaming": func() error {
			return demo.CallServerStreaming(ctx, conn, io.Discard, "hi", 1)
		},
		"CallClientStreaming": func() error {
			return demo.CallClientStreaming(ctx, conn, io.Discard, []string{"hi"})
		},
		"CallBidirectional": func() error {
			return demo.CallBidirectional(ctx, conn, io.Discard, []string{"hi"})
		},
	}
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s with no deadline in its context = %v, want nil", name, err)
		}
	}
}

// failingWriter fails every write.
type failingWriter struct{}

// Write fails.
func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestClientsReportWriteErrors checks that a client whose output fails
// says so.
func TestClientsReportWriteErrors(t *testing.T) {
	conn := startServer(t)
	ctx := testContext(t)
	errs := map[string]error{
		"CallUnary":           demo.CallUnary(ctx, conn, failingWriter{}, "hi"),
		"CallServerStreaming": demo.CallServerStreaming(ctx, conn, failingWriter{}, "hi", 2),
		"CallClientStreaming": demo.CallClientStreaming(ctx, conn, failingWriter{}, []string{"hi"}),
		"CallBidirectional":   demo.CallBidirectional(ctx, conn, failingWriter{}, []string{"hi"}),
	}
	for name, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s writing to a failing writer = %v, want the write error", name, err)
		}
	}
}
