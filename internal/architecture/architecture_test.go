package architecture

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// modulePath is the path of the module whose layout is checked.
const modulePath = "github.com/bookshop-go/bookshop"

// wantServices are the services the final layout has; rule 6 fails if one is
// missing from the graph.
var wantServices = []string{"catalog", "recommendations", "accounts", "cart", "inventory", "payments", "orders", "promotions", "checkout", "marketplace"}

// roots are the directories, relative to the module, whose packages are
// composition roots: they may import anything and nothing may import them.
var roots = []string{
	"cmd",
	"bench",
	"internal/tool",
	"internal/loadgen",
	"internal/architecture",
	"internal/interop",    // test-only
	"internal/resilience", // test-only
}

// Package is one package of the import graph, with the fields of
// `go list -json` that the rules need.
type Package struct {
	ImportPath   string        // full import path
	Imports      []string      // imports of the non-test files
	TestImports  []string      // imports of the _test.go files of the package itself
	XTestImports []string      // imports of the _test.go files of package <name>_test
	Error        *PackageError // why go list could not load the package, or nil
}

// PackageError is the error go list reports for a package it could not load.
type PackageError struct {
	Err string // the error's text
}

// layer is the part of the architecture a package belongs to.
type layer int

// The layers. See the package documentation for which paths are in which.
const (
	std          layer = iota // the standard library
	thirdParty                // a module other than ours
	kernel                    // internal/bookshop
	platform                  // internal/platform/...
	gen                       // internal/gen/...
	root                      // a composition root
	service                   // internal/<service>/..., except its client package
	client                    // internal/<service>/<service>client
	unclassified              // a package of ours in no layer
)

// String returns the layer's name, as the package documentation uses it.
func (l layer) String() string {
	switch l {
	case std:
		return "std"
	case thirdParty:
		return "third-party"
	case kernel:
		return "kernel"
	case platform:
		return "platform"
	case gen:
		return "gen"
	case root:
		return "root"
	case service:
		return "service"
	case client:
		return "client"
	case unclassified:
		return "unclassified"
	}
	return fmt.Sprintf("layer(%d)", int(l))
}

// class is where a package sits: its layer and, for service and client
// packages, the name of the service.
type class struct {
	layer   layer
	service string // "" unless layer is service or client
}

// String returns the class as "layer" or "layer service".
func (c class) String() string {
	if c.service == "" {
		return c.layer.String()
	}
	return c.layer.String() + " " + c.service
}

// relative returns path relative to the module, and whether path is a
// package of the module at all.
func relative(path string) (rel string, ours bool) {
	if path == modulePath {
		return "", true
	}
	return strings.CutPrefix(path, modulePath+"/")
}

// short returns path relative to the module if it is ours, and path itself
// otherwise: the form in which violations name packages.
func short(path string) string {
	if rel, ours := relative(path); ours && rel != "" {
		return rel
	}
	return path
}

// under reports whether path is dir or a path below it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// classify returns the class of the package with import path path.
func classify(path string) class {
	rel, ours := relative(path)
	if !ours {
		first, _, _ := strings.Cut(path, "/")
		if strings.Contains(first, ".") {
			return class{layer: thirdParty}
		}
		return class{layer: std}
	}
	switch {
	case under(rel, "internal/bookshop"):
		return class{layer: kernel} // its subpackages too: the kernel is transport-free as a whole
	case under(rel, "internal/platform"):
		return class{layer: platform}
	case under(rel, "internal/gen"):
		return class{layer: gen}
	case slices.ContainsFunc(roots, func(dir string) bool { return under(rel, dir) }):
		return class{layer: root}
	}
	name, ok := strings.CutPrefix(rel, "internal/")
	if !ok || name == "" {
		return class{layer: unclassified}
	}
	name, sub, _ := strings.Cut(name, "/")
	if sub == name+"client" {
		return class{layer: client, service: name}
	}
	return class{layer: service, service: name}
}

// violation is one import that breaks a rule.
type violation struct {
	pkg  string // the importing package, a full import path
	imp  string // the imported package, a full import path
	test bool   // whether only _test.go files import imp
	link bool   // whether pkg links imp, perhaps through others (rules 7 and 8), rather than imports it
	rule int    // the number of the rule, as in the package documentation
	why  string // the rule and the reason for it
}

// String returns the violation as "PKG imports IMP: rule N: why".
func (v violation) String() string {
	in := ""
	if v.test {
		in = " (in tests)"
	}
	verb := "imports"
	if v.link {
		verb = "links"
	}
	return fmt.Sprintf("%s %s %s%s: rule %d: %s", short(v.pkg), verb, short(v.imp), in, v.rule, v.why)
}

