package tool

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/loadgen"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// benchTargets are what `bookshop bench` can load, with what each calls
// and its default number of calls in flight.
var benchTargets = []struct {
	name, what  string
	concurrency int
	part        string // what a PartTimer's workers time on their own; "" for none
}{
	{"recommend", "/Recommendations/Recommend, unary, at -addr", 50, ""},
	{"home", "the homepage, GET -url", 50, ""},
	{"home-customer", "the homepage as a signed-in customer with 3 books in the cart, GET -url (signs up at start)", 50, ""},
	{"add-to-cart", "POST /cart/items at -url as the page's script does, one copy a call, books 1 to 40 in turn, a new guest cart every 400", 50, ""},
	{"export", "CatalogService/ExportBooks, server streaming, at -addr", 1, ""},
	{"import", "CatalogService/ImportBooks, client streaming, -books new books a call, at -addr", 1, ""},
	{"search", "CatalogService/SearchBooks, unary, at -addr: a page of 20 books a call, queries in turn (the built-in books', and import's)", 8, ""},
	{"live", "LiveRecommend, bidirectional, at -addr: one stream a worker, one event a call", 1000, ""},
	{"live-web", "the Marketplace's live panel at -url: one event stream a worker, one event posted a call, timed until its list arrives", 1000, ""},
	{"checkout", "a purchase at -url, -copies of -book (3 earn the promotion, each customer's first order only): POST /cart/items, GET /checkout, POST /checkout with the approved test card, 303 to the order; a customer a worker (signs up at start), the POST also timed alone", 20, "POST /checkout"},
	{"first-orders", "a purchase over gRPC, each the first order of a new customer id (3 -copies earn the promotion: claimed and confirmed every time): Cart AddItem at -cart-addr, Checkout GetQuote and PlaceOrder at -addr, approved test card", 20, ""},
	{"checkout-limit", "no service: a purchase's database writes (cart, saga, reservation, charge, order) in one transaction, one SQLite file in TMPDIR, synchronous=FULL; with -database-url, one pgx transaction in a database of its own on that PostgreSQL server, made by the services' migrations, dropped at the end", 20, ""},
}

// benchConfig is the configuration of `bookshop bench`.
type benchConfig struct {
	target      string
	addr        string
	cartAddr    string
	url         string
	concurrency string
	duration    time.Duration
	count       int64
	warmup      time.Duration
	interval    time.Duration
	timeout     time.Duration
	conns       int
	category    string
	books       int
	maxBook     int
	book        int
	copies      int
	tls         launch.ClientTLS
	label       string
	record      string
	chart       string
	chartTitle  string
	serverPIDs  string
	metrics     string
	databaseURL string
	pids        []int    // serverPIDs, parsed by validate
	metricURLs  []string // metrics, parsed by validate
}

