// Package architecture holds the test that keeps Bookshop's package layout:
// it reads the real import graph with `go list -deps -json ./...` and fails
// on every import that crosses a layer the wrong way. The package has no
// code of its own; everything is in architecture_test.go.
//
// # Layers
//
// Every package of the module github.com/bookshop-go/bookshop is in one
// layer, decided by its path alone (paths here are relative to the module):
//
//   - kernel: internal/bookshop and anything under it. The domain: books,
//     categories, money, ids, error kinds, the service interfaces.
//   - platform: internal/platform and everything under it. Serving gRPC and
//     HTTP, flags, telemetry, TLS, request ids: what every service runs on.
//   - gen: internal/gen and everything under it. Generated protobuf and
//     gRPC code.
//   - composition roots: cmd/..., bench/..., internal/tool/...,
//     internal/loadgen/..., internal/architecture, and the test-only
//     packages internal/interop and internal/resilience. They wire
//     everything together, so they may import anything (but a service's
//     own command, by rule 7, and every command, by rule 8) and are
//     checked by no other rule.
//   - service: every other package under internal/<name>/; <name> is the
//     service. A new directory internal/cart/ is a service named "cart"
//     without any change here.
//   - client: internal/<name>/<name>client, exactly, is the client package
//     of service <name> (internal/catalog/catalogclient). It is a service
//     package with stricter rules.
//
// A package of the module outside internal/, cmd/ and bench/ is in no layer
// and is reported as such.
//
// # Rules
//
//  1. The kernel imports only the standard library (an import path whose
//     first element has no dot) and its own packages, and not net/http,
//     net/rpc or anything under them: it is the transport-free domain every
//     other package depends on.
//  2. A platform package imports no service package and no generated code.
//     It may import the kernel, other platform packages, the standard
//     library and third-party modules.
//  3. A service package may import the standard library, third-party
//     modules, the kernel, platform, gen, any package of its own service,
//     and another service's client package; nothing else of another service.
//  4. A client package imports only the standard library, third-party
//     modules, the kernel, platform, gen and other services' client
//     packages (a contract may embed another's messages, as
//     LiveRecommendResponse holds catalog.v1 books); not even its own
//     service's other packages, so that importing a client never pulls in
//     a server.
//  5. No package except a composition root imports a composition root.
//  6. The graph has the kernel, at least one platform package, and the
//     services catalog, recommendations, accounts, cart, inventory,
//     payments, orders, promotions, checkout and marketplace, each with its
//     command
//     cmd/<name>, so that a broken `go list` or a rename cannot make the
//     test pass with nothing to check.
//  7. A service's own command, cmd/<name> for a service <name>, links
//     (through any chain of imports) no composition root and no package of
//     another service but its client package: the binary of a service links
//     no other service's server, so that its heap, its garbage collections
//     and its start-up are its own (docs/performance.md
//     measures what linking every service costs Recommendations a call).
//     One package is linked across: internal/catalog/catalogfile, the
//     Catalog's file format, with which cmd/recommendations reads its
//     built-in catalog.
//  8. No command, cmd/<name>, links
//     google.golang.org/protobuf/reflect/protodesc (grpc-go's reflection
//     package brings it in): it builds the descriptors of descriptor.proto
//     when the program starts, some 132 KB that every garbage collection
//     marks, for server reflection, which internal/platform/rpc/reflection
//     serves without it.
//
// Rules 1 to 5, 7 and 8 are checked on each package's non-test imports (the
// Imports field of `go list`). For the kernel, the imports of its _test.go files
// (TestImports and XTestImports) are checked too, against the same rules;
// those violations are marked "(in tests)". Other packages' test imports
// are not checked: a service's tests may start other services, and the
// platform's tests use real services as their subjects, through external
// test packages, so that what the platform is built from stays free of
// them.
//
// # Reading a failure
//
// TestImportGraph reports one line per bad import, all of them in one run,
// sorted by importing package:
//
//	internal/platform/rpc imports internal/catalog: rule 2: a platform package imports no service; ...
//
// The first path is the package whose import must go; the second is what it
// imports; then the rule it breaks and why. Fix it by moving code to the
// right layer (a shared helper into internal/platform, a domain type into
// internal/bookshop), or by importing the other service's client package
// instead of its internals. Messages starting with "layout:" are rule 6 or a
// package in no layer; messages starting with "go list:" are packages that go
// list could not load, and usually mean the tree does not build.
//
// TestRules feeds the same checks a synthetic graph, showing that each rule
// fires on a bad import and stays quiet on good ones; TestCommands and
// TestUnlinked do the same for rules 7 and 8. Rule 7's failures read
//
//	cmd/recommendations links internal/cart: rule 7: the command of service recommendations links only ...
//
// naming, after the rule, the package through which the command links it.
//
// # Seeing it fail on purpose
//
// Add a blank import of a service to a platform package, for example in any
// file of internal/platform/rpc:
//
//	import _ "github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
//
// then run
//
//	go test ./internal/architecture
//
// and TestImportGraph reports "internal/platform/rpc imports
// internal/catalog: rule 2: ...". If internal/catalog itself imports
// internal/platform/rpc, a "go list:" line about the import cycle comes
// with it. Remove the import again.
package architecture
