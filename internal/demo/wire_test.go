package demo_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// The tutorial's method paths, written out here rather than taken from
// generated code, so that a change to our contracts that moves them fails
// these tests.
const (
	tutorialUnary         = "/unary.Unary/GetServerResponse"
	tutorialBidirectional = "/bidirectional.Bidirectional/GetServerResponse"
)

// TestWireUnary calls the tutorial's unary method with requests written
// byte by byte and reads the answer byte by byte: message is field 1,
// length-delimited, and received is field 2, a varint 1.
func TestWireUnary(t *testing.T) {
	conn := startServer(t)
	answer := func(m string) string {
		return `Hello I am up and running received "` + m + `" message from you`
	}
	tests := []struct {
		name string
		req  []byte
		want []string
	}{
		{"tutorial message", rpctest.StringField(1, "Hello Server you there?"), []string{
			fmt.Sprintf("field 1 bytes %q", answer("Hello Server you there?")),
			"field 2 varint 1",
		}},
		// proto3 does not send an empty string: the request has no bytes.
		{"empty request", nil, []string{
			fmt.Sprintf("field 1 bytes %q", answer("")),
			"field 2 varint 1",
		}},
		// A field the server does not know, as a newer client might send,
		// is skipped.
		{"unknown field", append(rpctest.StringField(1, "hi"), protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 7)...), []string{
			fmt.Sprintf("field 1 bytes %q", answer("hi")),
			"field 2 varint 1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp []byte
			if err := conn.Invoke(testContext(t), tutorialUnary, &tt.req, &resp, grpc.ForceCodecV2(rpctest.RawCodec{})); err != nil {
				t.Fatalf("Invoke(%s, %x): %v", tutorialUnary, tt.req, err)
			}
			got := rpctest.DescribeFields(t, resp)
			// Fields may come in any order on the wire; compare them by number.
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Invoke(%s, %x) answered %q, want %q", tutorialUnary, tt.req, got, tt.want)
			}
		})
	}
}

// TestWireBidirectional streams hand-built messages to the tutorial's
// bidirectional method and reads each echo byte by byte before sending the
// next.
func TestWireBidirectional(t *testing.T) {
	conn := startServer(t)
	ctx := testContext(t)
	desc := &grpc.StreamDesc{StreamName: "GetServerResponse", ServerStreams: true, ClientStreams: true}
	stream, err := conn.NewStream(ctx, desc, tutorialBidirectional, grpc.ForceCodecV2(rpctest.RawCodec{}))
	if err != nil {
		t.Fatalf("NewStream(%s): %v", tutorialBidirectional, err)
	}
	for _, m := range []string{"First message", "Second message", "", "Fifth message"} {
		req := rpctest.StringField(1, m)
		if m == "" {
			req = nil // proto3 does not send an empty string
		}
		if err := stream.SendMsg(&req); err != nil {
			t.Fatalf("SendMsg(%x): %v", req, err)
		}
		var resp []byte
		if err := stream.RecvMsg(&resp); err != nil {
			t.Fatalf("RecvMsg after SendMsg(%x): %v", req, err)
		}
		var want []string
		if m != "" {
			want = []string{fmt.Sprintf("field 1 bytes %q", m)}
		}
		if got := rpctest.DescribeFields(t, resp); !slices.Equal(got, want) {
			t.Errorf("echo of %x = %q, want %q", req, got, want)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var resp []byte
	if err := stream.RecvMsg(&resp); !errors.Is(err, io.EOF) {
		t.Errorf("RecvMsg after CloseSend = %x, %v; want io.EOF", resp, err)
	}
}
