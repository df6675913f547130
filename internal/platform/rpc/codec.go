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

// malformedField is the field number of the mark: 0, which is no field's,
// so that no message a client sends can carry the mark (the decoder
// refuses field 0 as bytes that are no message).
const malformedField protowire.Number = 0

// A markOf is a mark that requestCodec leaves as the unknown fields of a
// message that did not decode (malformedField, holding why), with what the
// caller is told.
type markOf struct {
	mark []byte
	msg  string
}

func newMark(why string) markOf {
	return markOf{
		mark: protowire.AppendBytes(protowire.AppendTag(nil, malformedField, protowire.BytesType), []byte(why)),
		msg:  "malformed request: " + why,
	}
}

// The marks: the first for any message that did not decode, the second
// for one whose text is not UTF-8.
var marks = [...]markOf{
	newMark("not a message of the method's request type"),
	newMark("a text field is not valid UTF-8"),
}

// markMalformed marks the empty message m as a request that did not
// decode, with err. (protobuf-go's error for a string that is not UTF-8
// is not exported: it is known by its text.)
func markMalformed(m proto.Message, err error) {
	mark := marks[0].mark
	if strings.Contains(err.Error(), "UTF-8") {
		mark = marks[1].mark
	}
	m.ProtoReflect().SetUnknown(mark)
}

// malformed returns INVALID_ARGUMENT, saying what is wrong, for a request
// that requestCodec marked, and nil for any other: a message with no
// unknown fields, the most, after one length check.
func malformed(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	u := m.ProtoReflect().GetUnknown()
	if len(u) == 0 {
		return nil
	}
	for _, k := range marks {
		if bytes.Equal(u, k.mark) {
			return status.Error(codes.InvalidArgument, k.msg)
		}
	}
	return nil
}
