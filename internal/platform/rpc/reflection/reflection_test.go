package reflection_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	_ "google.golang.org/genproto/googleapis/rpc/code" // a file of one enum alone
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcreflection "google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	_ "google.golang.org/protobuf/types/gofeaturespb" // an extension, of google.protobuf.FeatureSet

	"github.com/bookshop-go/bookshop/internal/gen/bidirectionalpb"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/gen/unarypb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/reflection"
)

// serve serves, on loopback until the test ends, a gRPC server of some of
// Bookshop's services (the tutorial's, whose files have no package, and
// versioned ones that import others and the well-known types), with the
// health service and the reflection that register adds. It returns a
// client connection to it.
func serve(tb testing.TB, register func(*grpc.Server)) *grpc.ClientConn {
	tb.Helper()
	srv := grpc.NewServer()
	recommendationspb.RegisterRecommendationsServer(srv, recommendationspb.UnimplementedRecommendationsServer{})
	unarypb.RegisterUnaryServer(srv, unarypb.UnimplementedUnaryServer{})
	bidirectionalpb.RegisterBidirectionalServer(srv, bidirectionalpb.UnimplementedBidirectionalServer{})
	catalogv1.RegisterCatalogServiceServer(srv, catalogv1.UnimplementedCatalogServiceServer{})
	checkoutv1.RegisterCheckoutServiceServer(srv, checkoutv1.UnimplementedCheckoutServiceServer{})
	ordersv1.RegisterOrdersServiceServer(srv, ordersv1.UnimplementedOrdersServiceServer{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	go srv.Serve(lis)
	tb.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatalf("grpc.NewClient: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func symbol(name string) *reflectionv1.ServerReflectionRequest {
	return &reflectionv1.ServerReflectionRequest{Host: "bookshop", MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: name}}
}

func file(path string) *reflectionv1.ServerReflectionRequest {
	return &reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: path}}
}

// requests are what a client such as grpcurl asks, in one stream: later
// ones ask again for files sent already, which an answer leaves out of
// the imports it sends, and some ask for what does not exist.
var requests = []*reflectionv1.ServerReflectionRequest{
	{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}},
	symbol("Recommendations"),
	symbol("Recommendations.Recommend"),
	symbol("BookCategory"),
	symbol("unary.Unary"),
	symbol("bidirectional.Message"),
	symbol("bookshop.checkout.v1.CheckoutService"),
	symbol("bookshop.checkout.v1.CheckoutService.PlaceOrder"),
	symbol("bookshop.money.v1.Money"),
	symbol("bookshop.orders.v1.OrdersService"),
	symbol("grpc.health.v1.Health"),
	symbol("bookshop.catalog.v1.CatalogService"),
	symbol("google.protobuf.Timestamp"),
	symbol("no.such.Service"),
	file("bookshop/checkout/v1/checkout.proto"),
	file("google/protobuf/timestamp.proto"),
	file("recommendations.proto"),
	file("no/such/file.proto"),
	{MessageRequest: &reflectionv1.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: "bookshop.money.v1.Money"}},
	{MessageRequest: &reflectionv1.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: "no.such.Message"}},
	{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingExtension{FileContainingExtension: &reflectionv1.ExtensionRequest{ContainingType: "bookshop.money.v1.Money", ExtensionNumber: 100}}},
	// A file of one enum alone (google.rpc.Code), whose descriptor its
	// enum gives, and an extension that exists: Go's feature of
	// google.protobuf.FeatureSet, number 1002, in a file that imports
	// descriptor.proto.
	symbol("google.rpc.Code"),
	file("google/rpc/code.proto"),
	{MessageRequest: &reflectionv1.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: "google.protobuf.FeatureSet"}},
	{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingExtension{FileContainingExtension: &reflectionv1.ExtensionRequest{ContainingType: "google.protobuf.FeatureSet", ExtensionNumber: 1002}}},
}

// ask sends each request on one stream and returns the answers.
func ask(tb testing.TB, conn *grpc.ClientConn, reqs []*reflectionv1.ServerReflectionRequest) []*reflectionv1.ServerReflectionResponse {
	tb.Helper()
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(testContext(tb))
	if err != nil {
		tb.Fatalf("ServerReflectionInfo: %v", err)
	}
	var resps []*reflectionv1.ServerReflectionResponse
	for _, req := range reqs {
		if err := stream.Send(req); err != nil {
			tb.Fatalf("Send(%v): %v", req, err)
		}
		resp, err := stream.Recv()
		if err != nil {
			tb.Fatalf("Recv after %v: %v", req, err)
		}
		resps = append(resps, resp)
	}
	if err := stream.CloseSend(); err != nil {
		tb.Fatalf("CloseSend: %v", err)
	}
	return resps
}