func (c *benchConfig) register(fs *config.FlagSet) map[string]string {
	fs.StringVar(&c.target, "target", "recommend", "what to load: "+targetNames())
	fs.StringVar(&c.addr, "addr", "localhost:50051", "the gRPC server, host:port, for recommend, export, import, search and live; the Checkout for first-orders")
	fs.StringVar(&c.cartAddr, "cart-addr", "localhost:50080", "first-orders: the Cart, host:port")
	fs.StringVar(&c.url, "url", "http://localhost:8080/", "the Marketplace, for home (the page to get), and the site of home-customer, add-to-cart, live-web and checkout")
	fs.StringVar(&c.concurrency, "c", "", "calls in flight (workers); a list such as 1,4,16,64 runs each in turn (default: 50 for recommend and home, 1 for export and import, 8 for search, 1000 for live and live-web, 20 for checkout, first-orders and checkout-limit)")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "how long to measure each level (0 with -n: until -n calls)")
	fs.Int64Var(&c.count, "n", 0, "stop after this many calls in all, instead of after -d (0: no limit)")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "how long to call, unmeasured, before each level is measured (not with -n)")
	fs.DurationVar(&c.interval, "interval", 0, "each worker's pause between calls, as a shopper pauses between clicks (0: none)")
	fs.DurationVar(&c.timeout, "timeout", loadgen.DefaultTimeout, "deadline of each call")
	fs.IntVar(&c.conns, "conns", 1, "gRPC connections the workers share")
	fs.StringVar(&c.category, "category", "", "recommend: the category to ask for (default mystery); export: the category to export (default all)")
	fs.IntVar(&c.books, "books", 1000, "import: books a call imports (each with a title of its own)")
	fs.IntVar(&c.book, "book", 1, "checkout, first-orders, checkout-limit: the book each purchase buys (the Inventory must have enough)")
	fs.IntVar(&c.copies, "copies", 1, fmt.Sprintf("checkout, first-orders: copies of -book each purchase buys, 1 to %d; 3 or more earn the promotion, which each customer's first order gets", bookshop.MaxQuantity))
	fs.IntVar(&c.maxBook, "max-book", 45, "live, live-web: events name books 1 to this id, which must all be in the catalog")
	fs.StringVar(&c.label, "label", "bookshop", "what is being measured, for -record and -chart")
	fs.StringVar(&c.record, "record", "", "append each level's result to this file as a line of JSON")
	fs.StringVar(&c.chart, "chart", "", "then draw the -record file's results of this target as an SVG chart of latency against load, to this file")
	fs.StringVar(&c.chartTitle, "chart-title", "", "the chart's title (default: from the target)")
	fs.StringVar(&c.databaseURL, "database-url", "", "checkout-limit: a PostgreSQL server, postgres://USER@HOST:PORT/DATABASE, whose user may create databases (a password is best given as PGPASSWORD: ps shows flags); empty for SQLite")
	fs.StringVar(&c.serverPIDs, "server-pids", "", "the process ids of the servers under load, such as 123,456: the CPU time they use per call is measured (from /proc, on Linux), printed and recorded")
	fs.StringVar(&c.metrics, "server-metrics", "", "the Prometheus metrics of the servers under load, such as http://127.0.0.1:9090/metrics,http://127.0.0.1:9091/metrics (each service's -admin-addr): what they allocate per call is measured, printed and recorded")
	return c.tls.Register(fs)
}

