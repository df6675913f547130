package deploy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// The dashboards of Grafana in the profile observability, and the metrics
// they may show: those that the services export.

// metricKind is the type of a metric family.
type metricKind string

const (
	counter   metricKind = "counter"
	gauge     metricKind = "gauge"
	histogram metricKind = "histogram"
)

// metricDef is a metric family that a service exports.
type metricDef struct {
	name   string
	kind   metricKind
	labels []string // nil: any (the runtime's metrics)
}

// exportedMetrics are the metric families that the services serve on
// their admin port (ADMIN_ADDR, /metrics), with their labels: the
// dashboards may use these and no others. The list mirrors what
// internal/platform/telemetry, internal/platform/rpc and each service's
// own metrics (internal/catalog, internal/recommendations,
// internal/accounts, internal/cart, internal/orders, internal/inventory,
// internal/payments, internal/promotions, internal/marketplace) register
// (the gRPC ones through go-grpc-middleware's providers/prometheus);
// TestComposeRunsOnLoopback checks the names that the dashboards use
// against a live scrape of the services. Keep it here, in one place.
var exportedMetrics = []metricDef{
	// gRPC server: the Catalog and Recommendations (and the Marketplace's
	// health).
	{"grpc_server_started_total", counter, grpcLabels},
	{"grpc_server_handled_total", counter, append(slices.Clone(grpcLabels), "grpc_code")},
	{"grpc_server_msg_received_total", counter, grpcLabels},
	{"grpc_server_msg_sent_total", counter, grpcLabels},
	{"grpc_server_handling_seconds", histogram, grpcLabels},
	// gRPC client: the Marketplace's calls to Recommendations and the
	// Catalog, and Recommendations' to the Catalog.
	{"grpc_client_started_total", counter, grpcLabels},
	{"grpc_client_handled_total", counter, append(slices.Clone(grpcLabels), "grpc_code")},
	{"grpc_client_msg_received_total", counter, grpcLabels},
	{"grpc_client_msg_sent_total", counter, grpcLabels},
	{"grpc_client_handling_seconds", histogram, grpcLabels},
	// HTTP: the Marketplace's pages, by ServeMux pattern.
	{"http_request_duration_seconds", histogram, []string{"method", "route", "code"}},
	// Bookshop's own.
	{"bookshop_recommendations_served_total", counter, []string{"category"}},
	{"bookshop_books_imported_total", counter, []string{}},                     // Catalog
	{"bookshop_books_rejected_total", counter, []string{}},                     // Catalog
	{"bookshop_catalog_watches", gauge, []string{}},                            // Catalog: open WatchBooks streams
	{"bookshop_catalog_imports", gauge, []string{}},                            // Catalog: ImportBooks streams writing or waiting
	{"bookshop_recommendations_books", gauge, []string{}},                      // Recommendations: books of its copy of the catalog
	{"bookshop_live_streams", gauge, []string{}},                               // Recommendations: open live gRPC streams
	{"bookshop_live_sessions", gauge, []string{}},                              // Marketplace: open browser live sessions
	{"bookshop_accounts_signups_total", counter, []string{}},                   // Accounts: accounts opened
	{"bookshop_accounts_signins_total", counter, []string{"result"}},           // Accounts: sign-ins by result
	{"bookshop_accounts_sessions", gauge, []string{}},                          // Accounts: sessions not ended
	{"bookshop_cart_items_added_total", counter, []string{}},                   // Cart: copies added
	{"bookshop_cart_add_retries_total", counter, []string{}},                   // Cart: adds that a key had already done
	{"bookshop_cart_merges_total", counter, []string{}},                        // Cart: guests' carts merged at sign-in
	{"bookshop_cart_catalog_unavailable_total", counter, []string{}},           // Cart: carts it could not price
	{"bookshop_cart_guest_carts_swept_total", counter, []string{}},             // Cart: idle guests' carts deleted
	{"bookshop_orders_created_total", counter, []string{}},                     // Orders: orders recorded
	{"bookshop_orders_create_replays_total", counter, []string{}},              // Orders: creations a key had already done
	{"bookshop_orders_create_refused_total", counter, []string{}},              // Orders: creations refused
	{"bookshop_orders_cancelled_total", counter, []string{}},                   // Orders: orders cancelled
	{"bookshop_orders_sales_minor_units_total", counter, []string{"currency"}}, // Orders: the totals recorded
	{"bookshop_inventory_reservations_total", counter, []string{"outcome"}},    // Inventory: reservations by outcome
	{"bookshop_inventory_stockouts_total", counter, []string{}},                // Inventory: books whose last copy was reserved
	{"bookshop_payments_charges_total", counter, []string{"result"}},           // Payments: charges by result
	{"bookshop_payments_refunds_total", counter, []string{}},                   // Payments: charges refunded
	{"bookshop_payments_keys_cancelled_total", counter, []string{}},            // Payments: keys cancelled before any charge
	{"bookshop_checkout_checkouts_total", counter, []string{"outcome"}},        // Checkout: checkouts ended, by outcome
	{"bookshop_checkout_recovered_total", counter, []string{"result"}},         // Checkout: unfinished checkouts taken up, by result
	{"bookshop_checkout_unfinished", gauge, []string{}},                        // Checkout: checkouts not ended
	{"bookshop_checkout_unfinished_oldest_age_seconds", gauge, []string{}},     // Checkout: the age of the oldest not ended

	// Promotions.
	{"bookshop_promotions_offers_total", counter, []string{"outcome"}},                // offers shown, by outcome
	{"bookshop_promotions_claims_total", counter, []string{"outcome"}},                // claims of a customer's use, by outcome
	{"bookshop_promotions_uses_total", counter, []string{}},                           // uses confirmed
	{"bookshop_promotions_discount_minor_units_total", counter, []string{"currency"}}, // the discount given
}

