package reflection

import (
	"strings"
	"testing"

	_ "google.golang.org/genproto/googleapis/rpc/code" // a file of one enum alone
	"google.golang.org/grpc/codes"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	_ "github.com/bookshop-go/bookshop/internal/gen/bidirectionalpb"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/demo/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	_ "github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/gen/unarypb"
)

func fileRequest(path string) *reflectionv1.ServerReflectionRequest {
	return &reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: path}}
}

// misnamed is a message type registered under one message's name whose
// messages are of another type: its descriptor, given out by its Go type,
// is another file's.
type misnamed struct {
	protoreflect.MessageType
	desc protoreflect.MessageDescriptor
}

func (m misnamed) Descriptor() protoreflect.MessageDescriptor { return m.desc }

// TestOutcomes asks for files of registries made for each outcome: a
// file is sent, or is not found, or cannot be described.
func TestOutcomes(t *testing.T) {
	// A file whose one message has a dynamic Go type: nothing generated
	// gives out its descriptor.
	dynamic, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:        proto.String("dynamic/thing.proto"),
		Package:     proto.String("dynamic"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Thing")}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	dynamicFiles := new(protoregistry.Files)
	if err := dynamicFiles.RegisterFile(dynamic); err != nil {
		t.Fatal(err)
	}
	dynamicTypes := new(protoregistry.Types)
	if err := dynamicTypes.RegisterMessage(dynamicpb.NewMessageType(dynamic.Messages().Get(0))); err != nil {
		t.Fatal(err)
	}
	// unary.proto's first message, unary.Message, registered with a Go
	// type of money.proto's; its second, the right one, or not at all.
	money := (&moneyv1.Money{}).ProtoReflect().Type()
	wrongFirst := misnamed{MessageType: money, desc: (&unarypb.Message{}).ProtoReflect().Descriptor()}
	wrongThenRight := new(protoregistry.Types)
	wrongOnly := new(protoregistry.Types)
	for _, err := range []error{
		wrongThenRight.RegisterMessage(wrongFirst),
		wrongThenRight.RegisterMessage((&unarypb.MessageResponse{}).ProtoReflect().Type()),
		wrongOnly.RegisterMessage(wrongFirst),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	// checkout.proto's own messages, without those of the files it
	// imports: money.proto cannot be described.
	checkoutOnly := new(protoregistry.Types)
	checkoutFile, err := protoregistry.GlobalFiles.FindFileByPath("bookshop/checkout/v1/checkout.proto")
	if err != nil {
		t.Fatal(err)
	}
	for i := range checkoutFile.Messages().Len() {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(checkoutFile.Messages().Get(i).FullName())
		if err != nil {
			t.Fatal(err)
		}
		if err := checkoutOnly.RegisterMessage(mt); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		files    *protoregistry.Files
		types    *protoregistry.Types
		path     string
		wantCode codes.Code // OK: the file is sent
		wantText string     // in the error's message
	}{
		{"generated", protoregistry.GlobalFiles, protoregistry.GlobalTypes, "bookshop/money/v1/money.proto", codes.OK, ""},
		{"one enum alone", protoregistry.GlobalFiles, protoregistry.GlobalTypes, "google/rpc/code.proto", codes.OK, ""},
		{"not in the registry", protoregistry.GlobalFiles, protoregistry.GlobalTypes, "no/such.proto", codes.NotFound, `"no/such.proto"`},
		{"no generated type", dynamicFiles, dynamicTypes, "dynamic/thing.proto", codes.Internal, "no generated message or enum"},
		{"no type at all", dynamicFiles, new(protoregistry.Types), "dynamic/thing.proto", codes.Internal, `"dynamic/thing.proto"`},
		{"another file's type, then its own", protoregistry.GlobalFiles, wrongThenRight, "unary/unary.proto", codes.OK, ""},
		{"an import that cannot be described", protoregistry.GlobalFiles, checkoutOnly, "bookshop/checkout/v1/checkout.proto", codes.Internal, `"bookshop/money/v1/money.proto"`},
		{"another file's type alone", protoregistry.GlobalFiles, wrongOnly, "unary/unary.proto", codes.Internal, `gives the descriptor of "bookshop/money/v1/money.proto"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &reflector{files: tt.files, types: tt.types}
			resp, err := r.answer(fileRequest(tt.path), map[string]bool{})
			if err != nil {
				t.Fatalf("answer: %v", err)
			}
			if tt.wantCode == codes.OK {
				files := resp.GetFileDescriptorResponse().GetFileDescriptorProto()
				if len(files) == 0 || fileName(files[0]) != tt.path {
					t.Fatalf("answer = %v, want the file %s first", resp.GetMessageResponse(), tt.path)
				}
				return
			}
			er := resp.GetErrorResponse()
			if codes.Code(er.GetErrorCode()) != tt.wantCode || !strings.Contains(er.GetErrorMessage(), tt.wantText) {
				t.Errorf("answer = %v, want error_response %v containing %s", resp.GetMessageResponse(), tt.wantCode, tt.wantText)
			}
		})
	}
}

// TestEveryContract describes every file of Bookshop's contracts, the
// tutorial's and bookshop.*.v1, as every service serves them.
func TestEveryContract(t *testing.T) {
	r := &reflector{files: protoregistry.GlobalFiles, types: protoregistry.GlobalTypes}
	n := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		path := fd.Path()
		if !strings.HasPrefix(path, "bookshop/") && path != "recommendations.proto" && !strings.HasPrefix(path, "unary/") && !strings.HasPrefix(path, "bidirectional/") {
			return true
		}
		n++
		resp, err := r.answer(fileRequest(path), map[string]bool{})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return true
		}
		if files := resp.GetFileDescriptorResponse().GetFileDescriptorProto(); len(files) == 0 || fileName(files[0]) != path {
			t.Errorf("%s: answer %v, want the file", path, resp.GetMessageResponse())
		}
		return true
	})
	if n < 14 {
		t.Errorf("described %d files of Bookshop's contracts, want every one (14 or more)", n)
	}
}
