package deploy

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMetricsReference keeps three lists of Bookshop's own metrics
// (bookshop_*) the same: those the services register (the Name of each
// metric's options in internal/, outside tests), exportedMetrics (what
// the dashboards may use), and the table of docs/operations.md that
// operators read. A metric added, renamed or removed in the code fails
// here until the other two say so.
func TestMetricsReference(t *testing.T) {
	registered := map[string]bool{}
	name := regexp.MustCompile(`Name:\s*"(bookshop_[a-z0-9_]+)"`)
	err := filepath.WalkDir(filepath.Join(repoRoot, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range name.FindAllSubmatch(src, -1) {
			registered[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(registered) < 30 {
		t.Fatalf("found %d metrics registered in internal/, want every service's (30 or more): has the way they are declared changed?", len(registered))
	}

	exported := map[string]bool{}
	for _, m := range exportedMetrics {
		if strings.HasPrefix(m.name, "bookshop_") {
			exported[m.name] = true
		}
	}

	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	cell := regexp.MustCompile("`(bookshop_[a-z0-9_]+)`")
	for line := range strings.Lines(string(doc)) {
		if !strings.HasPrefix(line, "| `bookshop_") {
			continue // only the table's first column names metrics
		}
		first, _, _ := strings.Cut(line[1:], "|")
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			documented[m[1]] = true
		}
	}

	missing := func(from, in map[string]bool) []string {
		var out []string
		for n := range from {
			if !in[n] {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out
	}
	if m := missing(registered, exported); len(m) > 0 {
		t.Errorf("registered in internal/ but not in exportedMetrics (deploy/dashboards_test.go): %v", m)
	}
	if m := missing(exported, registered); len(m) > 0 {
		t.Errorf("in exportedMetrics but registered nowhere in internal/: %v", m)
	}
	if m := missing(registered, documented); len(m) > 0 {
		t.Errorf("registered in internal/ but not in the metrics table of docs/operations.md: %v", m)
	}
	if m := missing(documented, registered); len(m) > 0 {
		t.Errorf("in the metrics table of docs/operations.md but registered nowhere in internal/: %v", m)
	}
}