var grpcLabels = []string{"grpc_type", "grpc_service", "grpc_method"}

// runtimeMetricPrefixes are the families of client_golang's Go and
// process collectors, which every service registers: any go_* or
// process_* name, a counter when it ends in _total.
var runtimeMetricPrefixes = []string{"go_", "process_"}

// labelValues are the values that some labels take: a dashboard that
// compares one of these labels with = or != must name one of them.
var labelValues = map[string][]string{
	"grpc_type":    {"unary", "client_stream", "server_stream", "bidi_stream"},
	"grpc_service": {"Recommendations", "bookshop.catalog.v1.CatalogService", "bookshop.accounts.v1.AccountsService", "bookshop.cart.v1.CartService", "bookshop.orders.v1.OrdersService", "bookshop.inventory.v1.InventoryService", "bookshop.payments.v1.PaymentsService", "bookshop.recommendations.v1.LiveRecommendationsService", "grpc.health.v1.Health"},
	"grpc_code": {"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied",
		"ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"},
	// Accounts' sign-ins (bookshop_accounts_signins_total), Payments'
	// charges (bookshop_payments_charges_total), then the Checkout's
	// recoveries (bookshop_checkout_recovered_total).
	"result": {"ok", "wrong", "throttled", "approved", "declined", "unavailable", "retry", "conflict", "finished", "undone", "stalled"},
	// The Inventory's reservations (bookshop_inventory_reservations_total),
	// then the Checkout's checkouts (bookshop_checkout_checkouts_total).
	"outcome": {"held", "sold_out", "replayed", "committed", "released", "expired", "placed", "declined", "total_changed", "refused", "invalid", "unavailable", "internal"},
	"route":   {"/{$}", "/books/{id}", "/api/books/{id}", "/categories/{name}", "/live", "/live/{session}/events", "/static/", "/healthz", "/readyz", "/"},
}

// targetLabels are the labels that Prometheus gives every series it
// scrapes.
var targetLabels = []string{"job", "instance"}

// histogramSuffixes are the series of a classic histogram.
var histogramSuffixes = []string{"_bucket", "_sum", "_count"}

