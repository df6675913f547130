package rpctest

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// RawCodec is a gRPC codec that leaves messages as bytes: it sends a
// *[]byte as it is and receives into a *[]byte, so that a test writes its
// requests and reads the responses in the protobuf wire format itself, with
// no generated code between it and the server. Pass it to a call with
// grpc.ForceCodecV2(RawCodec{}).
//
// It is named "proto", so the call's content type stays
// application/grpc+proto and the server decodes the bytes with its own
// protobuf codec, as it would those of any client, the tutorial's Python
// clients included.
type RawCodec struct{}

// Marshal returns the bytes v points to. v must be a *[]byte.
func (RawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("RawCodec: cannot send %T, want *[]byte", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

// Unmarshal stores a copy of data in v. v must be a *[]byte.
func (RawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("RawCodec: cannot receive into %T, want *[]byte", v)
	}
	*b = data.Materialize()
	return nil
}

// Name is "proto": see RawCodec.
func (RawCodec) Name() string { return "proto" }

// WireField is one field of a message in the protobuf wire format.
type WireField struct {
	Num    protowire.Number
	Type   protowire.Type
	Varint uint64 // the value, for protowire.VarintType
	Bytes  []byte // the value, for protowire.BytesType
}

// String describes f as test messages show it, for example
// `field 1 bytes "hello"` or `field 2 varint 1`.
func (f WireField) String() string {
	switch f.Type {
	case protowire.VarintType:
		return fmt.Sprintf("field %d varint %d", f.Num, f.Varint)
	case protowire.BytesType:
		return fmt.Sprintf("field %d bytes %q", f.Num, f.Bytes)
	default:
		return fmt.Sprintf("field %d wire type %d", f.Num, f.Type)
	}
}

// StringField returns field num as a length-delimited string (or nested
// message), the way protobuf encodes one.
func StringField(num protowire.Number, s string) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// VarintField returns field num as a varint, the way protobuf encodes an
// int32, an enum or a bool. Negative int32 values take ten bytes, as
// uint64(int64(v)).
func VarintField(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// ParseFields parses a message in the protobuf wire format into its
// fields, in the order they come, failing the test on malformed input.
func ParseFields(tb testing.TB, b []byte) []WireField {
	tb.Helper()
	var fields []WireField
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			tb.Fatalf("bad tag in %x: %v", b, protowire.ParseError(n))
		}
		b = b[n:]
		f := WireField{Num: num, Type: typ}
		switch typ {
		case protowire.VarintType:
			f.Varint, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.Bytes, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			tb.Fatalf("bad value of field %d in %x: %v", num, b, protowire.ParseError(n))
		}
		b = b[n:]
		fields = append(fields, f)
	}
	return fields
}

// DescribeFields parses b and describes each field with WireField.String.
func DescribeFields(tb testing.TB, b []byte) []string {
	tb.Helper()
	fields := ParseFields(tb, b)
	s := make([]string, len(fields))
	for i, f := range fields {
		s[i] = f.String()
	}
	return s
}
