package deploy

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// livenessService is the health service name that every gRPC server of
// the binary answers SERVING from the moment it runs, whatever its checks
// of the database and the services it depends on say (rpc.LivenessService):
// the name for liveness probes. Every other name ("" and each service's)
// follows those checks, for readiness.
const livenessService = "liveness"

// The Marketplace's HTTP health paths: /healthz answers while the web
// server runs, /readyz while it can serve pages (Recommendations answers,
// and it is not shutting down).
const (
	marketplaceLivenessPath  = "/healthz"
	marketplaceReadinessPath = "/readyz"
)

// grpcService is a gRPC service of the .proto files under proto/: its full
// name, as the health service knows it, and its package.
type grpcService struct {
	name string // "bookshop.catalog.v1.CatalogService", or "Recommendations" with no package
	pkg  string // "bookshop.catalog.v1", or ""
}

var protoServicesOnce struct {
	sync.Once
	services []grpcService
	err      error
}

// protoServices returns the gRPC services that the .proto files of the
// repository define, the source of the generated code the binary
// registers: deploy/ is a module of its own and does not import the
// main one, so it reads each file's package and service lines.
func protoServices(tb testing.TB) []grpcService {
	tb.Helper()
	protoServicesOnce.Do(func() {
		root := filepath.Join(repoRoot, "proto")
		protoServicesOnce.err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".proto") {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			var pkg string
			var names []string
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fields := strings.Fields(sc.Text())
				if len(fields) < 2 {
					continue
				}
				switch fields[0] {
				case "package":
					pkg = strings.TrimSuffix(fields[1], ";")
				case "service":
					names = append(names, strings.TrimSuffix(fields[1], "{"))
				}
			}
			if err := sc.Err(); err != nil {
				return err
			}
			for _, n := range names {
				full := n
				if pkg != "" {
					full = pkg + "." + n
				}
				protoServicesOnce.services = append(protoServicesOnce.services, grpcService{name: full, pkg: pkg})
			}
			return nil
		})
	})
	if protoServicesOnce.err != nil {
		tb.Fatalf("read the .proto files: %v", protoServicesOnce.err)
	}
	if len(protoServicesOnce.services) == 0 {
		tb.Fatal("no service in the .proto files under proto/")
	}
	return protoServicesOnce.services
}

// knownHealthName reports whether name is one the health service of a
// server of the binary can answer: "" (the whole server), liveness, or a
// service of the .proto files. A probe that asks another name, such as
// bookshop.catalog.v1.Catalog for bookshop.catalog.v1.CatalogService, is
// answered NOT_FOUND, and the pod is never ready, or restarted for ever.
func knownHealthName(tb testing.TB, name string) bool {
	tb.Helper()
	return name == "" || name == livenessService || slices.ContainsFunc(protoServices(tb), func(s grpcService) bool { return s.name == name })
}

// ownServices returns the services that the command serves, by the
// packages' convention: bookshop.<command>.vN, and the tutorial's
// package-less service of the same name (Recommendations). Their health,
// as "", follows the server's checks.
func ownServices(tb testing.TB, command string) []string {
	tb.Helper()
	var out []string
	for _, s := range protoServices(tb) {
		parts := strings.Split(s.pkg, ".")
		if s.pkg == "" && strings.EqualFold(s.name, command) || len(parts) == 3 && parts[0] == "bookshop" && parts[1] == command {
			out = append(out, s.name)
		}
	}
	return out
}

// TestProtoServices checks the reading of the .proto files against names
// the manifests and Compose use.
func TestProtoServices(t *testing.T) {
	for _, name := range []string{"bookshop.catalog.v1.CatalogService", "Recommendations", "bookshop.recommendations.v1.LiveRecommendationsService", "", livenessService} {
		if !knownHealthName(t, name) {
			t.Errorf("knownHealthName(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"bookshop.catalog.v1.Catalog", "catalog", "Liveness", "bookshop.catalog.v1"} {
		if knownHealthName(t, name) {
			t.Errorf("knownHealthName(%q) = true, want false", name)
		}
	}
	if got, want := ownServices(t, "recommendations"), []string{"Recommendations", "bookshop.recommendations.v1.LiveRecommendationsService"}; !sameElements(got, want) {
		t.Errorf("ownServices(recommendations) = %v, want %v", got, want)
	}
	if got, want := ownServices(t, "catalog"), []string{"bookshop.catalog.v1.CatalogService"}; !sameElements(got, want) {
		t.Errorf("ownServices(catalog) = %v, want %v", got, want)
	}
}

func sameElements(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