// seriesDef returns the family of exportedMetrics (or of the runtime's)
// that the series name belongs to, and the suffix of a histogram's series.
func seriesDef(name string) (def metricDef, suffix string, ok bool) {
	for _, m := range exportedMetrics {
		if m.name == name && m.kind != histogram {
			return m, "", true
		}
		for _, sfx := range histogramSuffixes {
			if m.kind == histogram && name == m.name+sfx {
				return m, sfx, true
			}
		}
	}
	for _, p := range runtimeMetricPrefixes {
		if strings.HasPrefix(name, p) {
			kind := gauge
			if strings.HasSuffix(name, "_total") {
				kind = counter
			}
			return metricDef{name: name, kind: kind}, "", true
		}
	}
	return metricDef{}, "", false
}

// seriesLabels are the labels that a series of def with suffix has once
// scraped, or nil for any.
func seriesLabels(def metricDef, suffix string) []string {
	if def.labels == nil {
		return nil
	}
	l := slices.Concat(def.labels, targetLabels)
	if suffix == "_bucket" {
		l = append(l, "le")
	}
	return l
}

// grafanaDatasources is a file of Grafana's provisioning/datasources.
type grafanaDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string         `yaml:"name"`
		UID       string         `yaml:"uid"`
		Type      string         `yaml:"type"`
		Access    string         `yaml:"access"`
		URL       string         `yaml:"url"`
		IsDefault bool           `yaml:"isDefault"`
		Editable  bool           `yaml:"editable"`
		JSONData  map[string]any `yaml:"jsonData"`
	} `yaml:"datasources"`
}

// grafanaProviders is a file of Grafana's provisioning/dashboards.
type grafanaProviders struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		Folder                string `yaml:"folder"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// dashboard is the part of a Grafana dashboard's JSON model that the test
// reads.
type dashboard struct {
	file       string
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []struct {
		Datasource   json.RawMessage `json:"datasource"`
		RefID        string          `json:"refId"`
		Expr         string          `json:"expr"`
		LegendFormat string          `json:"legendFormat"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a row's, when collapsed
}

// panels returns every panel of the dashboard, those in rows too.
func (d *dashboard) panels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// grafana is what Grafana of compose.yaml loads: its data sources by uid,
// and its dashboards.
type grafana struct {
	datasources map[string]string // uid -> type
	dashboards  []*dashboard
}