// check returns every import in pkgs that breaks rules 1 to 5, sorted by
// importing and then imported package. It checks only the packages of the
// module, and the test imports only of the kernel. (Tests of the platform
// may use real services as their subjects, through external test
// packages: what the platform is built from stays free of services.)
func check(pkgs []Package) []violation {
	var vs []violation
	for _, p := range pkgs {
		if _, ours := relative(p.ImportPath); !ours {
			continue
		}
		from := classify(p.ImportPath)
		if from.layer == root {
			continue
		}
		for _, imp := range p.Imports {
			if rule, why := judge(from, imp); rule != 0 {
				vs = append(vs, violation{pkg: p.ImportPath, imp: imp, rule: rule, why: why})
			}
		}
		if from.layer != kernel {
			continue
		}
		for _, imp := range testOnlyImports(p) {
			if rule, why := judge(from, imp); rule != 0 {
				vs = append(vs, violation{pkg: p.ImportPath, imp: imp, test: true, rule: rule, why: why})
			}
		}
	}
	slices.SortFunc(vs, func(a, b violation) int {
		return cmp.Or(strings.Compare(a.pkg, b.pkg), strings.Compare(a.imp, b.imp))
	})
	return vs
}

// testOnlyImports returns the imports of p's _test.go files that its other
// files do not import, without p itself, sorted.
func testOnlyImports(p Package) []string {
	var imps []string
	for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
		if imp != p.ImportPath && !slices.Contains(p.Imports, imp) {
			imps = append(imps, imp)
		}
	}
	slices.Sort(imps)
	return slices.Compact(imps)
}

// judge returns the number of the rule that a package of class from breaks
// by importing imp, and why; or 0 and "" if the import is allowed.
func judge(from class, imp string) (rule int, why string) {
	to := classify(imp)
	if from.layer == kernel {
		return judgeKernel(imp, to)
	}
	if to.layer == root {
		return 5, "only a composition root (cmd/..., bench/..., internal/tool/..., internal/loadgen/..., " +
			"internal/architecture, internal/interop, internal/resilience) may import a composition root: " +
			"they wire everything together and sit at the top of the graph"
	}
	switch from.layer {
	case platform:
		switch to.layer {
		case service, client:
			return 2, fmt.Sprintf("a platform package imports no service (this is a package of service %s): "+
				"the platform serves every service, so it cannot depend on one", to.service)
		case gen:
			return 2, "a platform package imports no generated code: protobuf types are converted " +
				"at each service's edge, and the platform stays free of any service's contract"
		case unclassified:
			return 2, "a platform package imports only std, third-party modules, the kernel and platform; " +
				"this package is in no layer"
		}
	case service:
		switch to.layer {
		case service:
			if to.service != from.service {
				return 3, fmt.Sprintf("service %s may use service %s only through its client package "+
					"internal/%[2]s/%[2]sclient: services depend on each other's contracts, not on their internals",
					from.service, to.service)
			}
		case unclassified:
			return 3, "a service imports only std, third-party modules, the kernel, platform, gen, its own " +
				"packages and other services' client packages; this package is in no layer"
		}
	case client:
		switch to.layer {
		case service:
			if to.service == from.service {
				return 4, fmt.Sprintf("a client package imports no other package of its own service %s: "+
					"importing a client must never pull in the server", from.service)
			}
			return 4, fmt.Sprintf("a client package imports no other service's internals "+
				"(this is a package of service %s): it imports only std, third-party modules, the kernel, "+
				"platform, gen and other clients, so that importing it never pulls in a server", to.service)
		case unclassified:
			return 4, "a client package imports only std, third-party modules, the kernel, platform and gen; " +
				"this package is in no layer"
		}
	}
	return 0, ""
}

// judgeKernel is judge for an import imp of class to by the kernel.
func judgeKernel(imp string, to class) (rule int, why string) {
	switch {
	case to.layer == std && (under(imp, "net/http") || under(imp, "net/rpc")):
		return 1, "the kernel imports no transport (net/http, net/rpc): it is the domain, " +
			"and each transport converts to and from it at its own edge"
	case to.layer == std:
		return 0, ""
	case to.layer == thirdParty:
		return 1, "the kernel imports only the standard library: it is the transport-free domain " +
			"that every package depends on"
	case to.layer == kernel:
		return 0, "" // its own packages
	default:
		return 1, fmt.Sprintf("the kernel imports no other package of ours (this one is %s): "+
			"it is the centre of the graph, which every other package may import", to)
	}
}

