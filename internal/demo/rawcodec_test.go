package demo_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec is a gRPC codec that leaves messages as bytes: it sends a
// *[]byte as it is and receives into a *[]byte, so that a test writes its
// requests and reads the responses in the protobuf wire format itself,
// with no generated code between it and the server. Pass it to a call with
// grpc.ForceCodecV2(rawCodec{}).
//
// It is named "proto", so the call's content type stays
// application/grpc+proto and the server decodes the bytes with its own
// protobuf codec, as it would those of any client, the tutorial's Python
// clients included.
type rawCodec struct{}

// Marshal returns the bytes v points to. v must be a *[]byte.
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot send %T, want *[]byte", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

// Unmarshal stores a copy of data in v. v must be a *[]byte.
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot receive into %T, want *[]byte", v)
	}
	*b = data.Materialize()
	return nil
}

// Name is "proto": see rawCodec.
func (rawCodec) Name() string { return "proto" }

// wireField is one field of a message in the protobuf wire format.
type wireField struct {
	num    protowire.Number
	typ    protowire.Type
	varint uint64 // the value, for protowire.VarintType
	bytes  []byte // the value, for protowire.BytesType
}

// String describes f as the test messages show it, for example
// `field 1 bytes "hello"` or `field 2 varint 1`.
func (f wireField) String() string {
	switch f.typ {
	case protowire.VarintType:
		return fmt.Sprintf("field %d varint %d", f.num, f.varint)
	case protowire.BytesType:
		return fmt.Sprintf("field %d bytes %q", f.num, f.bytes)
	default:
		return fmt.Sprintf("field %d wire type %d", f.num, f.typ)
	}
}

// stringField returns field num as a length-delimited string, the way
// protobuf encodes a string field.
func stringField(num protowire.Number, s string) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// parseFields parses a message in the protobuf wire format into its
// fields, in the order they come, failing the test on malformed input.
func parseFields(tb testing.TB, b []byte) []wireField {
	tb.Helper()
	var fields []wireField
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			tb.Fatalf("bad tag in %x: %v", b, protowire.ParseError(n))
		}
		b = b[n:]
		f := wireField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.varint, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.bytes, n = protowire.ConsumeBytes(b)
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
