package rpc

import (
	"bytes"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec requestCodec decodes with
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// requestCodec is the servers' codec: grpc-go's protobuf codec, except
// that a request that does not decode becomes the caller's mistake. grpc-go
// answers one (text that is not UTF-8, which a proto3 string must be, or
// bytes that are no message) with INTERNAL and its own words, "grpc:
// failed to unmarshal the received message: ...", as if the server had
// failed, and sends that status itself, before the handler or any
// interceptor has the error. So the codec does not fail: it leaves the
// message empty and marked (see markMalformed), and the server's
// interceptor answers a marked message with INVALID_ARGUMENT (see
// malformed), which the access log and the metrics count as any other.
// A request that decodes costs nothing more.
type requestCodec struct{ encoding.CodecV2 }

func newRequestCodec() requestCodec {
	return requestCodec{encoding.GetCodecV2("proto")}
}

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	proto.Reset(m)
	markMalformed(m, err)
	return nil
}

// malformedField is the field number of the mark: the largest there is,
// which no contract of ours uses.
const malformedField = protowire.MaxValidNumber

// The marks, as the unknown fields of a message: malformedField, holding
// what is wrong.
var (
	markNotUTF8  = mark("a text field is not valid UTF-8")
	markNotProto = mark("not a message of the method's request type")
	markPrefix   = protowire.AppendTag(nil, malformedField, protowire.BytesType)
)

func mark(why string) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, malformedField, protowire.BytesType), []byte(why))
}

// markMalformed marks the empty message m as a request that did not
// decode, with err. (protobuf-go's error for a string that is not UTF-8
// is not exported: it is known by its text.)
func markMalformed(m proto.Message, err error) {
	why := markNotProto
	if strings.Contains(err.Error(), "UTF-8") {
		why = markNotUTF8
	}
	m.ProtoReflect().SetUnknown(why)
}

// malformed returns INVALID_ARGUMENT, saying what is wrong, for a request
// that requestCodec marked, and nil for any other.
func malformed(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	u := m.ProtoReflect().GetUnknown()
	if !bytes.HasPrefix(u, markPrefix) {
		return nil
	}
	why, n := protowire.ConsumeBytes(u[len(markPrefix):])
	if n < 0 {
		why = []byte("not a message of the method's request type")
	}
	return status.Error(codes.InvalidArgument, "malformed request: "+string(why))
}
