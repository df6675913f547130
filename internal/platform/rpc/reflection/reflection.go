// Package reflection serves gRPC server reflection, grpc.reflection.v1 and
// the v1alpha that older tools still ask for: how grpcurl, grpc_cli and
// Postman list a server's services and read their contracts.
//
// It answers as grpc-go's reflection package does, from the same
// registries of the generated code, without linking
// google.golang.org/protobuf/reflect/protodesc, which grpc-go's needs to
// turn a descriptor back into a FileDescriptorProto. Linking protodesc
// builds the descriptors of descriptor.proto, with their message
// information, when the program starts: 132 KB of Recommendations' live
// heap under load, kept in every Bookshop service for a feature used a
// few times a day. The garbage collector marks them at every cycle
// (docs/performance.md). This package sends
// instead the FileDescriptorProto that protoc-gen-go wrote into the
// generated code, which each generated message or enum of the open API
// still gives out, gzipped, through its deprecated Descriptor method. A
// file with neither (only services or extensions), or generated with the
// opaque API, cannot be described: an INTERNAL error_response (a name
// not in the registry is a NOT_FOUND one, as with grpc-go).
package reflection

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Server is what Register needs of a gRPC server: to register the
// reflection services on it, and to list its services.
type Server interface {
	grpc.ServiceRegistrar
	GetServiceInfo() map[string]grpc.ServiceInfo
}

// Register registers server reflection, v1 and v1alpha, on s. It
// describes the files of protoregistry.GlobalFiles, where generated code
// registers itself, and the extensions of protoregistry.GlobalTypes.
func Register(s Server) {
	r := &reflector{services: s.GetServiceInfo, files: protoregistry.GlobalFiles, types: protoregistry.GlobalTypes}
	reflectionv1.RegisterServerReflectionServer(s, v1Server{r})
	reflectionv1alpha.RegisterServerReflectionServer(s, v1alphaServer{r})
}

// reflector answers reflection requests.
type reflector struct {
	services func() map[string]grpc.ServiceInfo
	files    *protoregistry.Files
	types    *protoregistry.Types
}

// v1Server serves grpc.reflection.v1.
type v1Server struct{ r *reflector }

var _ reflectionv1.ServerReflectionServer = v1Server{}

// ServerReflectionInfo answers each request the stream receives, in
// order, until the client closes its side (see reflector.serve).
func (s v1Server) ServerReflectionInfo(stream reflectionv1.ServerReflection_ServerReflectionInfoServer) error {
	return s.r.serve(stream.Recv, stream.Send)
}

// v1alphaServer serves grpc.reflection.v1alpha, whose messages are those
// of v1 under another package name, field for field: it converts each
// request to v1 and each answer back through their common encoding.
type v1alphaServer struct{ r *reflector }

var _ reflectionv1alpha.ServerReflectionServer = v1alphaServer{}

// ServerReflectionInfo is v1Server's, for v1alpha's messages.
func (s v1alphaServer) ServerReflectionInfo(stream reflectionv1alpha.ServerReflection_ServerReflectionInfoServer) error {
	recv := func() (*reflectionv1.ServerReflectionRequest, error) {
		alphaReq, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		req := new(reflectionv1.ServerReflectionRequest)
		return req, convert(alphaReq, req)
	}
	send := func(resp *reflectionv1.ServerReflectionResponse) error {
		//lint:ignore SA1019 v1alpha is deprecated, and still what older tools ask for
		alphaResp := new(reflectionv1alpha.ServerReflectionResponse)
		if err := convert(resp, alphaResp); err != nil {
			return err
		}
		return stream.Send(alphaResp)
	}
	return s.r.serve(recv, send)
}

// serve answers each request recv gives, in order, with send, until the
// client closes its side. A request that asks for nothing known to the
// protocol ends the stream with INVALID_ARGUMENT; a name that is not found
// is a NOT_FOUND error_response, a file that cannot be described an
// INTERNAL one, and the stream goes on.
func (r *reflector) serve(recv func() (*reflectionv1.ServerReflectionRequest, error), send func(*reflectionv1.ServerReflectionResponse) error) error {
	sent := make(map[string]bool)
	for {
		req, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp, err := r.answer(req, sent)
		if err != nil {
			return err
		}
		if err := send(resp); err != nil {
			return err
		}
	}
}

// convert decodes into to the encoding of from, a message of the same
// fields.
func convert(from, to proto.Message) error {
	b, err := proto.Marshal(from)
	if err == nil {
		err = proto.Unmarshal(b, to)
	}
	if err != nil {
		return status.Errorf(codes.Internal, "reflection: converting between v1 and v1alpha: %v", err)
	}
	return nil
}