// linkable are the packages of a service, relative to the module, that
// another service's command may link (rule 7): the Catalog's file format,
// with which cmd/recommendations reads its built-in catalog. It imports
// only the kernel.
var linkable = []string{"internal/catalog/catalogfile"}

// checkCommands returns every package that a service's own command,
// cmd/<name> for a service <name> of the graph, links against rule 7: a
// composition root, or a package of another service that is neither its
// client package nor linkable. It follows the non-test imports from the
// command, through every package of the module, and reports each bad
// package once per command, with the package that imports it.
func checkCommands(pkgs []Package) []violation {
	byPath := make(map[string]Package, len(pkgs))
	services := make(map[string]bool)
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
		if c := classify(p.ImportPath); c.layer == service {
			services[c.service] = true
		}
	}
	var vs []violation
	for _, p := range pkgs {
		rel, _ := relative(p.ImportPath)
		name, ok := strings.CutPrefix(rel, "cmd/")
		if !ok || !services[name] {
			continue
		}
		seen := map[string]bool{p.ImportPath: true}
		var walk func(from Package)
		walk = func(from Package) {
			for _, imp := range from.Imports {
				if seen[imp] {
					continue
				}
				seen[imp] = true
				rel, ours := relative(imp)
				if !ours {
					continue // a module other than ours links none of ours
				}
				to := classify(imp)
				bad := to.layer == root ||
					(to.layer == service && to.service != name && !slices.Contains(linkable, rel))
				if bad {
					vs = append(vs, violation{pkg: p.ImportPath, imp: imp, link: true, rule: 7, why: fmt.Sprintf(
						"the command of service %s links only its own service, other services' client packages, "+
							"the kernel, platform and gen (this package comes in through %s): a service's binary links "+
							"no other service's server, so that its heap, its collections and its start-up are its own",
						name, short(from.ImportPath))})
					continue
				}
				walk(byPath[imp])
			}
		}
		walk(p)
	}
	slices.SortFunc(vs, func(a, b violation) int {
		return cmp.Or(strings.Compare(a.pkg, b.pkg), strings.Compare(a.imp, b.imp))
	})
	return vs
}

// unlinked are the packages that no command links (rule 8), with why.
var unlinked = map[string]string{
	"google.golang.org/protobuf/reflect/protodesc": "it builds the descriptors of descriptor.proto at start, " +
		"some 132 KB of live heap that every collection marks, for server reflection, which " +
		"internal/platform/rpc/reflection serves without it (grpc-go's reflection package brings it in)",
}

// checkUnlinked returns, for each command under cmd/, every package of
// unlinked that it links (rule 8), through any chain of non-test imports,
// with the package that imports it.
func checkUnlinked(pkgs []Package) []violation {
	byPath := make(map[string]Package, len(pkgs))
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	var vs []violation
	for _, p := range pkgs {
		if rel, ours := relative(p.ImportPath); !ours || !strings.HasPrefix(rel, "cmd/") {
			continue
		}
		seen := map[string]bool{p.ImportPath: true}
		queue := []Package{p}
		for len(queue) > 0 {
			from := queue[0]
			queue = queue[1:]
			for _, imp := range from.Imports {
				if seen[imp] {
					continue
				}
				seen[imp] = true
				if why, ok := unlinked[imp]; ok {
					how := "imports it"
					if from.ImportPath != p.ImportPath {
						how = "links it through " + short(from.ImportPath)
					}
					vs = append(vs, violation{pkg: p.ImportPath, imp: imp, link: true, rule: 8,
						why: fmt.Sprintf("no command links it (this one %s): %s", how, why)})
					continue
				}
				queue = append(queue, byPath[imp])
			}
		}
	}
	slices.SortFunc(vs, func(a, b violation) int {
		return cmp.Or(strings.Compare(a.pkg, b.pkg), strings.Compare(a.imp, b.imp))
	})
	return vs
}