// RunBench is the `bookshop bench` command: it puts a running service
// under load, as a closed loop of workers each with one call in flight,
// and prints calls per second, latency percentiles and errors (see package
// loadgen). It fails, after its report, when any call failed.
func RunBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop bench", "Puts a running service under load, closed loop: each worker makes a call,\n"+
		"waits for its answer, and makes the next. Prints calls/s, p50, p90, p99,\n"+
		"p99.9 and errors for each number of workers given with -c.\n\n"+
		"Targets:\n"+targetHelp(), stderr)
	var cfg benchConfig
	env := cfg.register(fs)
	if err := parseFlags(fs, args, getenv, env); err != nil {
		return err
	}
	levels, err := cfg.validate()
	if err != nil {
		return err
	}
	target, where, err := cfg.newTarget(ctx)
	if err != nil {
		return err
	}
	defer target.Close()

	var record io.Writer
	if cfg.record != "" {
		f, err := os.OpenFile(cfg.record, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		record = f
	}

	opts := loadgen.Options{Duration: cfg.duration, Count: cfg.count, Warmup: cfg.warmup, Interval: cfg.interval, Timeout: cfg.timeout}
	if cfg.count > 0 {
		opts.Warmup = 0
	}
	if len(cfg.pids) > 0 {
		opts.ServerCPU = func() (time.Duration, error) { return loadgen.ProcessesCPU(cfg.pids) }
	}
	if len(cfg.metricURLs) > 0 {
		opts.ServerAllocs = func() (loadgen.Allocs, error) { return loadgen.ServersAllocs(ctx, cfg.metricURLs) }
	}
	fmt.Fprintf(stdout, "%s: %s at %s; %s\n", cfg.target, cfg.label, where, describeRun(opts))
	items := cfg.target == "export" || cfg.target == "import"
	printHeader(stdout, items, opts.ServerCPU != nil, opts.ServerAllocs != nil)
	var failed, calls int64
	for _, n := range levels {
		opts.Concurrency = n
		cpu0, cpuOK := loadgen.ProcessCPU()
		wall0 := time.Now()
		res, err := loadgen.Run(ctx, target, opts)
		if err != nil {
			return fmt.Errorf("bench %s with %d in flight: %w", cfg.target, n, err)
		}
		cpu := ""
		if cpu1, ok := loadgen.ProcessCPU(); ok && cpuOK {
			cpu = fmt.Sprintf("%.0f%%", 100*(cpu1-cpu0).Seconds()/time.Since(wall0).Seconds())
		}
		printRow(stdout, res, items, cpu, opts.ServerCPU != nil, opts.ServerAllocs != nil)
		if res.Part != nil {
			fmt.Fprintf(stdout, "    %s alone: p50 %s, p90 %s, p99 %s, max %s\n", partName(cfg.target),
				ms(res.PartPercentile(50)), ms(res.PartPercentile(90)), ms(res.PartPercentile(99)), ms(res.PartPercentile(100)))
		}
		for _, e := range res.ErrorSamples {
			fmt.Fprintf(stdout, "    %s × %s\n", thousands(e.Count), e.Message)
		}
		failed += res.Errors
		calls += res.Calls + res.Errors
		if record != nil {
			if err := loadgen.WriteRecord(record, loadgen.NewRecord(cfg.label, cfg.target, res)); err != nil {
				return fmt.Errorf("bench: record: %w", err)
			}
		}
	}
	if cfg.chart != "" {
		if err := writeChart(cfg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Wrote the chart of %s to %s.\n", cfg.record, cfg.chart)
	}
	if failed > 0 {
		return fmt.Errorf("bench: %s of %s calls failed", thousands(failed), thousands(calls))
	}
	return nil
}

// validate checks the configuration and returns the levels of
// concurrency to run.
func (c *benchConfig) validate() ([]int, error) {
	def := 0
	for _, t := range benchTargets {
		if t.name == c.target {
			def = t.concurrency
		}
	}
	if def == 0 {
		return nil, usageErrorf("-target %q: want one of %s", c.target, targetNames())
	}
	levels := []int{def}
	if c.concurrency != "" {
		levels = nil
		for s := range strings.SplitSeq(c.concurrency, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return nil, usageErrorf("-c %q: want a number of workers from 1, or a list such as 1,4,16", c.concurrency)
			}
			levels = append(levels, n)
		}
	}
	switch {
	case c.duration < 0 || c.count < 0 || c.warmup < 0 || c.interval < 0:
		return nil, usageErrorf("-d, -n, -warmup and -interval must not be negative")
	case c.duration == 0 && c.count == 0:
		return nil, usageErrorf("-d 0 needs -n: say how long to run or how many calls to make")
	case c.timeout <= 0:
		return nil, usageErrorf("-timeout %v: want a positive duration", c.timeout)
	case c.conns < 1:
		return nil, usageErrorf("-conns %d: want 1 or more", c.conns)
	case c.books < 1 || c.books > catalog.MaxImportBooks:
		return nil, usageErrorf("-books %d: want 1 to %d", c.books, catalog.MaxImportBooks)
	case c.book < 1 || int64(c.book) > 1<<31-1:
		return nil, usageErrorf("-book %d: want a book id from 1", c.book)
	case c.copies < 1 || c.copies > bookshop.MaxQuantity:
		return nil, usageErrorf("-copies %d: want 1 to %d", c.copies, bookshop.MaxQuantity)
	case c.maxBook < 1 || int64(c.maxBook) > 1<<31-1:
		return nil, usageErrorf("-max-book %d: want a book id from 1", c.maxBook)
	case c.databaseURL != "" && c.target != "checkout-limit":
		return nil, usageErrorf("-database-url is for -target checkout-limit")
	case c.chart != "" && c.record == "":
		return nil, usageErrorf("-chart draws the results of -record: give -record FILE too")
	}
	c.pids = nil
	if c.serverPIDs != "" {
		for s := range strings.SplitSeq(c.serverPIDs, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || pid < 1 {
				return nil, usageErrorf("-server-pids %q: want process ids, such as 123,456", c.serverPIDs)
			}
			c.pids = append(c.pids, pid)
		}
		if _, err := loadgen.ProcessesCPU(c.pids); err != nil {
			return nil, usageErrorf("-server-pids: %v", err)
		}
	}
	c.metricURLs = nil
	if c.metrics != "" {
		for s := range strings.SplitSeq(c.metrics, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, usageErrorf("-server-metrics: %q is not the URL of metrics, such as http://127.0.0.1:9090/metrics", s)
			}
			c.metricURLs = append(c.metricURLs, u.String())
		}
	}
	return levels, nil
}

