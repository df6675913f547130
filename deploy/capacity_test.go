package deploy

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// budget is a row of the table of docs/capacity.md: a service's memory
// limit and what it holds, in bytes.
type budget struct {
	service string
	limit   float64
	idle    float64
	items   []string  // "6,000 live sessions × 20 KiB = 117 MiB"
	values  []float64 // each item's, after its "="
	worst   float64
}

// readBudgets reads the table of "## The budgets" in docs/capacity.md.
func readBudgets(tb testing.TB) []budget {
	tb.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "docs", "capacity.md"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var (
		budgets []budget
		in      bool
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## The budgets"
			continue
		case !in || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Service") || strings.HasPrefix(line, "| ---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 5 {
			tb.Fatalf("docs/capacity.md: a row of %d cells, want 5: %q", len(cells), line)
		}
		b := budget{service: cells[0], limit: bytesOf(tb, cells[1]), idle: bytesOf(tb, cells[2]), worst: bytesOf(tb, cells[4])}
		for item := range strings.SplitSeq(cells[3], "; ") {
			_, value, ok := strings.Cut(item, " = ")
			if !ok {
				tb.Fatalf("docs/capacity.md, %s: %q says no amount after =", b.service, item)
			}
			b.items = append(b.items, item)
			b.values = append(b.values, bytesOf(tb, value))
		}
		budgets = append(budgets, b)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(budgets) == 0 {
		tb.Fatal(`docs/capacity.md has no table under "## The budgets"`)
	}
	return budgets
}

// amount is a number of bytes as the budgets write it: "1,234 KiB".
var amount = regexp.MustCompile(`^([0-9][0-9,]*) (B|KiB|MiB)$`)

// bytesOf reads an amount.
func bytesOf(tb testing.TB, s string) float64 {
	tb.Helper()
	m := amount.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		tb.Fatalf("docs/capacity.md: %q is not an amount such as 12 MiB", s)
	}
	return countOf(tb, m[1]) * map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20}[m[2]]
}

// countOf reads a number written with thousands separators.
func countOf(tb testing.TB, s string) float64 {
	tb.Helper()
	n, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil {
		tb.Fatalf("docs/capacity.md: %q is not a number", s)
	}
	return n
}

// product is an item that multiplies: "6,000 live sessions × 20 KiB".
var product = regexp.MustCompile(`^([0-9][0-9,]*) [^×]*× ([0-9][0-9,]* (?:B|KiB|MiB)) = `)

// TestCapacity checks the memory budgets of docs/capacity.md: that every
// service has one, a gRPC server's with its health watches and health
// connections; that each adds up (each product, and the idle process and
// the items to the worst case, to the MiB the table rounds to), that the
// worst case at the caps leaves a quarter of the limit to the collector,
// and that the limit is the one Kubernetes (every overlay) and Compose
// give the service.
func TestCapacity(t *testing.T) {
	const mib = 1 << 20
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1*mib }
	clusters := make(map[string]*cluster)
	for _, o := range overlays {
		clusters[o] = buildOverlay(t, o)
	}
	compose := loadCompose(t)
	budgets := readBudgets(t)
	// Every service has its row, and every gRPC server (those with a
	// plaintext health port) counts what anyone who reaches its ports may
	// make it hold: health watches and health connections.
	for _, p := range clusters["dev"].pods(t) {
		i := slices.IndexFunc(budgets, func(b budget) bool { return strings.ToLower(b.service) == p.dep.Name })
		if i < 0 {
			t.Errorf("docs/capacity.md has no budget of %s", p.dep.Name)
			continue
		}
		if _, grpc := p.cmd.flags["health-addr"]; !grpc {
			continue
		}
		for _, what := range []string{"health watches", "health connections"} {
			if !slices.ContainsFunc(budgets[i].items, func(item string) bool { return strings.Contains(item, " "+what+" × ") }) {
				t.Errorf("docs/capacity.md: %s serves gRPC, but its worst case counts no %s", budgets[i].service, what)
			}
		}
	}
	for _, b := range budgets {
		t.Run(b.service, func(t *testing.T) {
			sum := b.idle
			for i, item := range b.items {
				sum += b.values[i]
				if m := product.FindStringSubmatch(item); m != nil {
					if got := countOf(t, m[1]) * bytesOf(t, m[2]); !near(got, b.values[i]) {
						t.Errorf("%q: the product is %.1f MiB", item, got/mib)
					}
				}
			}
			if !near(sum, b.worst) {
				t.Errorf("the worst case is %.0f MiB, but the idle process and what it holds at the caps add up to %.1f MiB", b.worst/mib, sum/mib)
			}
			if b.worst > b.limit*3/4 {
				t.Errorf("the worst case, %.0f MiB, is more than three quarters of the limit, %.0f MiB: the collector needs room", b.worst/mib, b.limit/mib)
			}

			name := strings.ToLower(b.service)
			for o, c := range clusters {
				d := c.deployment(name)
				if d == nil {
					t.Errorf("overlay %s has no Deployment %s", o, name)
					continue
				}
				for _, ctr := range d.Spec.Template.Spec.Containers {
					lim, ok := ctr.Resources.Limits[corev1.ResourceMemory]
					if !ok || float64(lim.Value()) != b.limit {
						t.Errorf("overlay %s: container %s of %s has a memory limit of %s, want %.0f MiB as docs/capacity.md budgets", o, ctr.Name, name, lim.String(), b.limit/mib)
					}
				}
			}
			found := 0
			for _, s := range compose.Services {
				if s.Name != name && !strings.HasPrefix(s.Name, name+"-") {
					continue
				}
				found++
				if float64(s.MemLimit) != b.limit {
					t.Errorf("compose.yaml: %s has mem_limit %s, want %.0f MiB as docs/capacity.md budgets", s.Name, fmt.Sprint(s.MemLimit), b.limit/mib)
				}
			}
			if found == 0 {
				t.Errorf("compose.yaml has no service %s", name)
			}
		})
	}
}