// checkLayout returns the problems with the graph as a whole: packages of
// the module in no layer, and a missing kernel, platform or expected service
// (rule 6), or an expected service without its command cmd/<name>, which
// rule 7 would then not check. Each problem starts with "layout: ".
func checkLayout(pkgs []Package) []string {
	var problems []string
	var haveKernel, havePlatform bool
	services := make(map[string]bool)
	commands := make(map[string]bool)
	for _, p := range pkgs {
		if _, ours := relative(p.ImportPath); !ours {
			continue
		}
		switch c := classify(p.ImportPath); c.layer {
		case kernel:
			haveKernel = true
		case platform:
			havePlatform = true
		case service, client:
			services[c.service] = true
		case root:
			if rel, _ := relative(p.ImportPath); strings.HasPrefix(rel, "cmd/") {
				commands[strings.TrimPrefix(rel, "cmd/")] = true
			}
		case unclassified:
			problems = append(problems, fmt.Sprintf("layout: %s is in no layer: put commands under cmd/ "+
				"and packages under internal/, or classify it in internal/architecture", short(p.ImportPath)))
		}
	}
	const vacuous = "; without it the rules may pass with nothing to check (is go list broken, or was it renamed?)"
	if !haveKernel {
		problems = append(problems, "layout: no kernel package internal/bookshop in the graph"+vacuous)
	}
	if !havePlatform {
		problems = append(problems, "layout: no platform package under internal/platform in the graph"+vacuous)
	}
	for _, s := range wantServices {
		if !services[s] {
			problems = append(problems, fmt.Sprintf("layout: no package of service %s (internal/%[1]s/...) in the graph%s", s, vacuous))
		}
		if !commands[s] {
			problems = append(problems, fmt.Sprintf("layout: no command cmd/%s of service %[1]s: each service has a binary of its own, "+
				"named after it, which rule 7 checks", s))
		}
	}
	return problems
}

// TestImportGraph checks the rules on the real import graph of the module.
func TestImportGraph(t *testing.T) {
	pkgs := loadGraph(t, moduleRoot(t))
	for _, p := range pkgs {
		if p.Error != nil {
			t.Errorf("go list: %s: %s", short(p.ImportPath), strings.TrimSpace(p.Error.Err))
		}
	}
	for _, problem := range checkLayout(pkgs) {
		t.Error(problem)
	}
	for _, v := range check(pkgs) {
		t.Error(v)
	}
	for _, v := range checkCommands(pkgs) {
		t.Error(v)
	}
	for _, v := range checkUnlinked(pkgs) {
		t.Error(v)
	}
}

// moduleRoot returns the directory of the go.mod of module modulePath,
// found by walking up from the working directory.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("os.Getwd() = %v", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			if got := goModModule(data); got != modulePath {
				tb.Fatalf("module in %s = %q, want %q", filepath.Join(dir, "go.mod"), got, modulePath)
			}
			return dir
		}
		if !errors.Is(err, os.ErrNotExist) {
			tb.Fatalf("read go.mod: %v", err)
		}
		if filepath.Dir(dir) == dir {
			tb.Fatalf("no go.mod in %s or any directory above it", wd)
		}
	}
}

