package heapstats

import (
	"context"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// TestMatchServices checks that the comparison servers' target is the
// services', and that GOGC still wins.
func TestMatchServices(t *testing.T) {
	if servicesGCPercent != process.GCPercent {
		t.Fatalf("servicesGCPercent = %d, want process.GCPercent, %d", servicesGCPercent, process.GCPercent)
	}
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	MatchServices(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != process.GCPercent {
		t.Errorf("without GOGC, the target is %d, want %d", got, process.GCPercent)
	}
	MatchServices(func(k string) string { return map[string]string{"GOGC": "150"}[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, the target became %d, want it left alone (100)", got)
	}
}

// TestComparisonServersLean checks that the comparison servers link none
// of the services' platform: what they are compared by is their own.
func TestComparisonServersLean(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-deps", "github.com/bookshop-go/bookshop/bench/fixedgrpc", "github.com/bookshop-go/bookshop/bench/fixedweb").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for pkg := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(pkg, "github.com/bookshop-go/bookshop/internal/platform/") {
			t.Errorf("a comparison server links %s", pkg)
		}
	}
}
