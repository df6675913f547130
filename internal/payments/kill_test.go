package payments_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// The environment of the test binary when it runs as the Payments
// service, for the tests that kill it (see TestMain).
const (
	serveEnv   = "PAYMENTS_TEST_SERVE"   // the database: a file, or a postgres:// URL
	latencyEnv = "PAYMENTS_TEST_LATENCY" // the processor's latency
)

// TestMain runs the tests; or, with PAYMENTS_TEST_SERVE set to a database
// (a file, or a postgres:// URL), makes the test binary the Payments
// service, as its command runs
// it (payments.Run), for the tests that kill it with SIGKILL: it prints
// its gRPC address ("listening on ADDR") and then its health address on
// lines of stdout, logs at debug level to stderr, and serves until it is
// killed or stopped.
func TestMain(m *testing.M) {
	if db := os.Getenv(serveEnv); db != "" {
		os.Exit(rpctest.ServeChild(func(ctx context.Context, lis net.Listener) error {
			return serve(ctx, lis, db, os.Getenv(latencyEnv))
		}))
	}
	os.Exit(m.Run())
}

// serve runs the Payments service on db (a file, or a postgres:// URL)
// and lis, with the processor's latency, until ctx is done or the process
// is killed.
func serve(ctx context.Context, lis net.Listener, db, latency string) error {
	cfg := payments.DefaultConfig()
	cfg.DB = db
	if strings.HasPrefix(db, "postgres://") {
		cfg.Database.URL = db
	}
	if latency != "" {
		d, err := time.ParseDuration(latency)
		if err != nil {
			return err
		}
		cfg.Latency = d
	}
	health, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(health.Addr())
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return payments.Run(ctx, cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis, HealthListener: health})
}

// child is the Payments service in a process of its own.
type child struct {
	*rpctest.Child
	client *paymentsclient.Client
}

// startChild starts the test binary as the Payments service on db (a
// file, or a postgres:// URL), with the processor's latency, and waits
// until it serves. The test kills it when it ends.
func startChild(tb testing.TB, db string, latency time.Duration) *child {
	tb.Helper()
	proc, addr := rpctest.StartChild(tb, serveEnv+"="+db, latencyEnv+"="+latency.String())
	waitServing(tb, proc.Line(tb))
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &child{Child: proc, client: paymentsclient.New(conn, 5*time.Second)}
}

// kill kills the process with SIGKILL, and waits for it.
func (c *child) kill(tb testing.TB) {
	tb.Helper()
	if err := c.Kill(); err != nil {
		tb.Fatal(err)
	}
}

// waitLog waits until the process logs a line that holds all of words.
func (c *child) waitLog(tb testing.TB, words ...string) {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-c.Logs():
			if !ok {
				tb.Fatalf("the Payments process exited before it logged %q", words)
			}
			if allIn(line, words) {
				return
			}
		case <-timeout:
			tb.Fatalf("the Payments process did not log %q within 10s", words)
		}
	}
}