// goModModule returns the module path that the go.mod file data declares,
// or "" if it declares none.
func goModModule(data []byte) string {
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// loadGraph runs `go list -e -deps -json ./...` in dir and returns the
// packages it lists: those of the module and every package they import.
func loadGraph(tb testing.TB, dir string) []Package {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-e", "-deps",
		"-json=ImportPath,Imports,TestImports,XTestImports,Error", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go list -e -deps -json ./... in %s: %v\n%s", dir, err, stderr.Bytes())
	}
	var pkgs []Package
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			tb.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// ours returns the import path of the package at rel in the module.
func ours(rel string) string {
	return modulePath + "/" + rel
}

// TestRules feeds check one import at a time, and shows that each rule
// fires on a bad import and stays quiet on good ones.
func TestRules(t *testing.T) {
	tests := []struct {
		pkg      string // the importing package, relative to the module
		imp      string // the imported package, a full import path
		test     bool   // whether a _test.go file imports imp
		wantRule int    // the rule broken, or 0 if the import is allowed
	}{
		// Rule 1: the kernel imports only std, and no transport.
		{"internal/bookshop", "context", false, 0},
		{"internal/bookshop", "net/url", false, 0},
		{"internal/bookshop", "testing", true, 0},
		{"internal/bookshop", ours("internal/bookshop"), true, 0},
		{"internal/bookshop", "google.golang.org/grpc", false, 1},
		{"internal/bookshop", "google.golang.org/grpc/codes", false, 1},
		{"internal/bookshop", "google.golang.org/protobuf/proto", false, 1},
		{"internal/bookshop", "github.com/google/uuid", false, 1},
		{"internal/bookshop", "net/http", false, 1},
		{"internal/bookshop", "net/rpc", false, 1},
		{"internal/bookshop", "net/http/httptest", true, 1},
		{"internal/bookshop", ours("internal/platform/rpc"), false, 1},
		{"internal/bookshop", ours("internal/catalog"), false, 1},
		{"internal/bookshop", ours("internal/gen/bookshop/catalog/v1"), true, 1},

		// Rule 2: the platform imports no service and no generated code.
		{"internal/platform/rpc", ours("internal/catalog"), false, 2},
		{"internal/platform/rpc", ours("internal/catalog/catalogclient"), false, 2},
		{"internal/platform/rpc", ours("internal/catalog"), true, 0}, // platform tests may use real services
		{"internal/bookshop", ours("internal/platform/rpc"), true, 1},
		{"internal/bookshop/money", "google.golang.org/grpc", false, 1},
		{"internal/bookshop/money", ours("internal/bookshop"), false, 0},
		{"internal/platform/telemetry", ours("internal/gen/bookshop/recommendations/v1"), false, 2},
		{"internal/platform", ours("internal/marketplace"), false, 2},
		{"internal/platform/rpc", ours("internal/bookshop"), false, 0},
		{"internal/platform/rpc", ours("internal/platform/telemetry"), false, 0},
		{"internal/platform/rpc", "google.golang.org/grpc", false, 0},
		{"internal/platform/rpc", "net/http", false, 0},
		{"internal/platform/rpc", "google.golang.org/grpc/health/grpc_health_v1", true, 0},

		// Rule 3: a service uses another service only through its client.
		{"internal/marketplace", ours("internal/catalog/sqlite"), false, 3},
		{"internal/marketplace", ours("internal/catalog"), false, 3},
		{"internal/marketplace", ours("internal/recommendations/catalogclient"), false, 3},
		{"internal/marketplace", ours("internal/catalog/catalogclient"), false, 0},
		{"internal/marketplace", ours("internal/recommendations/recommendationsclient"), false, 0},
		{"internal/marketplace", ours("internal/gen/bookshop/catalog/v1"), false, 0},
		{"internal/marketplace", ours("internal/bookshop"), false, 0},
		{"internal/marketplace", ours("internal/platform/rpc"), false, 0},
		{"internal/marketplace/web", ours("internal/marketplace"), false, 0},
		{"internal/catalog", ours("internal/catalog/sqlite"), false, 0},
		{"internal/catalog", ours("internal/catalog/catalogclient"), false, 0},
		{"internal/cart", ours("internal/catalog/catalogclient"), false, 0},
		{"internal/cart", ours("internal/catalog/sqlite"), false, 3},
		{"internal/marketplace", ours("internal/catalog"), true, 0}, // service tests are not checked

		// Rule 4: a client imports no service, not even its own.
		{"internal/catalog/catalogclient", ours("internal/catalog"), false, 4},
		{"internal/catalog/catalogclient", ours("internal/catalog/sqlite"), false, 4},
		{"internal/recommendations/recommendationsclient", ours("internal/catalog/catalogclient"), false, 0},
		{"internal/recommendations/recommendationsclient", ours("internal/catalog"), false, 4},
		{"internal/catalog/catalogclient", ours("internal/gen/bookshop/catalog/v1"), false, 0},
		{"internal/catalog/catalogclient", ours("internal/platform/rpc"), false, 0},
		{"internal/catalog/catalogclient", ours("internal/bookshop"), false, 0},
		{"internal/catalog/catalogclient", "google.golang.org/grpc", false, 0},

		// Rule 5: only composition roots import composition roots.
		{"internal/recommendations", ours("internal/tool"), false, 5},
		{"internal/recommendations", ours("internal/tool/protocheck"), false, 5},
		{"internal/marketplace", ours("internal/loadgen"), false, 5},
		{"internal/catalog", ours("cmd/bookshop"), false, 5},
		{"internal/catalog", ours("internal/interop"), false, 5},
		{"internal/platform/rpc", ours("internal/tool"), false, 5},
		{"internal/catalog/catalogclient", ours("bench/fixedgrpc"), false, 5},
		{"internal/gen/bookshop/catalog/v1", ours("internal/tool"), false, 5},
		{"internal/gen/bookshop/catalog/v1", "google.golang.org/protobuf/proto", false, 0},

		// Composition roots may import anything.
		{"cmd/bookshop", ours("internal/catalog/sqlite"), false, 0},
		{"cmd/bookshop", ours("internal/tool"), false, 0},
		{"cmd/bookshop", ours("internal/marketplace"), false, 0},
		{"bench/fixedgrpc", ours("internal/catalog/sqlite"), false, 0},
		{"internal/tool/protocheck", ours("internal/recommendations"), false, 0},
		{"internal/loadgen", ours("internal/marketplace"), false, 0},
		{"internal/resilience", ours("cmd/bookshop"), false, 0},
	}
	for _, tt := range tests {
		in := ""
		if tt.test {
			in = " (in tests)"
		}
		name := fmt.Sprintf("%s imports %s%s", tt.pkg, short(tt.imp), in)
		t.Run(name, func(t *testing.T) {
			p := Package{ImportPath: ours(tt.pkg)}
			if tt.test {
				p.XTestImports = []string{tt.imp}
			} else {
				p.Imports = []string{tt.imp}
			}
			got := check([]Package{p})
			switch {
			case tt.wantRule == 0 && len(got) != 0:
				t.Errorf("check(%s) = %v, want no violation", name, got)
			case tt.wantRule != 0 && (len(got) != 1 || got[0].rule != tt.wantRule):
				t.Errorf("check(%s) = %v, want one violation of rule %d", name, got, tt.wantRule)
			}
		})
	}
}

// TestCheckReportsAll checks that check reports every violation of a graph,
// sorted, each in the form TestImportGraph prints, and ignores packages
// that are not ours.
func TestCheckReportsAll(t *testing.T) {
	pkgs := []Package{
		{ImportPath: ours("internal/platform/rpc"), Imports: []string{
			"context", ours("internal/bookshop"), ours("internal/catalog"),
		}},
		{ImportPath: ours("internal/bookshop"), Imports: []string{
			"fmt", "net/http",
		}, XTestImports: []string{
			"net/http", ours("internal/bookshop"), ours("internal/platform/rpc"),
		}},
		{ImportPath: ours("internal/marketplace"), Imports: []string{
			ours("internal/catalog/catalogclient"), ours("internal/catalog/sqlite"), ours("internal/tool"),
		}},
		{ImportPath: ours("cmd/bookshop"), Imports: []string{ours("internal/catalog/sqlite")}},
		{ImportPath: "example.com/other", Imports: []string{ours("internal/catalog/sqlite")}},
		{ImportPath: "net/http", Imports: []string{"google.golang.org/grpc"}},
	}
	want := []string{
		"internal/bookshop imports internal/platform/rpc (in tests): rule 1: ",
		"internal/bookshop imports net/http: rule 1: ",
		"internal/marketplace imports internal/catalog/sqlite: rule 3: ",
		"internal/marketplace imports internal/tool: rule 5: ",
		"internal/platform/rpc imports internal/catalog: rule 2: ",
	}
	got := check(pkgs)
	if len(got) != len(want) {
		t.Fatalf("check(graph) = %d violations, want %d:\n%s", len(got), len(want), lines(got))
	}
	for i, v := range got {
		if s := v.String(); !strings.HasPrefix(s, want[i]) {
			t.Errorf("check(graph)[%d] = %q, want it to start with %q", i, s, want[i])
		}
	}
}

// lines returns vs one per line, for failure messages.
func lines(vs []violation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\t%v\n", v)
	}
	return b.String()
}