// answer returns the response to req. sent holds the paths of the files
// already sent on the stream, which a file's answer leaves out of the
// files it imports (the file asked for is always sent).
func (r *reflector) answer(req *reflectionv1.ServerReflectionRequest, sent map[string]bool) (*reflectionv1.ServerReflectionResponse, error) {
	resp := &reflectionv1.ServerReflectionResponse{ValidHost: req.GetHost(), OriginalRequest: req}
	switch m := req.GetMessageRequest().(type) {
	case *reflectionv1.ServerReflectionRequest_ListServices:
		resp.MessageResponse = &reflectionv1.ServerReflectionResponse_ListServicesResponse{ListServicesResponse: r.listServices()}
	case *reflectionv1.ServerReflectionRequest_FileByFilename:
		fd, err := r.files.FindFileByPath(m.FileByFilename)
		if err != nil {
			resp.MessageResponse = notFound("no file %q", m.FileByFilename)
			break
		}
		r.describe(resp, fd, sent)
	case *reflectionv1.ServerReflectionRequest_FileContainingSymbol:
		d, err := r.files.FindDescriptorByName(protoreflect.FullName(m.FileContainingSymbol))
		if err != nil {
			resp.MessageResponse = notFound("no symbol %q", m.FileContainingSymbol)
			break
		}
		r.describe(resp, d.ParentFile(), sent)
	case *reflectionv1.ServerReflectionRequest_FileContainingExtension:
		typ, num := m.FileContainingExtension.GetContainingType(), m.FileContainingExtension.GetExtensionNumber()
		xt, err := r.types.FindExtensionByNumber(protoreflect.FullName(typ), protoreflect.FieldNumber(num))
		if err != nil {
			resp.MessageResponse = notFound("no extension %d of %q", num, typ)
			break
		}
		r.describe(resp, xt.TypeDescriptor().ParentFile(), sent)
	case *reflectionv1.ServerReflectionRequest_AllExtensionNumbersOfType:
		name := protoreflect.FullName(m.AllExtensionNumbersOfType)
		var numbers []int32
		r.types.RangeExtensionsByMessage(name, func(xt protoreflect.ExtensionType) bool {
			numbers = append(numbers, int32(xt.TypeDescriptor().Number()))
			return true
		})
		if len(numbers) == 0 {
			if _, err := r.files.FindDescriptorByName(name); err != nil {
				resp.MessageResponse = notFound("no message %q", name)
				break
			}
		}
		slices.Sort(numbers)
		resp.MessageResponse = &reflectionv1.ServerReflectionResponse_AllExtensionNumbersResponse{
			AllExtensionNumbersResponse: &reflectionv1.ExtensionNumberResponse{BaseTypeName: string(name), ExtensionNumber: numbers},
		}
	default:
		return nil, status.Error(codes.InvalidArgument, "reflection: a request asks for one of list_services, file_by_filename, file_containing_symbol, file_containing_extension and all_extension_numbers_of_type")
	}
	return resp, nil
}

// listServices lists the server's services by name, sorted.
func (r *reflector) listServices() *reflectionv1.ListServiceResponse {
	info := r.services()
	names := make([]string, 0, len(info))
	for name := range info {
		names = append(names, name)
	}
	slices.Sort(names)
	list := &reflectionv1.ListServiceResponse{Service: make([]*reflectionv1.ServiceResponse, len(names))}
	for i, name := range names {
		list.Service[i] = &reflectionv1.ServiceResponse{Name: name}
	}
	return list
}

// describe sets resp to the answer that sends fd and, breadth first, the
// files it imports, directly or not, that the stream has not sent yet
// (an import missing from the registry is left out, as grpc-go leaves it);
// or to an INTERNAL error_response if one of them cannot be described
// (the server's failing, not the client's), or a NOT_FOUND one if fd is
// a placeholder.
func (r *reflector) describe(resp *reflectionv1.ServerReflectionResponse, fd protoreflect.FileDescriptor, sent map[string]bool) {
	files, err := r.withImports(fd, sent)
	var cannot *undescribable
	switch {
	case errors.As(err, &cannot):
		resp.MessageResponse = errorResponse(codes.Internal, "%v", err)
		return
	case err != nil:
		resp.MessageResponse = notFound("%v", err)
		return
	}
	resp.MessageResponse = &reflectionv1.ServerReflectionResponse_FileDescriptorResponse{
		FileDescriptorResponse: &reflectionv1.FileDescriptorResponse{FileDescriptorProto: files},
	}
}