// TestLiveCapsAgree checks that a Marketplace replica can open as many
// live sessions as it takes (-live-sessions) on the Recommendations
// replicas it balances over, the fewest there may be: each takes at most
// -live-streams-per-caller of one caller (0: half of -live-streams), so
// that with one replica of each (the dev overlay) the cap of one caller
// must be the Marketplace's whole cap, or its sessions past it are
// refused. (`bookshop up`, where the Marketplace is the one caller, gives
// one caller every stream: internal/tool's TestUpLiveStreamsOfOneCaller.)
func TestLiveCapsAgree(t *testing.T) {
	// check holds the caps of marketplace to those of recs, which run at
	// least replicas at once.
	check := func(t *testing.T, where string, sessions, streams, perCaller string, replicas int) {
		t.Helper()
		s, err1 := strconv.Atoi(sessions)
		all, err2 := strconv.Atoi(streams)
		per, err3 := 0, error(nil) // no default in the help: 0, half
		if perCaller != "" {
			per, err3 = strconv.Atoi(perCaller)
		}
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("%s: -live-sessions %q, -live-streams %q, -live-streams-per-caller %q: want numbers", where, sessions, streams, perCaller)
		}
		if per == 0 {
			per = max(1, all/2)
		}
		if per*replicas < s {
			t.Errorf("%s: a Marketplace replica takes %d live sessions, but the %d Recommendations replicas it balances over (the fewest) take %d of one caller each: set RECOMMENDATIONS_LIVE_STREAMS_PER_CALLER to %d or more",
				where, s, replicas, per, (s+replicas-1)/replicas)
		}
	}
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			c := buildOverlay(t, o)
			pods := c.pods(t)
			recs, markets := runningIn(pods, "recommendations"), runningIn(pods, "marketplace")
			if len(recs) != 1 || len(markets) != 1 {
				t.Fatalf("%d Deployments run Recommendations and %d the Marketplace, want one of each", len(recs), len(markets))
			}
			replicas := int(deref(recs[0].dep.Spec.Replicas))
			if h := c.hpaOf(recs[0].dep.Name); h != nil {
				replicas = int(deref(h.Spec.MinReplicas))
			}
			check(t, o, markets[0].setting(t, "live-sessions"), recs[0].setting(t, "live-streams"), recs[0].setting(t, "live-streams-per-caller"), max(replicas, 1))
		})
	}
	t.Run("compose", func(t *testing.T) {
		services := composeServices(t, loadCompose(t))
		recs, replicas := running(services, "recommendations"), 0
		for _, r := range recs {
			replicas += r.replicas()
		}
		for _, m := range running(services, "marketplace") {
			for _, r := range recs {
				check(t, "compose.yaml, services "+m.name+" and "+r.name, m.setting(t, "live-sessions"), r.setting(t, "live-streams"), r.setting(t, "live-streams-per-caller"), replicas)
			}
		}
	})
}