// loadGrafana reads Grafana's provisioning as the grafana service sees it
// (through its mounts): the data sources, strictly, and the dashboards
// of every file provider.
func loadGrafana(tb testing.TB, p *types.Project) *grafana {
	tb.Helper()
	svc, ok := observabilityServices(p)["grafana"]
	if !ok {
		tb.Fatal("compose.yaml has no service grafana")
	}
	prov := configFileOf(tb, "grafana", svc)
	g := &grafana{datasources: make(map[string]string)}
	files := func(dir, glob string) []string {
		m, err := filepath.Glob(filepath.Join(prov, dir, glob))
		if err != nil {
			tb.Fatal(err)
		}
		return m
	}
	dsFiles := slices.Concat(files("datasources", "*.yaml"), files("datasources", "*.yml"))
	if len(dsFiles) == 0 {
		tb.Fatalf("%s/datasources: no data sources", prov)
	}
	for _, f := range dsFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var ds grafanaDatasources
		if err := decodeStrict(data, &ds); err != nil || ds.APIVersion != 1 {
			tb.Fatalf("%s: %v (apiVersion %d, want 1)", f, err, ds.APIVersion)
		}
		for _, d := range ds.Datasources {
			if d.UID == "" {
				tb.Errorf("%s: data source %s has no uid: dashboards name data sources by uid", f, d.Name)
			}
			if _, dup := g.datasources[d.UID]; dup {
				tb.Errorf("%s: two data sources with uid %s", f, d.UID)
			}
			g.datasources[d.UID] = d.Type
			if d.Type != "prometheus" && d.Type != "jaeger" {
				tb.Errorf("%s: data source %s of type %q: the test knows prometheus and jaeger", f, d.Name, d.Type)
			}
			if d.Access != "proxy" {
				tb.Errorf("%s: data source %s: access %q, want proxy (Grafana's server calls it; the browser cannot reach the Compose network)", f, d.Name, d.Access)
			}
			serviceEndpoint(tb, p, fmt.Sprintf("%s: data source %s", f, d.Name), d.URL, "http")
		}
	}
	provFiles := slices.Concat(files("dashboards", "*.yaml"), files("dashboards", "*.yml"))
	if len(provFiles) == 0 {
		tb.Fatalf("%s/dashboards: no dashboard providers", prov)
	}
	for _, f := range provFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var pv grafanaProviders
		if err := decodeStrict(data, &pv); err != nil || pv.APIVersion != 1 {
			tb.Fatalf("%s: %v (apiVersion %d, want 1)", f, err, pv.APIVersion)
		}
		for _, pr := range pv.Providers {
			dir := hostPath(svc, pr.Options.Path)
			if pr.Type != "file" || dir == "" {
				tb.Errorf("%s: provider %s reads %s (%s), which no bind mount of the repository provides", f, pr.Name, pr.Options.Path, pr.Type)
				continue
			}
			jsons, err := filepath.Glob(filepath.Join(dir, "*.json"))
			if err != nil || len(jsons) == 0 {
				tb.Errorf("%s: provider %s: no dashboards in %s (%v)", f, pr.Name, dir, err)
			}
			for _, j := range jsons {
				data, err := os.ReadFile(j)
				if err != nil {
					tb.Fatal(err)
				}
				d := &dashboard{file: j}
				if err := json.Unmarshal(data, d); err != nil {
					tb.Fatalf("%s: %v", j, err)
				}
				g.dashboards = append(g.dashboards, d)
			}
		}
	}
	if home := svc.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != nil {
		f := hostPath(svc, *home)
		if !slices.ContainsFunc(g.dashboards, func(d *dashboard) bool { return d.file == f }) {
			tb.Errorf("service grafana: GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=%s is none of the provisioned dashboards", *home)
		}
	}
	return g
}

// datasourceUID returns the uid of a panel's or target's datasource, "" if
// it names none (it then takes the panel's, or the default one).
func datasourceUID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var ref struct {
		UID string `json:"uid"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil || ref.UID == "" {
		return "", fmt.Errorf("datasource %s: want {\"type\": ..., \"uid\": ...}", raw)
	}
	return ref.UID, nil
}

// grafanaVariables are values for Grafana's built-in variables, so that an
// expression can be parsed as PromQL.
var grafanaVariables = map[string]string{
	"__rate_interval": "1m", "__interval": "1m", "__range": "1h", "__auto": "1m",
}

var variableRef = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::\w+)?\}`)

// promQuery is a PromQL expression of a dashboard, parsed.
type promQuery struct {
	where  string
	expr   parser.Expr
	legend string
}

// promQueries returns every Prometheus query of the dashboards, parsed,
// and checks their data sources: each is a provisioned one.
func (g *grafana) promQueries(tb testing.TB) []promQuery {
	tb.Helper()
	var out []promQuery
	pp := parser.NewParser(parser.Options{})
	for _, d := range g.dashboards {
		defined := make(map[string]bool)
		for _, v := range d.Templating.List {
			defined[v.Name] = true
		}
		for _, pn := range d.panels() {
			where := fmt.Sprintf("%s: panel %q", filepath.Base(d.file), pn.Title)
			if pn.Type == "row" {
				continue
			}
			panelDS, err := datasourceUID(pn.Datasource)
			if err != nil {
				tb.Errorf("%s: %v", where, err)
			}
			if len(pn.Targets) == 0 && pn.Type != "text" {
				tb.Errorf("%s: no queries", where)
			}
			for _, tgt := range pn.Targets {
				where := where + ", query " + tgt.RefID
				uid, err := datasourceUID(tgt.Datasource)
				if err != nil {
					tb.Errorf("%s: %v", where, err)
				}
				uid = cmp.Or(uid, panelDS)
				typ, ok := g.datasources[uid]
				if !ok {
					tb.Errorf("%s: data source uid %q, which provisioning does not define (it defines %v)", where, uid, sortedKeys(g.datasources))
					continue
				}
				if typ != "prometheus" {
					continue
				}
				expr := variableRef.ReplaceAllStringFunc(tgt.Expr, func(ref string) string {
					m := variableRef.FindStringSubmatch(ref)
					name := cmp.Or(m[1], m[2])
					if v, ok := grafanaVariables[name]; ok {
						return v
					}
					if defined[name] {
						return "x"
					}
					tb.Errorf("%s: %s: neither a variable of Grafana's nor one of the dashboard's", where, ref)
					return ref
				})
				e, err := pp.ParseExpr(expr)
				if err != nil {
					tb.Errorf("%s: %q: %v", where, tgt.Expr, err)
					continue
				}
				out = append(out, promQuery{where: where, expr: e, legend: tgt.LegendFormat})
			}
		}
	}
	return out
}

