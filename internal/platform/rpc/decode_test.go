package rpc_test

import (
	"bytes"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// rawCodec sends a call's bytes as they are, so that a test can send what
// no generated client would: text that is not UTF-8, bytes that are no
// message.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = bytes.Clone(data)
	return nil
}
func (rawCodec) Name() string { return "proto" } // what the server decodes

// TestDecodeErrors sends requests that cannot be read to a server's unary
// and streaming methods, the tutorial's Recommend among them, and wants
// the caller's error in our words: INVALID_ARGUMENT for text that is not
// UTF-8 (which a proto3 string must be) and for bytes that are no
// message, where grpc-go answers INTERNAL in its own (see requestCodec);
// and RESOURCE_EXHAUSTED for one past the size limit, grpc-go's answer
// before any codec. The server serves on.
func TestDecodeErrors(t *testing.T) {
	addr := startBuiltin(t, nil)
	conn := rpctest.Dial(t, addr)
	ctx := rpctest.Context(t)
	notUTF8 := []byte{0x0a, 0x02, 0xff, 0xfe} // field 1, a string, of two bytes that are not UTF-8
	garbage := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	huge := append([]byte{0x0a, 0x80, 0x80, 0x80, 0x03}, bytes.Repeat([]byte("a"), 6<<20)...) // 6 MiB of "a"
	for _, tt := range []struct {
		method string
		stream bool
		req    []byte
		code   codes.Code
		msg    string
	}{
		{"/grpc.health.v1.Health/Check", false, notUTF8, codes.InvalidArgument, "malformed request: a text field is not valid UTF-8"},
		{"/grpc.health.v1.Health/Check", false, garbage, codes.InvalidArgument, "malformed request: not a message of the method's request type"},
		{"/Recommendations/Recommend", false, garbage, codes.InvalidArgument, "malformed request: not a message of the method's request type"},
		{"/Recommendations/Recommend", false, huge, codes.ResourceExhausted, fmt.Sprintf("grpc: received message larger than max (%d vs. %d)", len(huge), rpc.DefaultMaxRecvMessageSize)},
		{"/grpc.health.v1.Health/Watch", true, notUTF8, codes.InvalidArgument, "malformed request: a text field is not valid UTF-8"},
	} {
		var err error
		var reply []byte
		if !tt.stream {
			err = conn.Invoke(ctx, tt.method, &tt.req, &reply, grpc.ForceCodec(rawCodec{}))
		} else {
			var s grpc.ClientStream
			s, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, tt.method, grpc.ForceCodec(rawCodec{}))
			if err == nil {
				if err = s.SendMsg(&tt.req); err == nil {
					_ = s.CloseSend()
					err = s.RecvMsg(&reply)
				}
			}
		}
		if st := status.Convert(err); st.Code() != tt.code || st.Message() != tt.msg {
			t.Errorf("%s with %d bytes that cannot be read = %v; want %v %q", tt.method, len(tt.req), err, tt.code, tt.msg)
		}
	}
	if resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Check after them = %v, %v; want SERVING", resp.GetStatus(), err)
	}
}