// newTarget returns the target of the configuration, and where it is for
// the report.
func (c *benchConfig) newTarget(ctx context.Context) (loadgen.Target, string, error) {
	grpcCfg := func() (loadgen.GRPCConfig, error) {
		g := loadgen.GRPCConfig{Addr: c.addr, Conns: c.conns}
		var ccfg rpc.ClientConfig
		if err := c.tls.Apply(&ccfg); err != nil {
			return g, err
		}
		g.TLS = ccfg.TLS
		return g, nil
	}
	idle := 0
	for s := range strings.SplitSeq(c.concurrency, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		idle = max(idle, n)
	}
	idle = max(idle, 64)
	var (
		t   loadgen.Target
		err error
	)
	switch c.target {
	case "home":
		t, err = loadgen.NewPage(c.url, idle)
		return t, c.url, err
	case "home-customer":
		t, err = loadgen.NewCustomerPage(c.url, 3, idle)
		return t, c.url, err
	case "add-to-cart":
		t, err = loadgen.NewAddToCart(c.url, idle)
		return t, c.url, err
	case "live-web":
		t, err = loadgen.NewLiveWeb(c.url, int32(c.maxBook), 256)
		return t, c.url, err
	case "checkout":
		t, err = loadgen.NewCheckout(c.url, int32(c.book), c.copies, idle)
		return t, c.url, err
	case "checkout-limit":
		if c.databaseURL != "" {
			limit, err := loadgen.NewPostgresCheckoutLimit(ctx, c.databaseURL, int32(c.book))
			if err != nil {
				return nil, "", err
			}
			return limit, "PostgreSQL " + pgdb.Redact(limit.URL()), nil
		}
		limit, err := loadgen.NewCheckoutLimit(ctx, "", int32(c.book))
		if err != nil {
			return nil, "", err
		}
		return limit, limit.Path(), nil
	}
	g, err := grpcCfg()
	if err != nil {
		return nil, "", err
	}
	where := c.addr
	if g.TLS != nil {
		where += " (" + tlsMode(g.TLS) + ")"
	}
	switch c.target {
	case "recommend":
		cat := bookshop.Mystery
		if c.category != "" {
			if cat, err = bookshop.ParseCategory(c.category); err != nil {
				return nil, "", usageErrorf("-category: %s", bookshop.ErrorMessage(err))
			}
		}
		t, err = loadgen.NewRecommend(g, int32(cat), 3)
	case "export":
		cat := catalogv1.Category_CATEGORY_UNSPECIFIED
		if c.category != "" {
			d, perr := bookshop.ParseCategory(c.category)
			if perr != nil {
				return nil, "", usageErrorf("-category: %s", bookshop.ErrorMessage(perr))
			}
			cat = catalogv1.Category(d + 1) // catalog.v1 keeps 0 for "unspecified"
		}
		t, err = loadgen.NewExport(g, cat, 1)
	case "import":
		t, err = loadgen.NewImport(g, c.books)
	case "search":
		t, err = loadgen.NewSearch(g, nil, 20)
	case "live":
		t, err = loadgen.NewLive(g, int32(c.maxBook))
	case "first-orders":
		cart := g
		cart.Addr = c.cartAddr
		t, err = loadgen.NewFirstOrders(cart, g, int32(c.book), int32(c.copies))
	}
	return t, where, err
}

