package rpc_test

import (
	"bytes"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// TestDecodeErrors sends requests that cannot be read to a server's unary
// and streaming methods, the tutorial's Recommend among them, and wants
// the caller's error in our words: INVALID_ARGUMENT for text that is not
// UTF-8 (which a proto3 string must be) and for bytes that are no
// message, where grpc-go answers INTERNAL in its own (see requestCodec);
// and RESOURCE_EXHAUSTED for one past the size limit, grpc-go's answer
// before any codec. A request with a field of the largest number, which
// the server does not know, is served: no client can forge the mark of a
// request that did not decode. The server serves on.
func TestDecodeErrors(t *testing.T) {
	addr := startBuiltin(t, nil)
	conn := rpctest.Dial(t, addr)
	ctx := rpctest.Context(t)
	notUTF8 := []byte{0x0a, 0x02, 0xff, 0xfe} // field 1, a string, of two bytes that are not UTF-8
	garbage := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	huge := append([]byte{0x0a, 0x80, 0x80, 0x80, 0x03}, bytes.Repeat([]byte("a"), 6<<20)...) // 6 MiB of "a"
	// A health check of the whole server, with an unknown field of the
	// largest number, that a newer client might send.
	unknown := protowire.AppendBytes(protowire.AppendTag(nil, protowire.MaxValidNumber, protowire.BytesType), []byte("from a newer client"))
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
		{"/grpc.health.v1.Health/Check", false, unknown, codes.OK, ""},
	} {
		var err error
		var reply []byte
		if !tt.stream {
			err = conn.Invoke(ctx, tt.method, &tt.req, &reply, grpc.ForceCodecV2(rpctest.RawCodec{}))
		} else {
			var s grpc.ClientStream
			s, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, tt.method, grpc.ForceCodecV2(rpctest.RawCodec{}))
			if err == nil {
				if err = s.SendMsg(&tt.req); err == nil {
					_ = s.CloseSend()
					err = s.RecvMsg(&reply)
				}
			}
		}
		if st := status.Convert(err); st.Code() != tt.code || st.Message() != tt.msg {
			t.Errorf("%s with %d bytes = %v; want %v %q", tt.method, len(tt.req), err, tt.code, tt.msg)
		}
	}
	// SERVING, as the reply to the last: field 1, the status 1.
	var reply []byte
	if err := conn.Invoke(ctx, "/grpc.health.v1.Health/Check", &[]byte{}, &reply, grpc.ForceCodecV2(rpctest.RawCodec{})); err != nil || !bytes.Equal(reply, []byte{0x08, 0x01}) {
		t.Errorf("Check after them = %x, %v; want SERVING (0801)", reply, err)
	}
}