// comparable returns resp in the form in which two servers' answers are
// compared: each file decoded (grpc-go re-encodes the descriptor, we send
// protoc's bytes: the same message, not always the same bytes), and an
// error's message dropped (only its code is the protocol's).
func comparable(tb testing.TB, resp *reflectionv1.ServerReflectionResponse) (*reflectionv1.ServerReflectionResponse, []*descriptorpb.FileDescriptorProto) {
	tb.Helper()
	resp = proto.CloneOf(resp)
	var files []*descriptorpb.FileDescriptorProto
	if fr := resp.GetFileDescriptorResponse(); fr != nil {
		for _, b := range fr.FileDescriptorProto {
			f := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(b, f); err != nil {
				tb.Fatalf("a file of the answer to %v: %v", resp.OriginalRequest, err)
			}
			files = append(files, f)
		}
		fr.FileDescriptorProto = nil
	}
	if er := resp.GetErrorResponse(); er != nil {
		er.ErrorMessage = ""
	}
	return resp, files
}

// TestAnswersAsGrpcGo asks ours and grpc-go's reflection the same
// questions, on one stream each, and wants the same answers: the same
// services, the same files in the same order (the asked-for one first,
// then the imports not sent yet), the same error codes.
func TestAnswersAsGrpcGo(t *testing.T) {
	ours := ask(t, serve(t, func(s *grpc.Server) { reflection.Register(s) }), requests)
	theirs := ask(t, serve(t, func(s *grpc.Server) { grpcreflection.Register(s) }), requests)
	for i, req := range requests {
		got, gotFiles := comparable(t, ours[i])
		want, wantFiles := comparable(t, theirs[i])
		if !proto.Equal(got, want) {
			t.Errorf("answer to %v = %v, want %v", req, got, want)
		}
		if len(gotFiles) != len(wantFiles) {
			t.Errorf("answer to %v: %d files, want %d", req, len(gotFiles), len(wantFiles))
			continue
		}
		for j := range gotFiles {
			if !proto.Equal(gotFiles[j], wantFiles[j]) {
				t.Errorf("answer to %v: file %d = %v, want %v", req, j, gotFiles[j].GetName(), wantFiles[j].GetName())
			}
		}
	}
	// The test asks what it means to: files, sent once, and errors.
	if got := ours[6].GetFileDescriptorResponse().GetFileDescriptorProto(); len(got) < 3 {
		t.Errorf("checkout's file came with %d files, want it and the files it imports", len(got))
	}
	if got := ours[14].GetFileDescriptorResponse().GetFileDescriptorProto(); len(got) != 1 {
		t.Errorf("checkout's file, asked again, came with %d files, want only itself", len(got))
	}
	for _, i := range []int{13, 17, 19, 20} {
		if got := ours[i].GetErrorResponse().GetErrorCode(); got != int32(codes.NotFound) {
			t.Errorf("answer to %v: error code %d, want NOT_FOUND", requests[i], got)
		}
	}
	if got := ours[13].GetErrorResponse().GetErrorMessage(); !strings.Contains(got, "no.such.Service") {
		t.Errorf("not found message = %q, want it to name the symbol", got)
	}
	for _, i := range []int{21, 22, 24} {
		if got := ours[i].GetFileDescriptorResponse().GetFileDescriptorProto(); len(got) == 0 {
			t.Errorf("answer to %v: %v, want its file", requests[i], ours[i].GetMessageResponse())
		}
	}
	if got := ours[23].GetAllExtensionNumbersResponse().GetExtensionNumber(); !slices.Contains(got, 1002) {
		t.Errorf("extension numbers of google.protobuf.FeatureSet = %v, want 1002 (Go's) among them", got)
	}
}

// TestV1Alpha asks the v1alpha service, which older tools use, and wants
// v1's answers.
func TestV1Alpha(t *testing.T) {
	conn := serve(t, func(s *grpc.Server) { reflection.Register(s) })
	stream, err := reflectionv1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(testContext(t))
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	want := ask(t, conn, requests)
	for i, req := range requests {
		//lint:ignore SA1019 v1alpha is deprecated, and still what older tools ask for
		alphaReq := new(reflectionv1alpha.ServerReflectionRequest)
		b, _ := proto.Marshal(req)
		if err := proto.Unmarshal(b, alphaReq); err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(alphaReq); err != nil {
			t.Fatalf("Send: %v", err)
		}
		alphaResp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		got := new(reflectionv1.ServerReflectionResponse)
		b, _ = proto.Marshal(alphaResp)
		if err := proto.Unmarshal(b, got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want[i]) {
			t.Errorf("v1alpha answer to %v = %v, want v1's %v", req, got, want[i])
		}
	}
}

// TestEmptyRequest: a request that asks for nothing ends the stream with
// INVALID_ARGUMENT, as grpc-go's does.
func TestEmptyRequest(t *testing.T) {
	conn := serve(t, func(s *grpc.Server) { reflection.Register(s) })
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(testContext(t))
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	if err := stream.Send(&reflectionv1.ServerReflectionRequest{Host: "bookshop"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Recv after an empty request = %v, want INVALID_ARGUMENT", err)
	}
}
