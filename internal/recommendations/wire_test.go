package recommendations_test

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// tutorialContract is the tutorial's recommendations.proto, written out by
// hand from the tutorial rather than taken from our generated code, so that
// a change to our contract that breaks the tutorial's clients fails here.
func tutorialContract(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, repeated bool) *descriptorpb.FieldDescriptorProto {
		label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		if repeated {
			label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		}
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum()}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	value := func(name string, num int32) *descriptorpb.EnumValueDescriptorProto {
		return &descriptorpb.EnumValueDescriptorProto{Name: proto.String(name), Number: proto.Int32(num)}
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:   proto.String("tutorial/recommendations.proto"),
		Syntax: proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name:  proto.String("BookCategory"),
			Value: []*descriptorpb.EnumValueDescriptorProto{value("MYSTERY", 0), value("SCIENCE_FICTION", 1), value("SELF_HELP", 2)},
		}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("RecommendationRequest"), Field: []*descriptorpb.FieldDescriptorProto{
				field("user_id", 1, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false),
				field("category", 2, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".BookCategory", false),
				field("max_results", 3, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false),
			}},
			{Name: proto.String("BookRecommendation"), Field: []*descriptorpb.FieldDescriptorProto{
				field("id", 1, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", false),
				field("title", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", false),
			}},
			{Name: proto.String("RecommendationResponse"), Field: []*descriptorpb.FieldDescriptorProto{
				field("recommendations", 1, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".BookRecommendation", true),
			}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("Recommendations"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name:       proto.String("Recommend"),
				InputType:  proto.String(".RecommendationRequest"),
				OutputType: proto.String(".RecommendationResponse"),
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatalf("build the tutorial's descriptor: %v", err)
	}
	return fd
}

// TestTutorialClientInterop calls our server as the tutorial's Python
// client does: its own schema, the method path /Recommendations/Recommend.
func TestTutorialClientInterop(t *testing.T) {
	fd := tutorialContract(t)
	method := fd.Services().ByName("Recommendations").Methods().ByName("Recommend")
	conn := dial(t, startBuiltin(t, nil))

	req := dynamicpb.NewMessage(method.Input())
	req.Set(method.Input().Fields().ByName("user_id"), protoreflect.ValueOfInt32(1))
	req.Set(method.Input().Fields().ByName("category"), protoreflect.ValueOfEnum(1)) // SCIENCE_FICTION
	req.Set(method.Input().Fields().ByName("max_results"), protoreflect.ValueOfInt32(3))
	resp := dynamicpb.NewMessage(method.Output())

	if err := conn.Invoke(testContext(t), "/Recommendations/Recommend", req, resp); err != nil {
		t.Fatalf("Invoke(/Recommendations/Recommend): %v", err)
	}
	list := resp.Get(method.Output().Fields().ByName("recommendations")).List()
	if list.Len() != 3 {
		t.Fatalf("tutorial client got %d recommendations, want 3", list.Len())
	}
	bookFields := method.Output().Fields().ByName("recommendations").Message().Fields()
	scienceFiction := []string{"The Hitchhiker's Guide To The Galaxy", "Ender's Game", "The Dune Chronicles"}
	for i := range list.Len() {
		b := list.Get(i).Message()
		id := b.Get(bookFields.ByName("id")).Int()
		title := b.Get(bookFields.ByName("title")).String()
		if id <= 0 || title == "" {
			t.Errorf("tutorial client got book %d %q, want an id and a title", id, title)
		}
		if id >= 4 && id <= 6 && title != scienceFiction[id-4] {
			t.Errorf("tutorial client got book %d titled %q, want %q", id, title, scienceFiction[id-4])
		}
		// Our extra fields reach the tutorial's client as unknown fields,
		// which protobuf keeps and ignores.
		if len(b.GetUnknown()) == 0 {
			t.Errorf("book %d has no unknown fields; want author and year as new field numbers", id)
		}
	}
}

// TestContractMatchesTutorial compares our generated contract with the
// tutorial's, field by field: names, numbers, types and the method path.
func TestContractMatchesTutorial(t *testing.T) {
	tutorial := tutorialContract(t)
	ours := recommendationspb.File_recommendations_proto
	if ours.Package() != "" {
		t.Errorf("our contract has package %q, want none (method path /Recommendations/Recommend)", ours.Package())
	}
	if got, want := recommendationspb.Recommendations_Recommend_FullMethodName, "/Recommendations/Recommend"; got != want {
		t.Errorf("method path = %q, want %q", got, want)
	}
	for i := range tutorial.Enums().Len() {
		te := tutorial.Enums().Get(i)
		oe := ours.Enums().ByName(te.Name())
		if oe == nil {
			t.Errorf("enum %s missing", te.Name())
			continue
		}
		for j := range te.Values().Len() {
			tv := te.Values().Get(j)
			ov := oe.Values().ByName(tv.Name())
			if ov == nil || ov.Number() != tv.Number() {
				t.Errorf("enum value %s.%s = %v, want number %d", te.Name(), tv.Name(), ov, tv.Number())
			}
		}
	}
	for i := range tutorial.Messages().Len() {
		tm := tutorial.Messages().Get(i)
		om := ours.Messages().ByName(tm.Name())
		if om == nil {
			t.Errorf("message %s missing", tm.Name())
			continue
		}
		for j := range tm.Fields().Len() {
			tf := tm.Fields().Get(j)
			of := om.Fields().ByNumber(tf.Number())
			if of == nil {
				t.Errorf("%s: field %d (%s) missing", tm.Name(), tf.Number(), tf.Name())
				continue
			}
			if of.Name() != tf.Name() || of.Kind() != tf.Kind() || of.Cardinality() != tf.Cardinality() {
				t.Errorf("%s field %d = %s %v %v, want %s %v %v", tm.Name(), tf.Number(),
					of.Name(), of.Cardinality(), of.Kind(), tf.Name(), tf.Cardinality(), tf.Kind())
			}
		}
	}
}

// TestHealthAndReflection checks that the server answers the standard
// health service and lists its services through reflection.
func TestHealthAndReflection(t *testing.T) {
	conn := dial(t, startBuiltin(t, nil))
	ctx := testContext(t)

	health := grpc_health_v1.NewHealthClient(conn)
	for _, service := range []string{"", "Recommendations"} {
		resp, err := health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Health.Check(%q): %v", service, err)
		}
		if resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			t.Errorf("Health.Check(%q) = %v, want SERVING", service, resp.GetStatus())
		}
	}

	stream, err := grpc_reflection_v1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&grpc_reflection_v1.ServerReflectionRequest{
		MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"Recommendations", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, want %s among them", names, want)
		}
	}
}

