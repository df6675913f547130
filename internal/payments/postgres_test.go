package payments_test

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentstest"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// postgresConfig returns the service's configuration on the PostgreSQL
// database of st, its readiness checked every 50ms.
func postgresConfig(st pgdb.Settings) payments.Config {
	cfg := payments.DefaultConfig()
	cfg.Database, cfg.ReadyInterval = st, 50*time.Millisecond
	return cfg
}

// TestRunOnPostgres runs two replicas of the Payments service, as
// `bookshop payments` with a database URL (one with a password, which the
// test server does not ask for), on one PostgreSQL database, which the
// first reaches through a proxy. A checkout that charges one key on both
// at once is charged once; a refund on one is seen on the other; while
// the proxy is down the first's health is NOT_SERVING and its calls are
// answered UNAVAILABLE, which a caller retries; once it is back, SERVING,
// and it charges again. The log names the database with its password
// hidden.
func TestRunOnPostgres(t *testing.T) {
	const password = "S3cret-Pa55word"
	st := pgtest.Settings(t)
	parsed, err := url.Parse(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password)
	st.URL = parsed.String()
	proxy := pgtest.NewProxy(t, st.URL)
	viaProxy := st
	viaProxy.URL, viaProxy.ConnectTimeout = proxy.URL(st.URL), time.Second
	logger, logs := logtest.TextLogger(slog.LevelInfo)
	first := runPayments(t, postgresConfig(viaProxy), process.Deps{Logger: logger})
	second := runPayments(t, postgresConfig(st), process.Deps{})
	ctx := testContext(t)

	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]bool{}
	)
	for i := range 8 {
		client := []*paymentsclient.Client{first.client, second.client}[i%2]
		wg.Go(func() {
			c, err := client.Charge(ctx, "one-checkout", eur(2500), card(paymentsclient.TestCardApproved))
			if err != nil {
				t.Errorf("Charge #%d: %v", i, err)
				return
			}
			mu.Lock()
			ids[c.ID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("one key charged on two replicas made charges %v, want one", ids)
	}
	var id string
	for id = range ids {
	}
	refunded, err := first.client.Refund(ctx, id)
	if err != nil || refunded.State != paymentsclient.StateRefunded {
		t.Fatalf("Refund = %+v, %v", refunded, err)
	}
	if again, err := second.client.Refund(ctx, id); err != nil || again != refunded {
		t.Errorf("Refund on the other replica = %+v, %v; want %+v, refunded once", again, err, refunded)
	}

	health := healthpb.NewHealthClient(rpctest.Dial(t, first.health))
	waitHealth := func(want healthpb.HealthCheckResponse_ServingStatus, when string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: paymentsv1.PaymentsService_ServiceDesc.ServiceName})
			if err == nil && resp.GetStatus() == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health %s = %v, %v; want %v", when, resp.GetStatus(), err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	proxy.Down()
	waitHealth(healthpb.HealthCheckResponse_NOT_SERVING, "without the database")
	if _, err := first.client.Charge(ctx, "while-away", eur(100), card(paymentsclient.TestCardApproved)); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Charge without the database = %v, want Unavailable", err)
	}
	if _, err := first.client.ChargeByID(ctx, id); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("ChargeByID without the database = %v, want Unavailable", err)
	}
	proxy.Up()
	waitHealth(healthpb.HealthCheckResponse_SERVING, "once the database is back")
	c, err := first.client.Charge(ctx, "while-away", eur(100), card(paymentsclient.TestCardApproved))
	if err != nil {
		t.Fatalf("Charge retried once the database is back: %v", err)
	}
	if got, err := second.client.ChargeByKey(ctx, "while-away"); err != nil || got != c {
		t.Errorf("ChargeByKey on the other replica = %+v, %v; want %+v", got, err, c)
	}
	if !strings.Contains(logs.String(), "xxxxx@") || strings.Contains(logs.String(), password) {
		t.Errorf("the log does not hide the password as xxxxx:\n%s", logs)
	}
}

// TestRunKeepsNoCardDataOnPostgres charges, declines and refuses cards
// on a Payments service whose charges are in PostgreSQL, then reads every
// row of its schema as text: no card number, in any form, no CVC and no
// cardholder's name is there; the key and the last four digits are,
// which shows that the search finds what is there.
func TestRunKeepsNoCardDataOnPostgres(t *testing.T) {
	st := pgtest.Settings(t)
	srv := runPayments(t, postgresConfig(st), process.Deps{})
	ctx := testContext(t)
	amex := bookshop.Card{Number: "3714 496353 98431", ExpMonth: 11, ExpYear: time.Now().Year() + 2, CVC: "8264", Name: "Quokka Zanzibar"}
	declined := bookshop.Card{Number: paymentsclient.TestCardDeclined, ExpMonth: 11, ExpYear: time.Now().Year() + 2, CVC: "826"}
	malformed := bookshop.Card{Number: "3714 496353 98432", ExpMonth: 11, ExpYear: time.Now().Year() + 2, CVC: "82666"}
	c, err := srv.client.Charge(ctx, "secret-free-1", eur(1999), amex)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.client.Charge(ctx, "secret-free-2", eur(1999), declined); bookshop.ErrorCode(err) != bookshop.Conflict {
		t.Errorf("Charge with the declined card = %v, want Conflict", err)
	}
	if _, err := srv.client.Charge(ctx, "secret-free-3", eur(1999), malformed); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("Charge with a malformed card = %v, want Invalid", err)
	}
	if _, err := srv.client.Refund(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.client.RefundKey(ctx, "secret-free-4"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("RefundKey of an unused key = %v, want NotFound", err)
	}

	rows := dumpSchema(t, st.URL, "payments")
	if !strings.Contains(rows, "secret-free-1") || !strings.Contains(rows, "8431") || !strings.Contains(rows, "secret-free-4") {
		t.Fatalf("the schema's rows do not hold the keys and the last four digits: the search proves nothing:\n%s", rows)
	}
	for _, cd := range []bookshop.Card{amex, declined, malformed} {
		paymentstest.CheckNoCardData(t, rows, cd)
	}
	if strings.Contains(rows, amex.Name) {
		t.Errorf("the schema's rows hold the cardholder's name:\n%s", rows)
	}
}

// dumpSchema returns every row of every table of schema in the database
// at u, as text, one a line.
func dumpSchema(tb testing.TB, u, schema string) string {
	tb.Helper()
	ctx := testContext(tb)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, schema)
	if err != nil {
		tb.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		tb.Fatalf("the tables of schema %s: %v, %v", schema, tables, err)
	}
	var b strings.Builder
	for _, table := range tables {
		name := pgx.Identifier{schema, table}.Sanitize()
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+name+` t`)
		if err != nil {
			tb.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			tb.Fatal(err)
		}
		for _, text := range texts {
			fmt.Fprintf(&b, "%s %s\n", table, text)
		}
	}
	return b.String()
}