// TestCommands checks rule 7 on a synthetic graph: each service's command
// links its own service and others' clients, and nothing else of theirs,
// however deep the import that brings it in.
func TestCommands(t *testing.T) {
	graph := func(extra ...Package) []Package {
		return append([]Package{
			{ImportPath: ours("cmd/recommendations"), Imports: []string{
				ours("internal/recommendations"), ours("internal/catalog/catalogfile"), ours("internal/platform/launch"),
			}},
			{ImportPath: ours("internal/recommendations"), Imports: []string{
				ours("internal/catalog/catalogclient"), ours("internal/bookshop"), "google.golang.org/grpc",
			}},
			{ImportPath: ours("internal/catalog/catalogfile"), Imports: []string{ours("internal/bookshop")}},
			{ImportPath: ours("internal/catalog/catalogclient"), Imports: []string{ours("internal/gen/bookshop/catalog/v1")}},
			{ImportPath: ours("internal/catalog"), Imports: []string{ours("internal/catalog/sqlite")}},
			{ImportPath: ours("internal/catalog/sqlite")},
			{ImportPath: ours("internal/platform/launch")},
			{ImportPath: ours("internal/tool"), Imports: []string{ours("internal/catalog")}},
			{ImportPath: ours("internal/bookshop")},
			{ImportPath: ours("cmd/bookshop"), Imports: []string{ours("internal/tool")}}, // not a service's command
		}, extra...)
	}
	tests := []struct {
		name string
		pkgs []Package
		want []string // each violation's start, sorted
	}{
		{"lean", graph(), nil},
		{"the linkable package, linking a server", append(graph()[:2], append([]Package{
			{ImportPath: ours("internal/catalog/catalogfile"), Imports: []string{ours("internal/catalog/sqlite")}},
		}, graph()[3:]...)...), []string{"cmd/recommendations links internal/catalog/sqlite: rule 7: "}},
		{"a package no command links", graph(Package{ImportPath: ours("internal/recommendations/feed"),
			Imports: []string{ours("internal/catalog")}}), nil}, // nothing imports feed
		{"through the tool", append(graph()[1:], Package{ImportPath: ours("cmd/recommendations"), Imports: []string{
			ours("internal/recommendations"), ours("internal/tool"),
		}}), []string{"cmd/recommendations links internal/tool: rule 7: "}},
		{"another service's server, through its own", append(graph()[2:], Package{ImportPath: ours("cmd/recommendations"), Imports: []string{
			ours("internal/recommendations"),
		}}, Package{ImportPath: ours("internal/recommendations"), Imports: []string{ours("internal/catalog/catalogclient"), ours("internal/catalog")}}),
			[]string{"cmd/recommendations links internal/catalog: rule 7: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantViolations(t, "checkCommands("+tt.name+")", checkCommands(tt.pkgs), tt.want)
		})
	}
}

