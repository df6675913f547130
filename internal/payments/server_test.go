package payments_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentstest"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// cardProto returns the message of card(number).
func cardProto(number string) *paymentsv1.Card { return paymentsclient.CardToProto(card(number)) }

// TestServerAnswers drives PaymentsService over real gRPC, as Run serves
// it, with a client that does not retry, and checks the status of each
// answer: its code and its whole message.
func TestServerAnswers(t *testing.T) {
	srv := runPayments(t, payments.Config{DB: ":memory:"}, process.Deps{})
	ctx := testContext(t)
	eur := func(units int64) *moneyv1.Money { return &moneyv1.Money{Units: units, Currency: "EUR"} }
	charge := func(key string, amount *moneyv1.Money, c *paymentsv1.Card) func() (proto.Message, error) {
		return func() (proto.Message, error) {
			return srv.raw.Charge(ctx, &paymentsv1.ChargeRequest{IdempotencyKey: key, Amount: amount, Card: c})
		}
	}
	first, err := srv.raw.Charge(ctx, &paymentsv1.ChargeRequest{IdempotencyKey: "first", Amount: eur(1299), Card: cardProto(paymentsclient.TestCardApproved)})
	if err != nil {
		t.Fatal(err)
	}
	id := first.GetCharge().GetId()
	if c := first.GetCharge(); c.GetState() != paymentsv1.ChargeState_CHARGE_STATE_APPROVED || c.GetBrand() != "visa" || c.GetLast4() != "4242" ||
		c.GetIdempotencyKey() != "first" || !proto.Equal(c.GetAmount(), eur(1299)) || c.GetCreateTime() == nil || c.GetRefundTime() != nil {
		t.Errorf("Charge = %v, want approved, visa 4242, 12.99 EUR, with its key and time", c)
	}
	noExpiry := cardProto(paymentsclient.TestCardApproved)
	noExpiry.ExpMonth, noExpiry.ExpYear = 0, 0
	for _, tt := range []struct {
		name string
		call func() (proto.Message, error)
		code codes.Code
		msg  string
	}{
		{"a retry", charge("first", eur(1299), cardProto(paymentsclient.TestCardApproved)), codes.OK, ""},
		{"the key for another amount", charge("first", eur(1300), cardProto(paymentsclient.TestCardApproved)), codes.FailedPrecondition,
			"idempotency key: used for a charge of 12.99 EUR on a visa card ending 4242: use a new key for each payment"},
		{"declined", charge("second", eur(1299), cardProto(paymentsclient.TestCardDeclined)), codes.FailedPrecondition, "card declined: insufficient funds"},
		{"declined again", charge("second", eur(1299), cardProto(paymentsclient.TestCardDeclined)), codes.FailedPrecondition, "card declined: insufficient funds"},
		{"unavailable", charge("third", eur(1299), cardProto(paymentsclient.TestCardUnavailable)), codes.Unavailable,
			"the card processor cannot be reached: nothing was charged; try again shortly"},
		{"a bad card", charge("fourth", eur(1299), noExpiry), codes.InvalidArgument, "expiry: month 0: want 1 to 12"},
		{"no card", charge("fourth", eur(1299), nil), codes.InvalidArgument, "card: required"},
		{"no amount", charge("fourth", nil, cardProto(paymentsclient.TestCardApproved)), codes.InvalidArgument, "amount: required"},
		{"too much", charge("fourth", eur(100_000_000), cardProto(paymentsclient.TestCardApproved)), codes.InvalidArgument,
			"amount: at most 999999.99 EUR in one charge, not 1000000.00 EUR"},
		{"no key", charge("", eur(1), cardProto(paymentsclient.TestCardApproved)), codes.InvalidArgument, `idempotency key "": want 1 to 64 characters`},
		{"get by id", func() (proto.Message, error) {
			return srv.raw.GetCharge(ctx, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_ChargeId{ChargeId: id}})
		}, codes.OK, ""},
		{"get by key", func() (proto.Message, error) {
			return srv.raw.GetCharge(ctx, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_IdempotencyKey{IdempotencyKey: "first"}})
		}, codes.OK, ""},
		{"get an unknown id", func() (proto.Message, error) {
			return srv.raw.GetCharge(ctx, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_ChargeId{ChargeId: "ch_" + strings.Repeat("x", 22)}})
		}, codes.NotFound, "no charge ch_" + strings.Repeat("x", 22)},
		{"get with no name", func() (proto.Message, error) { return srv.raw.GetCharge(ctx, &paymentsv1.GetChargeRequest{}) },
			codes.InvalidArgument, "charge: name it by its charge_id or its idempotency_key"},
		{"refund", func() (proto.Message, error) {
			return srv.raw.Refund(ctx, &paymentsv1.RefundRequest{Charge: &paymentsv1.RefundRequest_ChargeId{ChargeId: id}})
		}, codes.OK, ""},
		{"refund a key that charged nothing", func() (proto.Message, error) {
			return srv.raw.Refund(ctx, &paymentsv1.RefundRequest{Charge: &paymentsv1.RefundRequest_IdempotencyKey{IdempotencyKey: "third"}})
		}, codes.NotFound, "no charge was made with this idempotency key: the key is cancelled, and will charge nothing"},
		{"charge with the cancelled key", charge("third", eur(1299), cardProto(paymentsclient.TestCardApproved)), codes.FailedPrecondition,
			"idempotency key: cancelled by a refund before any charge: nothing was charged; use a new key"},
	} {
		resp, err := tt.call()
		if st := status.Convert(err); st.Code() != tt.code || st.Message() != tt.msg {
			t.Errorf("%s = %v, %v; want %s %q", tt.name, resp, err, tt.code, tt.msg)
		}
	}
	got, err := srv.raw.GetCharge(ctx, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_ChargeId{ChargeId: id}})
	if c := got.GetCharge(); err != nil || c.GetState() != paymentsv1.ChargeState_CHARGE_STATE_REFUNDED || c.GetRefundTime() == nil {
		t.Errorf("GetCharge after Refund = %v, %v; want refunded, with its time", c, err)
	}
	declined, err := srv.raw.GetCharge(ctx, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_IdempotencyKey{IdempotencyKey: "second"}})
	if c := declined.GetCharge(); err != nil || c.GetState() != paymentsv1.ChargeState_CHARGE_STATE_DECLINED || c.GetDeclineReason() != "insufficient funds" || c.GetLast4() != "9995" {
		t.Errorf("GetCharge of the decline = %v, %v; want declined for insufficient funds", c, err)
	}
}