// withImports returns fd and the files it imports, directly or not, that
// are not in sent, serialized, and adds their paths to sent.
func (r *reflector) withImports(fd protoreflect.FileDescriptor, sent map[string]bool) ([][]byte, error) {
	if fd.IsPlaceholder() {
		return nil, fmt.Errorf("no file %q", fd.Path())
	}
	var files [][]byte
	queued := map[string]bool{fd.Path(): true}
	queue := []protoreflect.FileDescriptor{fd}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		if f.IsPlaceholder() {
			continue
		}
		if len(files) == 0 || !sent[f.Path()] {
			b, err := r.rawDescriptor(f)
			if err != nil {
				return nil, err
			}
			files = append(files, b)
		}
		imports := f.Imports()
		for i := range imports.Len() {
			if imp := imports.Get(i).FileDescriptor; !queued[imp.Path()] {
				queued[imp.Path()] = true
				queue = append(queue, imp)
			}
		}
	}
	for path := range queued {
		sent[path] = true
	}
	return files, nil
}

// notFound is a NOT_FOUND error_response saying what was not found.
func notFound(format string, args ...any) *reflectionv1.ServerReflectionResponse_ErrorResponse {
	return errorResponse(codes.NotFound, format, args...)
}

// errorResponse is an error_response of code c saying why.
func errorResponse(c codes.Code, format string, args ...any) *reflectionv1.ServerReflectionResponse_ErrorResponse {
	return &reflectionv1.ServerReflectionResponse_ErrorResponse{ErrorResponse: &reflectionv1.ErrorResponse{
		ErrorCode:    int32(c),
		ErrorMessage: fmt.Sprintf(format, args...),
	}}
}

// undescribable is the error of a file in the registry whose descriptor
// no generated type of it gives out.
type undescribable struct {
	path string
	why  string
}

func (e *undescribable) Error() string {
	return fmt.Sprintf("file %q cannot be described: %s", e.path, e.why)
}

// legacyMessage and legacyEnum are the methods through which generated
// messages and enums give out their file's descriptor as protoc wrote it,
// gzipped, with the path to themselves in it.
type (
	legacyMessage interface{ Descriptor() ([]byte, []int) }
	legacyEnum    interface{ EnumDescriptor() ([]byte, []int) }
)

// rawDescriptor returns fd as a serialized FileDescriptorProto: the one
// its generated code holds, given out by the Go type of one of its
// messages or enums, the first whose descriptor is fd's. A file with
// neither (one of services or extensions alone), or whose types give out
// other files' descriptors, cannot be described: an *undescribable.
func (r *reflector) rawDescriptor(fd protoreflect.FileDescriptor) ([]byte, error) {
	why := "no generated message or enum of it gives its descriptor"
	for gz := range r.gzippedDescriptors(fd) {
		b, err := gunzip(gz)
		if err != nil {
			why = fmt.Sprintf("the descriptor its generated code gives does not gunzip: %v", err)
			continue
		}
		if name := fileName(b); name != fd.Path() {
			why = fmt.Sprintf("its generated code gives the descriptor of %q", name)
			continue
		}
		return b, nil
	}
	return nil, &undescribable{path: fd.Path(), why: why}
}

// gzippedDescriptors yields the gzipped descriptors that fd's messages,
// then its enums, give out through their Go types, in their order in fd.
func (r *reflector) gzippedDescriptors(fd protoreflect.FileDescriptor) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		msgs := fd.Messages()
		for i := range msgs.Len() {
			mt, err := r.types.FindMessageByName(msgs.Get(i).FullName())
			if err != nil {
				continue
			}
			if m, ok := mt.Zero().Interface().(legacyMessage); ok {
				if gz, _ := m.Descriptor(); !yield(gz) {
					return
				}
			}
		}
		enums := fd.Enums()
		for i := range enums.Len() {
			et, err := r.types.FindEnumByName(enums.Get(i).FullName())
			if err != nil {
				continue
			}
			if e, ok := et.New(0).(legacyEnum); ok {
				if gz, _ := e.EnumDescriptor(); !yield(gz) {
					return
				}
			}
		}
	}
}

// gunzip returns the bytes that gz holds, gzipped.
func gunzip(gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// fileName returns the name (field 1) of the serialized
// FileDescriptorProto b, or "" if it has none.
func fileName(b []byte) string {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ""
			}
			return string(v)
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return ""
		}
		b = b[n:]
	}
	return ""
}
