package tool_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	platformprocess "github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	promotionsdb "github.com/bookshop-go/bookshop/internal/promotions/sqlite"
	"github.com/bookshop-go/bookshop/internal/tool"
	"github.com/bookshop-go/bookshop/internal/tool/report"
)

// runReport runs `bookshop report promotion args` with env, and returns
// what it printed.
func runReport(tb testing.TB, vars map[string]string, args ...string) (string, error) {
	tb.Helper()
	var out bytes.Buffer
	err := tool.Run(testContext(tb, 30*time.Second), append([]string{"report", "promotion"}, args...), env(vars), &out, io.Discard)
	return out.String(), err
}

// TestReportPromotion runs the Orders service with mutual TLS, records
// orders with known totals through ordersclient as admin, two before the
// campaign's start and four after it (three with the promotion, one of
// them cancelled), and checks the figures of `bookshop report promotion`
// to the cent, in text and CSV, and its chart; and that only admin may
// make it.
func TestReportPromotion(t *testing.T) {
	dir := t.TempDir()
	if err := tool.RunCerts(testContext(t, 10*time.Second), []string{dir}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	at := func(name string) string { return filepath.Join(dir, name) }
	port := itoa(freePort(t))
	startCommand(t, []string{"orders", "-port", port, "-db=:memory:", "-health-addr=127.0.0.1:0",
		"-tls-cert", at("server.crt"), "-tls-key", at("server.key"), "-tls-client-ca", at("ca.crt")}, nil)
	as := func(identity string) map[string]string {
		return map[string]string{"ORDERS_HOST": "localhost:" + port, "TLS_CA": at("ca.crt"), "TLS_CERT": at(identity + ".crt"), "TLS_KEY": at(identity + ".key")}
	}

	tlsConfig, err := rpc.ClientTLS(at("ca.crt"), at("admin.crt"), at("admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := rpc.Dial("localhost:"+port, rpc.ClientConfig{TLS: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	orders := ordersclient.New(conn, 5*time.Second)
	eur := func(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }
	n := 0
	// place records an order of one copy of each price (and copies more
	// of the first); with promo, the cheapest copy is free.
	place := func(promo bool, copies int, prices ...int64) bookshop.Order {
		t.Helper()
		n++
		o := bookshop.Order{CustomerID: int32(n), PaymentID: fmt.Sprintf("ch_%d", n),
			Shipping: bookshop.Address{Name: "Ada", Line1: "1 Main St", City: "Oslo", PostalCode: "0150", Country: "NO"}}
		var subtotal, cheapest int64
		for i, p := range prices {
			q := 1
			if i == 0 {
				q = copies
			}
			o.Lines = append(o.Lines, bookshop.OrderLine{BookID: int32(i + 1), Title: fmt.Sprintf("Book %d", i+1), UnitPrice: eur(p), Quantity: q, Total: eur(p * int64(q))})
			subtotal += p * int64(q)
			if i == 0 || p < cheapest {
				cheapest = p
			}
		}
		o.Subtotal, o.Total = eur(subtotal), eur(subtotal)
		if promo {
			o.Promotions = []string{promotionsclient.LatestCode} // what the report reads by default
			o.Discount, o.Total = eur(cheapest), eur(subtotal-cheapest)
		}
		var placed bookshop.Order
		waitFor(t, "the Orders service to record an order", func() bool {
			placed, err = orders.Create(testContext(t, 5*time.Second), fmt.Sprintf("report-test-%d", n), o)
			return err == nil
		})
		return placed
	}

	// Before the campaign: 12.99 and 2 × 7.50 + 4.25 = 19.25.
	place(false, 1, 1299)
	place(false, 2, 750, 425)
	// The campaign starts on a millisecond after those were recorded,
	// before the next are (the service records times to the millisecond).
	time.Sleep(2 * time.Millisecond)
	start := time.Now().UTC().Truncate(time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	// During it: 10.00 + 8.00 + 6.00 - 6.00 = 18.00; 2 × 9.99 + 4.99 -
	// 4.99 = 19.98; 0.01 without; and one with the promotion, cancelled.
	place(true, 1, 1000, 800, 600)
	place(true, 2, 999, 499)
	place(false, 1, 1)
	cancelled := place(true, 3, 2000, 1500)
	if _, err := orders.Cancel(testContext(t, 5*time.Second), cancelled.ID); err != nil {
		t.Fatal(err)
	}

	campaign := "-campaign-start=" + start.Format(time.RFC3339Nano)
	out, err := runReport(t, as("admin"), campaign, "-format", "csv")
	if err != nil {
		t.Fatalf("report -format csv as admin: %v", err)
	}
	records := mustCSV(t, out)
	// The figures after "from" and "until": orders, with, without, books,
	// revenue, discount, books per order, average order value, currency.
	want := map[string]string{
		"phase before": "2,0,2,4,32.24,0.00,2.00,16.12,EUR",   // 12.99 + 19.25 = 32.24
		"phase during": "3,2,1,7,37.99,10.99,2.33,12.66,EUR",  // 18.00 + 19.98 + 0.01 = 37.99; / 3 = 12.663
		"period ":      "5,2,3,11,70.23,10.99,2.20,14.05,EUR", // 70.23 / 5 = 14.046
	}
	got := map[string]string{}
	var days int
	for _, rec := range records[1:] {
		if rec[0] == "day" {
			days++
			continue
		}
		got[rec[0]+" "+rec[2]] = strings.Join(rec[5:], ",")
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("report -format csv: %s = %s, want %s\n%s", k, got[k], w, out)
		}
	}
	if days < 31 || days > 32 { // 30 days, and the start's day twice; a test at midnight may see a day more
		t.Errorf("report -format csv has %d days' records, want 31 (30 days, the start's day split)", days)
	}

	out, err = runReport(t, as("admin"), campaign)
	if err != nil {
		t.Fatalf("report as admin: %v", err)
	}
	for label, figures := range map[string]string{
		"Before the campaign": "2 0 2 4 32.24 0.00 2.00 16.12",
		"During the campaign": "3 2 1 7 37.99 10.99 2.33 12.66",
		"Whole period":        "5 2 3 11 70.23 10.99 2.20 14.05",
	} {
		i := strings.Index(out, "\n"+label+" ")
		if i < 0 {
			t.Errorf("report has no row %q:\n%s", label, out)
			continue
		}
		fields := strings.Fields(strings.SplitN(out[i+1:], "\n", 2)[0])
		if got := strings.Join(fields[len(fields)-8:], " "); got != figures {
			t.Errorf("report: %s = %s, want %s", label, got, figures)
		}
	}
	for _, line := range []string{
		"Campaign: from " + start.Format("2006-01-02 15:04:05.999999999") + " UTC, no end\n",
		"Amounts:  EUR\n",
		"1 cancelled order is not counted.",
		"Averages are rounded half-up: Avg order (revenue per order) to the cent, 0.005 up to 0.01;",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("report does not say %q:\n%s", line, out)
		}
	}

	chart := filepath.Join(t.TempDir(), "impact.svg")
	if out, err := runReport(t, as("admin"), campaign, "-format=svg", "-o", chart); err != nil || out != "" {
		t.Fatalf("report -format svg -o = %q, %v; want nothing printed", out, err)
	}
	svg, err := os.ReadFile(chart)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, svg)
	for _, name := range []string{report.OrdersSeries, report.RevenueSeries + " (EUR)", "Campaign starts " + start.Format("2006-01-02 15:04:05.999999999")} {
		if !slices.Contains(texts, name) {
			t.Errorf("the chart has no text %q among %q", name, texts)
		}
	}

	// Only admin lists every customer's orders.
	if _, err := runReport(t, as("marketplace"), campaign); err == nil || !strings.Contains(err.Error(), `identity "marketplace" may not call`) {
		t.Errorf("report as marketplace = %v, want PERMISSION_DENIED", err)
	}
	// Without a campaign's start, the Promotions service is asked: first
	// with none there, then with one whose campaign starts at start.
	vars := as("admin")
	vars["PROMOTIONS_HOST"] = "localhost:" + itoa(freePort(t))
	if _, err := runReport(t, vars, "-timeout=2s"); err == nil || !strings.Contains(err.Error(), "no Promotions service answers at") || !strings.Contains(err.Error(), "or give -campaign-start") {
		t.Errorf("report without -campaign-start and no Promotions service = %v, want an error that says so", err)
	}
	vars["PROMOTIONS_HOST"] = startPromotions(t, dir, start)
	waitFor(t, "the report with the Promotions service's campaign", func() bool {
		out, err = runReport(t, vars, "-format", "csv")
		return err == nil
	})
	compared := 0
	for _, rec := range mustCSV(t, out)[1:] {
		if w, ok := want[rec[0]+" "+rec[2]]; ok {
			compared++
			if got := strings.Join(rec[5:], ","); got != w {
				t.Errorf("report with the Promotions service's campaign: %s %s = %s, want %s", rec[0], rec[2], got, w)
			}
		}
	}
	if compared != len(want) {
		t.Errorf("report with the Promotions service's campaign has %d of the %d records compared, want all:\n%s", compared, len(want), out)
	}
	if _, err := runReport(t, vars, "-promotion", "not_a_campaign"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`is of promotion %q, not "not_a_campaign"`, promotionsclient.LatestCode)) {
		t.Errorf("report of another promotion than the Promotions service's = %v, want an error that says so", err)
	}
}