// TestClient checks paymentsclient against the real service: the kernel's
// types and codes in and out, a charge that comes back as it went, and
// the card's problems by field.
func TestClient(t *testing.T) {
	srv := runPayments(t, payments.Config{DB: ":memory:"}, process.Deps{})
	client := srv.client
	ctx := testContext(t)
	var _ bookshop.Payments = client

	c, err := client.Charge(ctx, "client-1", eur(4599), card("3782 822463 10005"))
	if err != nil || c.Brand != paymentsclient.BrandAmex || c.Last4 != "0005" || c.State != paymentsclient.StateApproved || c.Key != "client-1" || c.Amount != eur(4599) {
		t.Fatalf("Charge = %+v, %v; want an approved amex 0005 of 45.99 EUR", c, err)
	}
	for name, get := range map[string]func() (bookshop.Charge, error){
		"Charge again": func() (bookshop.Charge, error) {
			return client.Charge(ctx, "client-1", eur(4599), card("378282246310005"))
		},
		"ChargeByID":  func() (bookshop.Charge, error) { return client.ChargeByID(ctx, c.ID) },
		"ChargeByKey": func() (bookshop.Charge, error) { return client.ChargeByKey(ctx, "client-1") },
	} {
		if got, err := get(); err != nil || got != c {
			t.Errorf("%s = %+v, %v; want %+v", name, got, err, c)
		}
	}
	refunded, err := client.Refund(ctx, c.ID)
	if err != nil || refunded.State != paymentsclient.StateRefunded || refunded.Refunded.IsZero() || refunded.ID != c.ID {
		t.Errorf("Refund = %+v, %v; want it refunded", refunded, err)
	}
	if again, err := client.RefundKey(ctx, "client-1"); err != nil || again != refunded {
		t.Errorf("RefundKey = %+v, %v; want %+v", again, err, refunded)
	}

	bad := card("4242 4242 4242 4242")
	bad.CVC = "1"
	_, err = client.Charge(ctx, "client-2", eur(100), bad)
	if fields := paymentsclient.CardErrors(err); fields[paymentsclient.FieldCVC] != "want the 3 digits on the back of the card" || len(fields) != 1 {
		t.Errorf("Charge with a bad CVC = %v: CardErrors %v, want the CVC's problem", err, fields)
	}
	for _, tt := range []struct {
		name string
		call func() error
		code bookshop.Code
	}{
		{"declined", func() error {
			_, err := client.Charge(ctx, "client-3", eur(100), card(paymentsclient.TestCardDeclined))
			return err
		}, bookshop.Conflict},
		{"unavailable", func() error {
			_, err := client.Charge(ctx, "client-4", eur(100), card(paymentsclient.TestCardUnavailable))
			return err
		}, bookshop.Unavailable},
		{"unknown charge", func() error { _, err := client.Refund(ctx, "ch_"+strings.Repeat("0", 22)); return err }, bookshop.NotFound},
		{"cancelled key", func() error { _, err := client.RefundKey(ctx, "client-4"); return err }, bookshop.NotFound},
		{"bad id", func() error { _, err := client.ChargeByID(ctx, "nope"); return err }, bookshop.Invalid},
	} {
		if err := tt.call(); bookshop.ErrorCode(err) != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	if err := srv.stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	if _, err := client.ChargeByKey(ctx, "client-1"); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("ChargeByKey with the service stopped = %v, want Unavailable", err)
	}
}