// selectors returns the vector selectors in node.
func selectors(node parser.Node) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// labelsUnder returns the labels that the series under node can have, or
// nil if any (a runtime metric's, or one not in exportedMetrics).
func labelsUnder(node parser.Node) []string {
	var out []string
	for _, vs := range selectors(node) {
		def, sfx, ok := seriesDef(vs.Name)
		l := seriesLabels(def, sfx)
		if !ok || l == nil {
			return nil
		}
		out = append(out, l...)
	}
	return out
}

// outputLabels returns the labels of the series that expr gives, or nil
// if it cannot say.
func outputLabels(expr parser.Expr) []string {
	switch e := expr.(type) {
	case *parser.ParenExpr:
		return outputLabels(e.Expr)
	case *parser.AggregateExpr:
		if e.Without {
			return slices.DeleteFunc(outputLabels(e.Expr), func(l string) bool { return slices.Contains(e.Grouping, l) })
		}
		return e.Grouping
	case *parser.Call:
		switch e.Func.Name {
		case "histogram_quantile":
			return slices.DeleteFunc(slices.Clone(outputLabels(e.Args[1])), func(l string) bool { return l == "le" })
		case "rate", "irate", "increase", "delta", "deriv", "abs", "clamp_min", "clamp_max":
			return outputLabels(e.Args[0])
		}
		return nil
	case *parser.MatrixSelector:
		return outputLabels(e.VectorSelector)
	case *parser.VectorSelector:
		return labelsUnder(e)
	case *parser.BinaryExpr:
		if _, ok := e.LHS.(*parser.NumberLiteral); ok {
			return outputLabels(e.RHS)
		}
		return outputLabels(e.LHS)
	}
	return nil
}