// firstRand always picks the first candidate, so that the books chosen are
// known: the first of the category, in id order.
type firstRand struct{}

func (firstRand) IntN(int) int { return 0 }

// TestWireRecommend calls /Recommendations/Recommend with a request written
// byte by byte and reads the answer byte by byte, as a client in another
// language sees it: the request's fields 1, 2 and 3 are varints; the answer
// is field 1 repeated, each a message with id (1, varint), title (2,
// bytes), and our additions author (3, bytes), year (4, varint) and price
// (5, a message of units, 1, varint, and currency, 2, bytes).
func TestWireRecommend(t *testing.T) {
	conn := dial(t, startBuiltin(t, firstRand{}))
	call := func(req []byte) ([]byte, error) {
		var resp []byte
		err := conn.Invoke(testContext(t), "/Recommendations/Recommend", &req, &resp, grpc.ForceCodecV2(rpctest.RawCodec{}))
		return resp, err
	}
	req := slices.Concat(
		rpctest.VarintField(1, 1), // user_id
		rpctest.VarintField(2, 1), // category SCIENCE_FICTION
		rpctest.VarintField(3, 2), // max_results
	)
	resp, err := call(req)
	if err != nil {
		t.Fatal(err)
	}
	books := rpctest.ParseFields(t, resp)
	price := func(cents uint64) string { // field 5, bytes: a bookshop.money.v1.Money
		return fmt.Sprintf("field 5 bytes %q", slices.Concat(rpctest.VarintField(1, cents), rpctest.StringField(2, "EUR")))
	}
	want := [][]string{
		{"field 1 varint 4", `field 2 bytes "The Hitchhiker's Guide To The Galaxy"`, `field 3 bytes "Douglas Adams"`, "field 4 varint 1979", price(1049)},
		{"field 1 varint 5", `field 2 bytes "Ender's Game"`, `field 3 bytes "Orson Scott Card"`, "field 4 varint 1985", price(1199)},
	}
	if len(books) != len(want) {
		t.Fatalf("response has %d fields, want %d books", len(books), len(want))
	}
	for i, b := range books {
		if b.Num != 1 || b.Type != protowire.BytesType {
			t.Fatalf("response field %d is %v, want field 1, a message", i, b)
		}
		if got := rpctest.DescribeFields(t, b.Bytes); !slices.Equal(got, want[i]) {
			t.Errorf("book %d on the wire = %q, want %q", i, got, want[i])
		}
	}

	// A negative int32 is a ten-byte varint on the wire.
	negative := slices.Concat(rpctest.VarintField(2, 0), rpctest.VarintField(3, uint64(1<<64-1)))
	if _, err := call(negative); status.Code(err) != codes.InvalidArgument {
		t.Errorf("max_results -1 on the wire: %v, want InvalidArgument", err)
	}
	// An enum number the contract does not have is kept by proto3, and is
	// a category the catalog does not have.
	unknown := slices.Concat(rpctest.VarintField(2, 7), rpctest.VarintField(3, 3))
	if _, err := call(unknown); status.Code(err) != codes.NotFound {
		t.Errorf("category 7 on the wire: %v, want NotFound", err)
	}
	// An empty request is user 0, MYSTERY, max_results 0: no books.
	if resp, err := call(nil); err != nil || len(resp) != 0 {
		t.Errorf("empty request = %x, %v; want an empty response", resp, err)
	}
}