// wantViolations checks that got, the violations check found, are as
// many as want and each starts with want's string at its index.
func wantViolations(t *testing.T, check string, got []violation, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %d violations, want %d:\n%s", check, len(got), len(want), lines(got))
	}
	for i, v := range got {
		if s := v.String(); !strings.HasPrefix(s, want[i]) {
			t.Errorf("%s[%d] = %q, want it to start with %q", check, i, s, want[i])
		}
	}
}

// TestUnlinked checks rule 8 on a synthetic graph: a command that links
// protodesc, however deep and by however many paths, is reported once,
// with the package that imports it; one that does not, and packages that
// are no command of ours (Go's own cmd/..., a root that is no command),
// are not.
func TestUnlinked(t *testing.T) {
	const protodesc = "google.golang.org/protobuf/reflect/protodesc"
	pkgs := []Package{
		{ImportPath: ours("cmd/catalog"), Imports: []string{ours("internal/catalog"), ours("internal/tool"), "google.golang.org/grpc"}},
		{ImportPath: ours("cmd/cart"), Imports: []string{ours("internal/cart")}},
		{ImportPath: ours("cmd/orders"), Imports: []string{protodesc}},
		{ImportPath: ours("internal/catalog"), Imports: []string{"google.golang.org/grpc/reflection", "google.golang.org/grpc"}},
		{ImportPath: ours("internal/cart"), Imports: []string{"google.golang.org/grpc"}},
		{ImportPath: ours("internal/tool"), Imports: []string{protodesc}},
		{ImportPath: "google.golang.org/grpc/reflection", Imports: []string{protodesc, "google.golang.org/grpc"}},
		{ImportPath: "google.golang.org/grpc"},
		{ImportPath: protodesc},
		{ImportPath: "cmd/go", Imports: []string{protodesc}}, // Go's own command, not ours
		{ImportPath: ours("bench/fixedgrpc"), Imports: []string{protodesc}},
	}
	want := []string{
		"cmd/catalog links " + protodesc + ": rule 8: no command links it (this one links it through internal/tool): ",
		"cmd/orders links " + protodesc + ": rule 8: no command links it (this one imports it): ",
	}
	wantViolations(t, "checkUnlinked", checkUnlinked(pkgs), want)
}