// TestGrafanaDashboards checks Grafana's provisioning and every dashboard:
// data sources that exist, PromQL that parses, and only metrics, labels
// and label values that the services export (exportedMetrics).
func TestGrafanaDashboards(t *testing.T) {
	p := loadCompose(t)
	g := loadGrafana(t, p)
	if len(g.dashboards) == 0 {
		t.Fatal("no dashboards")
	}
	uids := make(map[string]string)
	for _, d := range g.dashboards {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: want a uid and a title", d.file)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s have the same uid %s", d.file, other, d.UID)
		}
		uids[d.UID] = d.file
		ids := make(map[int]bool)
		for _, pn := range d.panels() {
			if ids[pn.ID] || pn.ID == 0 {
				t.Errorf("%s: panel %q: id %d is not unique", d.file, pn.Title, pn.ID)
			}
			ids[pn.ID] = true
		}
	}

	queries := g.promQueries(t)
	if len(queries) == 0 {
		t.Fatal("the dashboards have no Prometheus queries")
	}
	used := make(map[string]bool) // families
	quantiles := make(map[string][]float64)
	for _, q := range queries {
		for _, vs := range selectors(q.expr) {
			def, sfx, ok := seriesDef(vs.Name)
			if !ok {
				t.Errorf("%s: metric %q: the services export no such metric (exportedMetrics)", q.where, vs.Name)
				continue
			}
			used[def.name] = true
			if def.kind == histogram && sfx == "" {
				t.Errorf("%s: %s is a histogram: use its _bucket, _sum or _count series", q.where, vs.Name)
			}
			allowed := seriesLabels(def, sfx)
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					continue
				}
				if allowed != nil && !slices.Contains(allowed, m.Name) {
					t.Errorf("%s: %s has no label %s (it has %v)", q.where, vs.Name, m.Name, allowed)
				}
				if vals, ok := labelValues[m.Name]; ok && (m.Type == labels.MatchEqual || m.Type == labels.MatchNotEqual) && !slices.Contains(vals, m.Value) {
					t.Errorf("%s: %s%s%q: %s is never %q (it is one of %q)", q.where, m.Name, m.Type, m.Value, m.Name, m.Value, vals)
				}
			}
		}
		parser.Inspect(q.expr, func(n parser.Node, _ []parser.Node) error {
			switch n := n.(type) {
			case *parser.AggregateExpr:
				if allowed := labelsUnder(n.Expr); allowed != nil {
					for _, l := range n.Grouping {
						if !slices.Contains(allowed, l) {
							t.Errorf("%s: groups by %s, a label that the series beneath do not have (%v)", q.where, l, allowed)
						}
					}
				}
			case *parser.Call:
				switch n.Func.Name {
				case "rate", "irate", "increase":
					for _, vs := range selectors(n) {
						if def, sfx, ok := seriesDef(vs.Name); ok && def.kind == gauge {
							t.Errorf("%s: %s(%s): %s is a gauge, not a counter", q.where, n.Func.Name, vs.Name, vs.Name)
						} else if ok && def.kind == histogram && sfx == "" {
							t.Errorf("%s: %s(%s): want a histogram's series", q.where, n.Func.Name, vs.Name)
						}
					}
				case "histogram_quantile":
					var phi float64
					if lit, ok := n.Args[0].(*parser.NumberLiteral); ok {
						phi = lit.Val
					}
					for _, vs := range selectors(n.Args[1]) {
						def, sfx, _ := seriesDef(vs.Name)
						if sfx != "_bucket" {
							t.Errorf("%s: histogram_quantile over %s, want a histogram's _bucket series", q.where, vs.Name)
							continue
						}
						quantiles[def.name] = append(quantiles[def.name], phi)
					}
					if out := outputLabels(n.Args[1]); !slices.Contains(out, "le") {
						t.Errorf("%s: histogram_quantile over series without le (%v): aggregate by (..., le)", q.where, out)
					}
				}
			}
			return nil
		})
		// {{label}} in the legend: a label of the series the query gives.
		if out := outputLabels(q.expr); out != nil {
			for _, m := range regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`).FindAllStringSubmatch(q.legend, -1) {
				if !slices.Contains(out, m[1]) {
					t.Errorf("%s: legend %q names %s, which the query's series do not have (%v)", q.where, q.legend, m[1], out)
				}
			}
		}
	}

	// What the dashboard is for: latency quantiles of the gRPC server, the
	// gRPC client and HTTP, and each of Bookshop's own metrics.
	for _, m := range exportedMetrics {
		if m.kind == histogram {
			for _, phi := range []float64{0.5, 0.95, 0.99} {
				if !slices.Contains(quantiles[m.name], phi) {
					t.Errorf("no panel shows the %v quantile of %s", phi, m.name)
				}
			}
		}
		if strings.HasPrefix(m.name, "bookshop_") && !used[m.name] {
			t.Errorf("no panel shows %s", m.name)
		}
	}
}

// dashboardSeries returns the names of the series that the dashboards'
// queries select, sorted.
func dashboardSeries(tb testing.TB) []string {
	tb.Helper()
	g := loadGrafana(tb, loadCompose(tb))
	set := make(map[string]bool)
	for _, q := range g.promQueries(tb) {
		for _, vs := range selectors(q.expr) {
			set[vs.Name] = true
		}
	}
	return sortedKeys(set)
}