// startPromotions runs the Promotions service in this process until the
// test ends, in memory, with mutual TLS from the certificates in dir and
// its campaign the one the shop ships with (promotions.Current(), whose
// code, promotionsclient.LatestCode, this file's orders record), starting
// at starts; it returns its address.
func startPromotions(tb testing.TB, dir string, starts time.Time) string {
	tb.Helper()
	serverTLS, err := rpc.ServerTLS(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), filepath.Join(dir, "ca.crt"))
	if err != nil {
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := promotions.DefaultConfig()
	cfg.DB, cfg.Starts, cfg.Promotion = promotionsdb.Memory, starts, promotions.Current()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- promotions.Run(ctx, cfg, platformprocess.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis, ServerTLS: serverTLS})
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("the Promotions service stopped with %v, want nil", err)
		}
	})
	_, port, _ := net.SplitHostPort(lis.Addr().String())
	return "localhost:" + port
}

// mustCSV reads CSV, failing the test if it does not read.
func mustCSV(tb testing.TB, s string) [][]string {
	tb.Helper()
	records, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil || len(records) == 0 {
		tb.Fatalf("the CSV does not read back: %v\n%s", err, s)
	}
	return records
}

// svgTexts parses an SVG strictly and returns the text of its text
// elements; it fails the test if the SVG is not well-formed.
func svgTexts(tb testing.TB, svg []byte) []string {
	tb.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var (
		texts  []string
		inText bool
		text   strings.Builder
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return texts
		}
		if err != nil {
			tb.Fatalf("the SVG is not well-formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
			text.Reset()
		case xml.CharData:
			if inText {
				text.Write(tok)
			}
		case xml.EndElement:
			if inText {
				texts = append(texts, text.String())
			}
			inText = false
		}
	}
}

