package tool

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/tool/report"
)

// RunReport is the `bookshop report` command: reports on the shop's
// sales, each a subcommand.
func RunReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "bookshop report", "Reports on the shop's sales, read from the running services over gRPC\n(identity admin).", []subcommand{
		{"promotion", "a promotion's impact on sales: before the campaign, during it, day by day", runReportPromotion},
	}, args, getenv, stdout, stderr)
}

// reportFormats are the formats of `bookshop report promotion`, and what
// writes each.
var reportFormats = map[string]func(io.Writer, *report.Report) error{
	"text": report.WriteText,
	"csv":  report.WriteCSV,
	"svg":  report.WriteSVG,
}

// runReportPromotion is the `bookshop report promotion` command: it
// reads every order of the period from the Orders service (ListAllOrders,
// which only identity admin may call with mutual TLS) and writes the
// promotion's impact (see package report) as text, CSV or SVG, to stdout
// or -o. The campaign's start and end are its flags', or when neither is
// given, the Promotions service's.
func runReportPromotion(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop report promotion", "Prints a promotion's impact on sales for a period of days: orders with\n"+
		"and without the promotion, books sold, revenue, discount given, average\n"+
		"books per order and average order value, before the campaign and\n"+
		"during it (and after it, if it ended), and day by day. The orders come\n"+
		"from the Orders service (ListAllOrders: identity admin with mutual\n"+
		"TLS); cancelled ones are not counted. Amounts are exact, in the orders'\n"+
		"one currency (a period of orders in two is refused); the averages are\n"+
		"rounded half-up, to the cent and to hundredths of a book.\n\n"+
		"The campaign's start and end: -campaign-start and -campaign-end, or,\n"+
		"when neither is given, the Promotions service's.\n\n"+
		"Formats: text (an aligned table), csv (a record a day and phase, one\n"+
		"a phase, one for the period), svg (a chart of daily orders and\n"+
		"revenue, the campaign marked; self-contained).", stderr)
	var (
		ordersHost, promotionsHost string
		promotion, from, to, zone  string
		start, end, format, out    string
		timeout                    time.Duration
		tlsf                       launch.ClientTLS
	)
	fs.StringVar(&ordersHost, "orders-host", "localhost", fmt.Sprintf("the Orders service: host or host:port (default port %d) (env ORDERS_HOST)", ordersclient.DefaultPort))
	fs.StringVar(&promotionsHost, "promotions-host", "localhost", fmt.Sprintf("the Promotions service, asked for the campaign's start and end when no -campaign-start or -campaign-end is given: host or host:port (default port %d) (env PROMOTIONS_HOST)", promotionsclient.DefaultPort))
	fs.StringVar(&promotion, "promotion", promotionsclient.LatestCode, "the code that orders record when they used the promotion")
	fs.StringVar(&from, "from", "", "the period's first day, YYYY-MM-DD (default: 29 days before -to, so that the period is 30 days)")
	fs.StringVar(&to, "to", "", "the period's last day, YYYY-MM-DD, counted whole (default: today)")
	fs.StringVar(&zone, "tz", "UTC", "the time zone in which days start and end, such as Europe/Berlin, and in which the dates of -from, -to and the campaign are read")
	fs.StringVar(&start, "campaign-start", "", "when the campaign started: a time such as 2025-06-10T09:00:00+02:00, or a date for its midnight in -tz; an order recorded at it is during the campaign")
	fs.StringVar(&end, "campaign-end", "", "when the campaign ended, as -campaign-start; an order recorded at it is after the campaign (default: it has not ended; needs -campaign-start)")
	fs.StringVar(&format, "format", "text", "text, csv or svg")
	fs.StringVar(&out, "o", "", "write the report to this file instead of stdout (replaced if it exists); - is stdout")
	fs.DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	env := withEnv(tlsf.Register(fs), map[string]string{"orders-host": "ORDERS_HOST", "promotions-host": "PROMOTIONS_HOST"})
	if err := parseFlags(fs, args, getenv, env); err != nil {
		return err
	}
	if out == "-" {
		out = ""
	}

	write, ok := reportFormats[format]
	if !ok {
		return usageErrorf("-format %q: want text, csv or svg", format)
	}
	if timeout <= 0 {
		return usageErrorf("-timeout %v: want a positive duration", timeout)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" || zone == "Local" {
		return usageErrorf("-tz %q: want a time zone's name, such as UTC or Europe/Berlin", zone)
	}
	opts := report.Options{Promotion: promotion, Location: loc}
	if opts.To, err = reportDay("-to", to, time.Now().In(loc), loc); err != nil {
		return err
	}
	if opts.From, err = reportDay("-from", from, opts.To.AddDate(0, 0, -29), loc); err != nil {
		return err
	}
	if start == "" && end != "" {
		return usageErrorf("-campaign-end needs -campaign-start: give both, or neither to ask the Promotions service")
	}
	if opts.Campaign.Starts, err = reportMoment("-campaign-start", start, loc); err != nil {
		return err
	}
	if opts.Campaign.Ends, err = reportMoment("-campaign-end", end, loc); err != nil {
		return err
	}
	// The settings are checked before any call: when the Promotions
	// service is to tell the campaign, with a stand-in for it.
	check := opts
	if start == "" {
		check.Campaign = bookshop.Campaign{Starts: opts.From}
	}
	if err := check.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	ordersTarget, err := rpc.Target(ordersHost, ordersclient.DefaultPort)
	if err != nil {
		return usageErrorf("-orders-host or ORDERS_HOST: %v", err)
	}
	promotionsTarget, err := rpc.Target(promotionsHost, promotionsclient.DefaultPort)
	if err != nil {
		return usageErrorf("-promotions-host or PROMOTIONS_HOST: %v", err)
	}

	tracing, flush, err := launch.ClientTracing(ctx, "bookshop-report", getenv, stderr)
	if err != nil {
		return err
	}
	defer flush()
	dial := func(target string) (*grpc.ClientConn, error) {
		ccfg := rpc.ClientConfig{CallTimeout: timeout, Tracing: tracing}
		if err := tlsf.Apply(&ccfg); err != nil {
			return nil, err
		}
		return rpc.Dial(target, ccfg)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if start == "" {
		conn, err := dial(promotionsTarget)
		if err != nil {
			return err
		}
		offer, err := promotionsclient.New(conn, timeout).Offer(ctx, 0)
		conn.Close()
		switch {
		case err != nil:
			if e := notThere(err, "Promotions service", promotionsHost, "promotions-host"); e != nil {
				return fmt.Errorf("%w; or give -campaign-start, and it is not asked for the campaign's dates", e)
			}
			return fmt.Errorf("ask %s for the campaign's start and end (or give -campaign-start): %w", promotionsHost, err)
		case offer.Code != promotion:
			return fmt.Errorf("the campaign that %s runs is of promotion %q, not %q: give -campaign-start (and -campaign-end) for this one", promotionsHost, offer.Code, promotion)
		}
		opts.Campaign = bookshop.Campaign{Starts: offer.Starts, Ends: offer.Ends}
		if err := opts.Validate(); err != nil {
			return fmt.Errorf("the campaign as %s gives it: %w", promotionsHost, err)
		}
	}
	conn, err := dial(ordersTarget)
	if err != nil {
		return err
	}
	defer conn.Close()
	r, err := report.Collect(ctx, ordersclient.New(conn, timeout), opts)
	if err != nil {
		// The operator sees the cause: the gRPC status and address.
		return cmp.Or(notThere(err, "Orders service", ordersHost, "orders-host"), fmt.Errorf("report from the orders of %s: %w", ordersHost, err))
	}

	// The report is made whole before anything is written, so that a
	// failure leaves no half a file.
	var b bytes.Buffer
	if err := write(&b, r); err != nil {
		return err
	}
	if out == "" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	if err := replaceFile(out, b.Bytes()); err != nil {
		return fmt.Errorf("-o: %w", err)
	}
	return nil
}

// reportDay reads a -from or -to date in loc; "" is def's day.
func reportDay(flag, s string, def time.Time, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Date(def.Year(), def.Month(), def.Day(), 0, 0, 0, 0, loc), nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, usageErrorf("%s %q: want a date, YYYY-MM-DD", flag, s)
	}
	return d, nil
}

// reportMoment reads a -campaign-start or -campaign-end: a time in RFC
// 3339, or a date for its midnight in loc; "" is the zero time.
func reportMoment(flag, s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return d, nil
	}
	return time.Time{}, usageErrorf("%s %q: want a time such as 2025-06-10T09:00:00Z or 2025-06-10T09:00:00+02:00, or a date, 2025-06-10", flag, s)
}
