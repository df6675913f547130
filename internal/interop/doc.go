// Package interop holds the tests that prove Bookshop keeps the tutorial's
// wire contracts: the tutorial's kind of Python clients call our servers,
// and our clients call the tutorial's kind of Python servers, over real
// gRPC on loopback. The Python side is generated at test time from the
// tutorial's own .proto files (testdata/tutorial), not from ours, with
// Debian's python3-grpcio and python3-grpc-tools.
package interop