// TestRunKeepsNoCardData runs the service as its command does, with a
// database file, a log at debug level and every span traced; charges an
// American Express card (with a 4-digit CVC, which chance is unlikely to
// put in a file), is declined with another card (with a 3-digit CVC,
// looked for in the log and the spans only), refused with a third
// whose number is malformed; and then reads the whole log, every span
// (names, attributes, events, status) and every byte of the database's
// files, its write-ahead log included, while it runs and after it stops:
// no card number, in any form, and no CVC appears in any of them. The key
// and the last four digits do, which shows that the search finds what is
// there.
func TestRunKeepsNoCardData(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	srv := runPayments(t, payments.Config{DB: filepath.Join(dir, "payments.db")},
		process.Deps{Logger: logger, Metrics: telemetry.NewMetrics(), Tracing: telemetry.NewTracing(tp)})
	ctx := testContext(t)

	amex := bookshop.Card{Number: "3714 496353 98431", ExpMonth: 11, ExpYear: time.Now().Year() + 2, CVC: "8264", Name: "Quokka Zanzibar"}
	declined := bookshop.Card{Number: paymentsclient.TestCardDeclined, ExpMonth: 11, ExpYear: time.Now().Year() + 2, CVC: "826"}
	malformed := bookshop.Card{Number: "3714 496353 98432", ExpMonth: 11, ExpYear: time.Now().Year() + 2, CVC: "82666"}
	c, err := srv.client.Charge(ctx, "secret-free-1", eur(1999), amex)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.client.Charge(ctx, "secret-free-1", eur(1999), amex); err != nil {
		t.Fatal(err)
	}
	// Both Conflicts, and only the decline is one (paymentsclient.Declined),
	// whose words the Checkout may pass on to a shopper.
	if _, err := srv.client.Charge(ctx, "secret-free-1", eur(2999), amex); bookshop.ErrorCode(err) != bookshop.Conflict || paymentsclient.Declined(err) {
		t.Errorf("Charge with the key for another amount = %v, want Conflict, not a decline", err)
	}
	if _, err := srv.client.Charge(ctx, "secret-free-2", eur(1999), declined); bookshop.ErrorCode(err) != bookshop.Conflict || !paymentsclient.Declined(err) {
		t.Errorf("Charge with the declined card = %v, want Conflict, a decline", err)
	}
	_, err = srv.client.Charge(ctx, "secret-free-3", eur(1999), malformed)
	if bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("Charge with a malformed card = %v, want Invalid", err)
	}
	paymentstest.CheckNoCardData(t, err.Error(), malformed)
	if _, err := srv.client.Refund(ctx, c.ID); err != nil {
		t.Fatal(err)
	}

	secrets := map[string]string{}
	for i, cd := range []bookshop.Card{amex, declined, malformed} {
		secrets[fmt.Sprintf("card %d's number", i)] = cd.Number
		secrets[fmt.Sprintf("card %d's digits", i)] = strings.ReplaceAll(cd.Number, " ", "")
		secrets[fmt.Sprintf("card %d's CVC", i)] = cd.CVC
	}
	secrets["cardholder's name"] = amex.Name
	readFiles := func(when string) []byte {
		files, err := filepath.Glob(filepath.Join(dir, "*"))
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
			for what, s := range secrets {
				// Three digits may be in a binary file by chance: the
				// 3-digit CVC is looked for in the text only, and the
				// longer ones as values of their own, not among the
				// digits of a time.
				holds := bytes.Contains(b, []byte(s))
				if strings.HasSuffix(what, "CVC") {
					holds = len(s) > 3 && paymentstest.HoldsValue(string(b), s)
				}
				if holds {
					t.Errorf("%s, %s holds the %s", when, filepath.Base(f), what)
				}
			}
		}
		if !bytes.Contains(all, []byte("secret-free-1")) || !bytes.Contains(all, []byte("8431")) {
			t.Errorf("%s, the database files %v do not hold the key and the last four digits: the search proves nothing", when, files)
		}
		return all
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*-wal")); len(files) != 1 {
		t.Errorf("while running: write-ahead logs %v, want one: the search must read it", files)
	}
	readFiles("while running")
	if err := srv.stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	readFiles("after stopping")

	if !strings.Contains(logs.String(), "PaymentsService/Charge") || !strings.Contains(logs.String(), `"card":"amex ending 8431"`) {
		t.Fatalf("the log has no line of the calls, or none of the charge:\n%s", logs.String())
	}
	traced := fmt.Sprintf("%+v", spans.GetSpans())
	if !strings.Contains(traced, "Name:bookshop.payments.v1.PaymentsService/Charge") || !strings.Contains(traced, `"rpc.response.status_code":"FAILED_PRECONDITION"`) {
		t.Fatalf("no span of Charge, or no attribute of the declined charge, among %d spans:\n%s", len(spans.GetSpans()), traced)
	}
	for what, s := range secrets {
		// A few digits are in any log by chance (times, durations, ids;
		// a span's times have nine digits of nanoseconds, where the
		// malformed card's five-digit CVC turned up): a CVC is looked
		// for as a value of its own.
		holds := strings.Contains
		if strings.HasSuffix(what, "CVC") {
			holds = paymentstest.HoldsValue
		}
		if holds(logs.String(), s) {
			t.Errorf("the log holds the %s", what)
		}
		if holds(traced, s) {
			t.Errorf("a span holds the %s", what)
		}
	}
}