// TestReportPromotionUsage checks the settings `bookshop report
// promotion` refuses before it calls anything, each with an error that
// says what is wrong.
func TestReportPromotionUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-format", "pdf"}, `-format "pdf": want text, csv or svg`},
		{[]string{"-from", "2025-13-01"}, `-from "2025-13-01": want a date, YYYY-MM-DD`},
		{[]string{"-to", "June"}, `-to "June": want a date`},
		{[]string{"-from", "2025-06-10", "-to", "2025-06-01"}, "the period's first day 2025-06-10 is after its last day 2025-06-01"},
		{[]string{"-from", "2024-01-01", "-to", "2025-06-01"}, "is more than 366 days, the most a report covers"},
		{[]string{"-tz", "Mars/Olympus"}, `-tz "Mars/Olympus": want a time zone's name`},
		{[]string{"-campaign-end", "2025-06-10"}, "-campaign-end needs -campaign-start"},
		{[]string{"-campaign-start", "yesterday"}, `-campaign-start "yesterday": want a time such as`},
		{[]string{"-campaign-start", "2025-06-10", "-campaign-end", "2025-06-10T00:00:00Z"}, "the campaign's end 2025-06-10 00:00 UTC is not after its start"},
		{[]string{"-promotion", ""}, "the promotion's code is empty"},
		{[]string{"-campaign-start", "2025-06-10", "-orders-host", "localhost:99999"}, "-orders-host or ORDERS_HOST"},
		{[]string{"-timeout", "0s"}, "-timeout 0s"},
		{[]string{"-campaign-start", "2025-06-10", "-tls-cert", "admin.crt"}, "-tls-ca is needed"},
	} {
		out, err := runReport(t, nil, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
			t.Errorf("bookshop report promotion %s = %q, %v; want an error with %q and no output", strings.Join(tc.args, " "), out, err, tc.want)
		}
	}
	if err := tool.Run(testContext(t, 5*time.Second), []string{"report", "sales"}, env(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `report: unknown command "sales"`) {
		t.Errorf("bookshop report sales = %v, want an unknown command", err)
	}
}