// TestCheckLayout checks rule 6, and that a package of ours in no layer is
// reported.
func TestCheckLayout(t *testing.T) {
	final := []Package{
		{ImportPath: ours("internal/bookshop")},
		{ImportPath: ours("internal/platform/rpc")},
		{ImportPath: ours("internal/catalog")},
		{ImportPath: ours("internal/recommendations")},
		{ImportPath: ours("internal/accounts")},
		{ImportPath: ours("internal/cart")},
		{ImportPath: ours("internal/inventory")},
		{ImportPath: ours("internal/payments")},
		{ImportPath: ours("internal/orders")},
		{ImportPath: ours("internal/promotions")},
		{ImportPath: ours("internal/checkout")},
		{ImportPath: ours("internal/marketplace")},
		{ImportPath: ours("cmd/bookshop")},
		{ImportPath: "context"},
	}
	for _, name := range wantServices {
		final = append(final, Package{ImportPath: ours("cmd/" + name)})
	}
	without := func(rel string) []Package {
		return slices.DeleteFunc(slices.Clone(final), func(p Package) bool { return p.ImportPath == ours(rel) })
	}
	tests := []struct {
		name string
		pkgs []Package
		want []string // the start of each problem, in order
	}{
		{"final layout", final, nil},
		{"no kernel", without("internal/bookshop"), []string{"layout: no kernel package internal/bookshop"}},
		{"no platform", without("internal/platform/rpc"), []string{"layout: no platform package"}},
		{"no recommendations", without("internal/recommendations"), []string{"layout: no package of service recommendations"}},
		{"only a client of catalog", append(without("internal/catalog"), Package{ImportPath: ours("internal/catalog/catalogclient")}), nil},
		{"platform not yet moved", append(without("internal/platform/rpc"), Package{ImportPath: ours("internal/telemetry")}),
			[]string{"layout: no platform package"}},
		{"package in no layer", append(slices.Clone(final), Package{ImportPath: ours("tools/x")}),
			[]string{"layout: tools/x is in no layer"}},
		{"a service without its command", without("cmd/payments"), []string{"layout: no command cmd/payments of service payments"}},
		{"empty graph", nil, []string{
			"layout: no kernel package",
			"layout: no platform package",
			"layout: no package of service catalog", "layout: no command cmd/catalog",
			"layout: no package of service recommendations", "layout: no command cmd/recommendations",
			"layout: no package of service accounts", "layout: no command cmd/accounts",
			"layout: no package of service cart", "layout: no command cmd/cart",
			"layout: no package of service inventory", "layout: no command cmd/inventory",
			"layout: no package of service payments", "layout: no command cmd/payments",
			"layout: no package of service orders", "layout: no command cmd/orders",
			"layout: no package of service promotions", "layout: no command cmd/promotions",
			"layout: no package of service checkout", "layout: no command cmd/checkout",
			"layout: no package of service marketplace", "layout: no command cmd/marketplace",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkLayout(tt.pkgs)
			if len(got) != len(tt.want) {
				t.Fatalf("checkLayout(%s) = %q, want %d problems starting %q", tt.name, got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("checkLayout(%s)[%d] = %q, want it to start with %q", tt.name, i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestClassify checks the layer and service of some paths.
func TestClassify(t *testing.T) {
	tests := []struct {
		path string
		want class
	}{
		{"context", class{layer: std}},
		{"net/http", class{layer: std}},
		{"google.golang.org/grpc", class{layer: thirdParty}},
		{"github.com/google/uuid", class{layer: thirdParty}},
		{"github.com/bookshop-go/bookshopx/internal/catalog", class{layer: thirdParty}},
		{ours("internal/bookshop"), class{layer: kernel}},
		{ours("internal/bookshop/bookshoptest"), class{layer: kernel}},
		{ours("internal/platform"), class{layer: platform}},
		{ours("internal/platform/rpc"), class{layer: platform}},
		{ours("internal/platformx"), class{layer: service, service: "platformx"}},
		{ours("internal/gen/bookshop/catalog/v1"), class{layer: gen}},
		{ours("cmd/bookshop"), class{layer: root}},
		{ours("bench/fixedgrpc"), class{layer: root}},
		{ours("internal/tool/protocheck"), class{layer: root}},
		{ours("internal/loadgen"), class{layer: root}},
		{ours("internal/architecture"), class{layer: root}},
		{ours("internal/interop"), class{layer: root}},
		{ours("internal/resilience"), class{layer: root}},
		{ours("internal/catalog"), class{layer: service, service: "catalog"}},
		{ours("internal/catalog/sqlite"), class{layer: service, service: "catalog"}},
		{ours("internal/cart"), class{layer: service, service: "cart"}},
		{ours("internal/catalog/catalogclient"), class{layer: client, service: "catalog"}},
		{ours("internal/catalog/catalogclient/x"), class{layer: service, service: "catalog"}},
		{ours("internal/recommendations/catalogclient"), class{layer: service, service: "recommendations"}},
		{modulePath, class{layer: unclassified}},
		{ours("internal"), class{layer: unclassified}},
		{ours("tools/x"), class{layer: unclassified}},
	}
	for _, tt := range tests {
		if got := classify(tt.path); got != tt.want {
			t.Errorf("classify(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