func allIn(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// checkDatabase opens db (the service stopped) and checks that it holds
// charges charges, one for each key, and that SQLite finds a file sound.
func checkDatabase(tb testing.TB, db string, charges int) {
	tb.Helper()
	if strings.HasPrefix(db, "postgres://") {
		ctx := testContext(tb)
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			tb.Fatal(err)
		}
		defer conn.Close(ctx)
		var rows, keys int
		if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT idempotency_key) FROM payments.charges`).Scan(&rows, &keys); err != nil {
			tb.Fatal(err)
		}
		if rows != charges || keys != charges {
			tb.Errorf("the database holds %d charges of %d keys, want %d of as many", rows, keys, charges)
		}
		return
	}
	conn, err := sql.Open("sqlite", "file:"+db+"?_pragma=query_only(1)")
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	var ok string
	if err := conn.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		tb.Errorf("integrity_check = %q, %v; want ok", ok, err)
	}
	var rows, keys int
	if err := conn.QueryRow(`SELECT count(*), count(DISTINCT idempotency_key) FROM charges`).Scan(&rows, &keys); err != nil {
		tb.Fatal(err)
	}
	if rows != charges || keys != charges {
		tb.Errorf("the database holds %d charges of %d keys, want %d of as many", rows, keys, charges)
	}
}

// TestKilledUnderLoad charges many keys at once, from 8 callers, and kills
// the service with SIGKILL in the middle, while charges are being
// recorded and answered; then restarts it on its database, and checks
// that nothing is lost and nothing is done twice: every charge answered
// before the kill is there as it was answered; every charge asked for and
// not answered was either made whole (its answer lost) or not at all; the
// retry of every key answers with its one charge, made now or before; and
// the database holds one charge for each key.
func TestKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service as a process, twice")
	}
	testKilledUnderLoad(t, filepath.Join(t.TempDir(), "payments.db"))
}

// TestKilledUnderLoadOnPostgres is TestKilledUnderLoad with the charges
// in PostgreSQL: what a killed replica answered was committed, and
// nothing is charged twice.
func TestKilledUnderLoadOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service as a process, twice")
	}
	testKilledUnderLoad(t, pgtest.NewDatabase(t))
}

// testKilledUnderLoad is TestKilledUnderLoad on db, a file or a
// postgres:// URL.
func testKilledUnderLoad(t *testing.T, db string) {
	first := startChild(t, db, 0)
	ctx := testContext(t)

	type attempt struct {
		amount   bookshop.Money
		answered *bookshop.Charge
	}
	var (
		mu       sync.Mutex
		attempts = map[string]*attempt{}
		answered atomic.Int64
		wg       sync.WaitGroup
		stopped  = make(chan struct{})
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopped:
					return
				default:
				}
				key := fmt.Sprintf("load-%d-%d", w, i)
				a := &attempt{amount: eur(int64(100 + i))}
				mu.Lock()
				attempts[key] = a
				mu.Unlock()
				c, err := first.client.Charge(ctx, key, a.amount, card(paymentsclient.TestCardApproved))
				if err != nil {
					return // killed
				}
				mu.Lock()
				a.answered = &c
				mu.Unlock()
				answered.Add(1)
			}
		})
	}
	for answered.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	first.kill(t)
	close(stopped)
	wg.Wait()

	second := startChild(t, db, 0)
	var lost, made int
	for key, a := range attempts {
		before, err := second.client.ChargeByKey(ctx, key)
		switch {
		case a.answered != nil && (err != nil || before != *a.answered):
			t.Errorf("%s: answered %+v before the kill, and now %+v, %v", key, *a.answered, before, err)
		case a.answered == nil && err == nil:
			made++ // made and recorded, its answer lost with the process
			if before.Amount != a.amount || before.State != paymentsclient.StateApproved {
				t.Errorf("%s: a charge %+v after the kill, want one of %v, approved", key, before, a.amount)
			}
		case a.answered == nil && bookshop.ErrorCode(err) == bookshop.NotFound:
			lost++ // never recorded: nothing was charged
		case a.answered == nil:
			t.Errorf("%s: ChargeByKey = %v", key, err)
		}
		again, err := second.client.Charge(ctx, key, a.amount, card(paymentsclient.TestCardApproved))
		if err != nil || (before.ID != "" && again != before) {
			t.Errorf("%s: the retry = %+v, %v; want %+v", key, again, err, before)
		}
	}
	t.Logf("%d charges asked for, %d answered before the kill; of the others, %d made (the answer lost) and %d not made; each charged once on its retry",
		len(attempts), answered.Load(), made, lost)
	second.kill(t)
	checkDatabase(t, db, len(attempts))
}

// TestKilledInTheProcessor kills the service with SIGKILL while a charge
// is with its (slow) processor, at the step it logs: after a restart the
// key has charged nothing, and its retry charges once.
func TestKilledInTheProcessor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service as a process, twice")
	}
	testKilledInTheProcessor(t, filepath.Join(t.TempDir(), "payments.db"))
}

// TestKilledInTheProcessorOnPostgres is TestKilledInTheProcessor with the
// charges in PostgreSQL.
func TestKilledInTheProcessorOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service as a process, twice")
	}
	testKilledInTheProcessor(t, pgtest.NewDatabase(t))
}

// testKilledInTheProcessor is TestKilledInTheProcessor on db, a file or a
// postgres:// URL.
func testKilledInTheProcessor(t *testing.T, db string) {
	first := startChild(t, db, 10*time.Second)
	ctx := testContext(t)
	go func() {
		_, _ = first.client.Charge(ctx, "in-the-processor", eur(100), card(paymentsclient.TestCardApproved))
	}()
	first.waitLog(t, "charge sent to the processor", "in-the-processor")
	first.kill(t)

	second := startChild(t, db, 0)
	if c, err := second.client.ChargeByKey(ctx, "in-the-processor"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("after the kill, ChargeByKey = %+v, %v; want NotFound: nothing charged", c, err)
	}
	c, err := second.client.Charge(ctx, "in-the-processor", eur(100), card(paymentsclient.TestCardApproved))
	if err != nil || c.State != paymentsclient.StateApproved {
		t.Errorf("the retry = %+v, %v; want approved", c, err)
	}
	if again, err := second.client.ChargeByKey(ctx, "in-the-processor"); err != nil || again != c {
		t.Errorf("ChargeByKey after the retry = %+v, %v; want %+v", again, err, c)
	}
	second.kill(t)
	checkDatabase(t, db, 1)
}