// TestRestartKeepsCharges charges, declines and refunds, stops the
// service, starts it again on its database, and finds every charge as it
// was: a retry of each key answers as before, and charges nothing more.
func TestRestartKeepsCharges(t *testing.T) {
	db := filepath.Join(t.TempDir(), "payments.db")
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	first := runPayments(t, payments.Config{DB: db}, process.Deps{})
	approved, err := first.client.Charge(ctx, "keep-1", eur(1000), card(paymentsclient.TestCardApproved))
	if err != nil {
		t.Fatal(err)
	}
	refunded, err := first.client.Charge(ctx, "keep-2", eur(2000), card("5555 5555 5555 4444"))
	if err != nil {
		t.Fatal(err)
	}
	if refunded, err = first.client.Refund(ctx, refunded.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := first.client.Charge(ctx, "keep-3", eur(3000), card(paymentsclient.TestCardDeclined)); bookshop.ErrorCode(err) != bookshop.Conflict {
		t.Fatalf("Charge with the declined card = %v", err)
	}
	if _, err := first.client.RefundKey(ctx, "keep-4"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Fatalf("RefundKey of an unused key = %v", err)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	second := runPayments(t, payments.Config{DB: db}, process.Deps{Metrics: m})
	if got, err := second.client.Charge(ctx, "keep-1", eur(1000), card(paymentsclient.TestCardApproved)); err != nil || got != approved {
		t.Errorf("after a restart, Charge(keep-1) = %+v, %v; want %+v", got, err, approved)
	}
	if got, err := second.client.ChargeByID(ctx, refunded.ID); err != nil || got != refunded {
		t.Errorf("after a restart, ChargeByID = %+v, %v; want %+v", got, err, refunded)
	}
	if _, err := second.client.Charge(ctx, "keep-3", eur(3000), card(paymentsclient.TestCardDeclined)); bookshop.ErrorMessage(err) != "card declined: insufficient funds" {
		t.Errorf("after a restart, Charge(keep-3) = %v, want the decline again", err)
	}
	if _, err := second.client.Charge(ctx, "keep-4", eur(100), card(paymentsclient.TestCardApproved)); bookshop.ErrorCode(err) != bookshop.Conflict {
		t.Errorf("after a restart, Charge with a cancelled key = %v, want Conflict", err)
	}
	for _, result := range []string{"approved", "declined"} {
		if got := counter(t, m, `bookshop_payments_charges_total{result="`+result+`"}`); got != 0 {
			t.Errorf("after a restart, %s charges: %v, want 0: every answer was the first one's", result, got)
		}
	}
}

// withURL returns the default database settings with url.
func withURL(url string) pgdb.Settings {
	st := pgdb.DefaultSettings()
	st.URL = url
	return st
}

// TestConfig checks the Payments service's settings: their defaults, the
// flags and environment variables that set them (PAYMENTS_DATABASE_URL
// wins over DATABASE_URL), and the values refused.
func TestConfig(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		env     map[string]string
		want    payments.Config // when valid
		wantErr string          // words of the usage error
	}{
		{want: payments.Config{Port: 50100, DB: "payments.db", Database: pgdb.DefaultSettings()}},
		{args: []string{"-latency", "2s", "-db", ":memory:", "-port", "50101"}, want: payments.Config{Port: 50101, DB: ":memory:", Database: pgdb.DefaultSettings(), Latency: 2 * time.Second}},
		{env: map[string]string{"PAYMENTS_LATENCY": "150ms", "PAYMENTS_DB": "/data/payments.db"}, want: payments.Config{Port: 50100, DB: "/data/payments.db", Database: pgdb.DefaultSettings(), Latency: 150 * time.Millisecond}},
		{env: map[string]string{"DATABASE_URL": "postgres://shared/shop"}, want: payments.Config{Port: 50100, DB: "payments.db", Database: withURL("postgres://shared/shop")}},
		{env: map[string]string{"DATABASE_URL": "postgres://shared/shop", "PAYMENTS_DATABASE_URL": "postgres://own/payments"}, want: payments.Config{Port: 50100, DB: "payments.db", Database: withURL("postgres://own/payments")}},
		{args: []string{"-database-max-conns", "0"}, wantErr: "-database-max-conns or PAYMENTS_DATABASE_MAX_CONNS 0: want 1 to 200"},
		{args: []string{"-latency", "-1s"}, wantErr: "-latency or PAYMENTS_LATENCY -1s: want from 0 (the default: no delay) to 1m0s"},
		{args: []string{"-latency", "2m"}, wantErr: "want from 0"},
		{args: []string{"-db", ""}, wantErr: "-db or PAYMENTS_DB: want a file path"},
	} {
		fs := config.NewFlagSet("bookshop payments", "", io.Discard)
		set := fs.Service("payments", true)
		cfg := payments.DefaultConfig()
		cfg.Flags(set)
		if err := fs.Parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
			t.Fatalf("Parse(%q): %v", tt.args, err)
		}
		err := cfg.Validate(set)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("args %q, env %v: Validate = %v, want nil", tt.args, tt.env, err)
		case tt.wantErr == "" && cfg != tt.want:
			t.Errorf("args %q, env %v: %+v, want %+v", tt.args, tt.env, cfg, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("args %q, env %v: Validate = %v, want an error saying %q", tt.args, tt.env, err, tt.wantErr)
		}
	}
}