// writeChart draws the record file as an SVG chart.
func writeChart(c benchConfig) error {
	f, err := os.Open(c.record)
	if err != nil {
		return fmt.Errorf("bench: chart: %w", err)
	}
	recs, err := loadgen.ReadRecords(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("bench: chart: %s: %w", c.record, err)
	}
	title := c.chartTitle
	if title == "" {
		title = "Latency against load: " + c.target
	}
	out, err := os.Create(c.chart)
	if err != nil {
		return fmt.Errorf("bench: chart: %w", err)
	}
	if err := loadgen.WriteChart(out, title, c.target, recs); err != nil {
		out.Close()
		return fmt.Errorf("bench: %w", err)
	}
	return out.Close()
}

func tlsMode(cfg *tls.Config) string {
	if len(cfg.Certificates) > 0 {
		return "mutual TLS"
	}
	return "TLS"
}

// partName returns what target's workers time on their own.
func partName(target string) string {
	for _, t := range benchTargets {
		if t.name == target && t.part != "" {
			return t.part
		}
	}
	return "part"
}

func targetHelp() string {
	var b strings.Builder
	for _, t := range benchTargets {
		fmt.Fprintf(&b, "  %-14s %s\n", t.name, t.what)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func targetNames() string {
	var names []string
	for _, t := range benchTargets {
		names = append(names, t.name)
	}
	return strings.Join(names, ", ")
}

// describeRun says how long each level runs.
func describeRun(o loadgen.Options) string {
	var parts []string
	switch {
	case o.Count > 0 && o.Duration > 0:
		parts = append(parts, fmt.Sprintf("%s calls or %v per level, whichever comes first", thousands(o.Count), o.Duration))
	case o.Count > 0:
		parts = append(parts, fmt.Sprintf("%s calls per level", thousands(o.Count)))
	default:
		parts = append(parts, fmt.Sprintf("%v per level", o.Duration))
	}
	if o.Warmup > 0 {
		parts = append(parts, fmt.Sprintf("after %v of warmup", o.Warmup))
	}
	if o.Interval > 0 {
		parts = append(parts, fmt.Sprintf("each worker pausing %v between calls", o.Interval))
	}
	return strings.Join(parts, ", ")
}

func printHeader(w io.Writer, items, serverCPU, serverAllocs bool) {
	fmt.Fprintf(w, "%9s %10s %9s %9s %9s %9s %9s %10s %7s %8s", "in flight", "calls/s", "p50", "p90", "p99", "p99.9", "max", "calls", "errors", "load CPU")
	if items {
		fmt.Fprintf(w, " %10s", "books/s")
	}
	if serverCPU {
		fmt.Fprintf(w, " %14s", "server CPU/call")
	}
	if serverAllocs {
		fmt.Fprintf(w, " %22s", "server allocs/call")
	}
	fmt.Fprintln(w)
}

func printRow(w io.Writer, r *loadgen.Result, items bool, cpu string, serverCPU, serverAllocs bool) {
	fmt.Fprintf(w, "%9d %10s %9s %9s %9s %9s %9s %10s %7s %8s", r.Concurrency, thousands(int64(r.Rate()+0.5)),
		ms(r.Percentile(50)), ms(r.Percentile(90)), ms(r.Percentile(99)), ms(r.Percentile(99.9)), ms(r.Max()),
		thousands(r.Calls), thousands(r.Errors), cpu)
	if items {
		fmt.Fprintf(w, " %10s", thousands(int64(r.ItemRate()+0.5)))
	}
	if serverCPU {
		per := "-"
		if d := r.ServerCPUPerCall(); d > 0 {
			per = fmt.Sprintf("%.1fµs", float64(d.Nanoseconds())/1000)
		}
		fmt.Fprintf(w, " %14s", per)
	}
	if serverAllocs {
		per := "-"
		if b, n := r.ServerAllocsPerCall(); b > 0 {
			per = fmt.Sprintf("%s B, %.0f objects", thousands(int64(b+0.5)), n)
		}
		fmt.Fprintf(w, " %22s", per)
	}
	fmt.Fprintln(w)
}

// ms prints a latency in milliseconds, to three significant digits or so.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 100:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.0fms", v)
	}
}

// thousands prints n with commas between thousands: 12,345.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
