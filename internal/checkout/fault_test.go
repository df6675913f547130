package checkout_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	checkoutsqlite "github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/fault"
	"github.com/bookshop-go/bookshop/internal/platform/porttest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// The tests here kill real processes: the shop's services run as the
// bookshop binary (built with the tag faults) does, one process each, on
// free ports, with their databases in files of the test's; a process, the
// Checkout's or a service's it calls, is armed with a fault point
// (BOOKSHOP_FAULT) at which it kills itself with SIGKILL, and then
// started again without it, on the same database; the Checkout's
// recoverer must finish or undo the checkout the kill interrupted, and
// every invariant must hold, checked through the services' own clients.

// binary is the bookshop binary, built once for the tests that run it.
var binary struct {
	once sync.Once
	dir  string
	err  error
}

// bookshopBinary builds cmd/bookshop with the tag faults, once, and
// returns its path.
func bookshopBinary(tb testing.TB) string {
	tb.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "bookshop-checkout-bin-")
		if binary.err != nil {
			return
		}
		// The tag faults makes the fault points able to kill (see package
		// fault): the production binary is built without it.
		out, err := exec.Command("go", "build", "-tags", "faults", "-o", binary.dir+string(filepath.Separator), "../../cmd/bookshop").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		tb.Fatal(binary.err)
	}
	return filepath.Join(binary.dir, "bookshop")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// proc is a process of the bookshop binary started for a test.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer // its standard output and error
	done chan struct{}
	err  error // Wait's, once done is closed
}

// syncBuffer is a bytes buffer that two goroutines may use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// run starts `bookshop args...` with env added to the test's environment;
// the process is killed when the test ends, if it is still running.
func run(tb testing.TB, name string, env []string, args ...string) *proc {
	tb.Helper()
	return runFor(tb, tb, name, env, args...)
}

// runFor is run for a process that lives as long as owner, a test that
// encloses tb's: a failure to start is tb's.
func runFor(tb, owner testing.TB, name string, env []string, args ...string) *proc {
	tb.Helper()
	p := &proc{name: name, cmd: exec.Command(bookshopBinary(tb), args...), out: new(syncBuffer), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Dir = owner.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	owner.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if owner.Failed() {
			owner.Logf("%s's output:\n%s", name, p.out)
		}
	})
	return p
}

// wait waits for the process to exit by itself, for at most 20 s, and
// returns how it ended.
func (p *proc) wait(tb testing.TB) error {
	tb.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(20 * time.Second):
		tb.Fatalf("%s did not exit within 20s", p.name)
		return nil
	}
}

// stop stops the process with SIGTERM and waits for it.
func (p *proc) stop(tb testing.TB) {
	tb.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(tb); err != nil {
		tb.Errorf("%s after SIGTERM: %v", p.name, err)
	}
}

// killedAt reports whether the process was killed by SIGKILL at fault
// point point.
func (p *proc) killedAt(point string) bool {
	exit, ok := errors.AsType[*exec.ExitError](p.err)
	return ok && strings.Contains(exit.String(), "killed") && strings.Contains(p.out.String(), "fault: killed at "+point)
}

// freePort returns a TCP port that nothing listens on, outside the range
// the kernel gives outgoing connections (see porttest).
func freePort(tb testing.TB) int { return porttest.Pick(tb) }

// waitUntil polls cond until it holds, for at most 20 s.
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	tb.Fatalf("timed out waiting for %s", what)
}

// processShop is the shop's services but the Checkout, each its own
// process: the Catalog (the built-in books), the Cart, the Inventory,
// Payments, Orders and Promotions.
type processShop struct {
	*shop
	tb    testing.TB // the test the processes live as long as
	dir   string
	ports map[string]int
	procs map[string]*proc
	env   map[string][]string
}

// startProcessShop starts the services but the Checkout as processes, and
// waits until each answers. paymentsEnv is added to Payments'.
func startProcessShop(tb testing.TB, paymentsEnv ...string) *processShop {
	tb.Helper()
	dir := tb.TempDir()
	// The processes run the campaign the shop ships with.
	ps := &processShop{tb: tb, shop: &shop{promotion: promotions.Current().Code}, dir: dir, ports: make(map[string]int), procs: make(map[string]*proc), env: make(map[string][]string)}
	for _, name := range []string{"catalog", "cart", "inventory", "payments", "orders", "promotions", "checkout"} {
		ps.ports[name] = freePort(tb)
	}
	up := strings.ToUpper
	for _, name := range []string{"catalog", "cart", "inventory", "payments", "orders", "promotions"} {
		env := []string{
			up(name) + "_PORT=" + strconv.Itoa(ps.ports[name]),
			up(name) + "_DB=" + filepath.Join(dir, name+".db"),
			"CATALOG_HOST=" + ps.addr("catalog"),
		}
		if name == "payments" {
			env = append(env, paymentsEnv...)
		}
		ps.env[name] = env
		ps.procs[name] = run(tb, name, env, name)
	}
	ps.carts = cartclient.New(dial(tb, ps.addr("cart")), 5*time.Second)
	ps.stock = inventoryclient.New(dial(tb, ps.addr("inventory")), 5*time.Second)
	ps.charges = paymentsclient.New(dial(tb, ps.addr("payments")), 5*time.Second)
	ps.orderBook = ordersclient.New(dial(tb, ps.addr("orders")), 5*time.Second)
	ps.promos = promotionsclient.New(dial(tb, ps.addr("promotions")), 5*time.Second)
	ctx := testContext(tb)
	ps.waitAnswering(tb)
	for _, id := range []int32{1, 2} { // plaintext: no one is refused SetStock
		if err := ps.stock.SetStock(ctx, id, 100); err != nil {
			tb.Fatal(err)
		}
	}
	return ps
}

// waitAnswering waits until every service but the Checkout answers.
func (ps *processShop) waitAnswering(tb testing.TB) {
	tb.Helper()
	ctx := testContext(tb)
	waitUntil(tb, "the services to answer", func() bool {
		_, e1 := ps.carts.Cart(ctx, "c-0") // the Cart and the Catalog
		_, e2 := ps.stock.Levels(ctx, []int32{1})
		_, e3 := ps.charges.ChargeByKey(ctx, "none")
		_, e4 := ps.orderBook.List(ctx, 1, "", 1)
		_, e5 := ps.promos.Offer(ctx, 0)
		return e1 == nil && e2 == nil && bookshop.ErrorCode(e3) == bookshop.NotFound && e4 == nil && e5 == nil
	})
}

// addr returns the address of the service name.
func (ps *processShop) addr(name string) string { return "127.0.0.1:" + strconv.Itoa(ps.ports[name]) }

// kill kills service name with SIGKILL, and waits for it to end.
func (ps *processShop) kill(tb testing.TB, name string) {
	tb.Helper()
	_ = ps.procs[name].cmd.Process.Kill()
	<-ps.procs[name].done
}

// restart starts service name again, after a kill, on the same port and
// database, without extra, for as long as the test that started ps.
func (ps *processShop) restart(tb testing.TB, name string) {
	tb.Helper()
	ps.procs[name] = runFor(tb, ps.tb, name, ps.env[name], name)
}

// arm kills service name and starts it again with the fault point point
// armed, for as long as the test that started ps, and waits until it
// answers. If the process armed is still the service's when tb ends (tb
// failed before it was killed at the point and started again), it is
// killed and the service started again, unarmed, for the tests after tb.
func (ps *processShop) arm(tb testing.TB, name, point string) {
	tb.Helper()
	ps.kill(tb, name)
	armed := runFor(tb, ps.tb, name, append(slices.Clip(ps.env[name]), fault.EnvVar+"="+point), name)
	ps.procs[name] = armed
	tb.Cleanup(func() {
		if ps.procs[name] == armed {
			ps.kill(tb, name)
			ps.restart(tb, name)
		}
	})
	ps.waitAnswering(tb)
}

// startCheckoutProcess starts the Checkout as a process over ps, its saga
// log at db, the fault points faults armed (none for ""), recovering
// every 200 ms.
func (ps *processShop) startCheckoutProcess(tb testing.TB, db, faults string) (*proc, *checkoutclient.Client) {
	tb.Helper()
	env := []string{
		"CHECKOUT_PORT=" + strconv.Itoa(ps.ports["checkout"]),
		"CHECKOUT_DB=" + db,
		"CHECKOUT_RECOVER_INTERVAL=200ms",
		"CHECKOUT_CALL_TIMEOUT=2s",
		"CHECKOUT_PLACE_TIMEOUT=10s",
		"CART_HOST=" + ps.addr("cart"), "CATALOG_HOST=" + ps.addr("catalog"), "INVENTORY_HOST=" + ps.addr("inventory"),
		"PAYMENTS_HOST=" + ps.addr("payments"), "ORDERS_HOST=" + ps.addr("orders"), "PROMOTIONS_HOST=" + ps.addr("promotions"),
	}
	if faults != "" {
		env = append(env, fault.EnvVar+"="+faults)
	}
	p := run(tb, "checkout", env, "checkout")
	client := checkoutclient.New(dial(tb, ps.addr("checkout")), 15*time.Second)
	ctx := testContext(tb)
	waitUntil(tb, "the Checkout to answer", func() bool {
		_, err := client.Quote(ctx, 1, "c-0")
		return err == nil
	})
	return p, client
}

// logRecord returns the record of a customer's key in the saga log at db,
// read as another process would, or nil.
func logRecord(tb testing.TB, db string, customer int32, key string) *saga.Record {
	tb.Helper()
	log, err := checkoutsqlite.Open(testContext(tb), db)
	if err != nil {
		tb.Fatal(err)
	}
	defer log.Close()
	r, err := log.Get(testContext(tb), customer, key)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestKilledAtEveryStep kills the Checkout at each step of a checkout, and
// of its undoing, starts it again, and checks that its recoverer finished
// or undid the checkout, with every invariant holding: no charge without
// an order (or a refund), no charge but of the total confirmed, no order
// without its stock taken, no hold left, no order recorded twice, the
// cart's lines taken out once, or kept. Each cart holds three books, and
// each customer may use the promotion: the checkout claims it, and the
// customer's use is spent when, and only when, an order with its discount
// is recorded, and held by no claim otherwise: killed between the claim
// and the charge, the claim is released; between the claim's
// confirmation (once charged, before the stock is taken) and the order,
// the order is recorded.
func TestKilledAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes: not with -short")
	}
	ps := startProcessShop(t)
	for i, tc := range []struct {
		point  string
		number string // the card
		want   saga.State
		code   bookshop.Code // of the record, when it failed
	}{
		// Killed before the charge: undone, and then the shopper's
		// request again places the order.
		{"checkout/after-begin", paymentsclient.TestCardApproved, saga.Failed, bookshop.Unavailable},
		{"checkout/after-reserve", paymentsclient.TestCardApproved, saga.Failed, bookshop.Unavailable},
		{"checkout/after-claim", paymentsclient.TestCardApproved, saga.Failed, bookshop.Unavailable},
		// Killed once charged: finished.
		{"checkout/after-charge", paymentsclient.TestCardApproved, saga.Done, ""},
		{"checkout/after-confirm", paymentsclient.TestCardApproved, saga.Done, ""},
		{"checkout/after-commit", paymentsclient.TestCardApproved, saga.Done, ""},
		{"checkout/after-order", paymentsclient.TestCardApproved, saga.Done, ""},
		{"checkout/after-cart", paymentsclient.TestCardApproved, saga.Done, ""},
		// Killed while undoing: undone.
		{"checkout/after-refund", paymentsclient.TestCardUnavailable, saga.Failed, bookshop.Unavailable},
		{"checkout/after-release", paymentsclient.TestCardDeclined, saga.Failed, bookshop.Conflict},
	} {
		t.Run(strings.TrimPrefix(tc.point, "checkout/"), func(t *testing.T) {
			ctx := testContext(t)
			customer := int32(1000 + i)
			cartID := cartOf(customer)
			ps.fill(t, cartID, 1, 2, 2, 1)
			before := ps.levels(t, 1, 2)
			db := filepath.Join(t.TempDir(), "checkout.db")

			p, client := ps.startCheckoutProcess(t, db, tc.point)
			q, err := client.Quote(ctx, customer, cartID)
			if err != nil || q.Discount == eur(0) {
				t.Fatalf("Quote = %+v, %v; want a discount of the campaign the shop ships with, %s", q, err, ps.promotion)
			}
			req := order(customer, "k-fault", q.Total, tc.number)
			start := time.Now()
			if _, err := client.Place(ctx, req); err == nil {
				t.Fatalf("Place, the Checkout killed at %s, succeeded", tc.point)
			}
			p.wait(t)
			if !p.killedAt(tc.point) {
				t.Fatalf("the Checkout ended with %v, want it killed at %s", p.err, tc.point)
			}
			if r := logRecord(t, db, customer, req.Key); r == nil || r.State.Ended() {
				t.Fatalf("the saga log after the kill has %+v, want the checkout unfinished", r)
			}
			// When the order goes through, the shopper adds a copy after the
			// crash: a removal done twice would take it too.
			inCart := 3
			if tc.want == saga.Done {
				ps.fill(t, cartID, 2, 1)
				inCart++
			}

			p, client = ps.startCheckoutProcess(t, db, "")
			var r *saga.Record
			waitUntil(t, "the recoverer to end the checkout", func() bool {
				r = logRecord(t, db, customer, req.Key)
				return r != nil && r.State.Ended()
			})
			t.Logf("killed at %s: %s (%q) %v after the request", tc.point, r.State, r.ErrMessage, time.Since(start).Round(time.Millisecond))
			if r.State != tc.want || r.ErrCode != tc.code {
				t.Errorf("the checkout ended %s (%s %q), want %s (%s)", r.State, r.ErrCode, r.ErrMessage, tc.want, tc.code)
			}
			checkInvariants(t, ps.shop, r, before, inCart)

			// The request again: when the order was placed, the form is told
			// so (the cart has another copy since: it is another request),
			// and nothing more is done; when the checkout was undone with
			// nothing charged, a new try that places it.
			_, err = client.Place(ctx, req)
			switch {
			case tc.want == saga.Done:
				if want := "already placed order " + r.Order.ID; bookshop.ErrorCode(err) != bookshop.Conflict || !strings.Contains(bookshop.ErrorMessage(err), want) {
					t.Errorf("Place again = %v; want a Conflict with %q", err, want)
				}
				checkInvariants(t, ps.shop, r, before, inCart)
			case tc.code == bookshop.Unavailable && tc.number == paymentsclient.TestCardApproved:
				if err != nil {
					t.Fatalf("Place again, after the undoing: %v", err)
				}
				r2 := logRecord(t, db, customer, req.Key)
				if r2.ID == r.ID || r2.State != saga.Done {
					t.Errorf("Place again: checkout %s %s, want a new one, done", r2.ID, r2.State)
				}
				checkInvariants(t, ps.shop, r2, before, inCart)
			case tc.want == saga.Failed && bookshop.ErrorCode(err) != r.ErrCode:
				t.Errorf("Place again = %v, want %s", err, r.ErrCode)
			}
			p.stop(t)
		})
	}
}

// TestPaymentsKilledWhileCharging kills Payments with SIGKILL while it
// works on a charge (a slow processor): the shopper gets an answer within
// the deadline; once Payments is back, the recoverer finds that nothing
// was charged, and undoes the checkout.
func TestPaymentsKilledWhileCharging(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes: not with -short")
	}
	ps := startProcessShop(t, "PAYMENTS_LATENCY=3s")
	ctx := testContext(t)
	const customer = 2000
	ps.fill(t, cartOf(customer), 1, 1)
	before := ps.levels(t, 1)
	db := filepath.Join(t.TempDir(), "checkout.db")
	p, client := ps.startCheckoutProcess(t, db, "")
	q, err := client.Quote(ctx, customer, cartOf(customer))
	if err != nil {
		t.Fatal(err)
	}
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		time.Sleep(time.Second)
		ps.kill(t, "payments")
	}()
	start := time.Now()
	_, err = client.Place(ctx, order(customer, "k-payments-killed", q.Total, paymentsclient.TestCardApproved))
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Place, Payments killed = %v, want Unavailable", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Place, Payments killed, answered in %v, want within 5s", elapsed)
	}
	<-killed
	ps.restart(t, "payments")
	var r *saga.Record
	waitUntil(t, "the recoverer to end the checkout", func() bool {
		r = logRecord(t, db, customer, "k-payments-killed")
		return r != nil && r.State.Ended()
	})
	if r.State != saga.Failed {
		t.Errorf("the checkout is %s, want failed: undone", r.State)
	}
	checkInvariants(t, ps.shop, r, before, 1)
	p.stop(t)
}

// TestServicesKilledAtTheirSteps kills, with SIGKILL, the Inventory,
// Payments and Orders at each step of a checkout that they record (the
// Cart's and Promotions' steps are not killed here), right after the
// change the Checkout asked for is recorded and before the answer: the
// change is on the service's disk, and the Checkout sees the call fail.
// The shopper gets an answer within the deadline; once the service is
// started again, the recoverer finishes the checkout (when the charge may
// have been made) or undoes it (when it was not), and every invariant
// holds: the charge found by its key, the hold released by its key, the
// stock taken and the order recorded once, by their keys, and an undoing
// done again to its end.
func TestServicesKilledAtTheirSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes: not with -short")
	}
	ps := startProcessShop(t)
	for i, tc := range []struct {
		service, point string
		number         string // the card
		want           saga.State
		code           bookshop.Code // of the record, when it failed
	}{
		// The hold made, its answer lost: nothing charged, undone; the
		// shopper told so at once, though the hold is released later.
		{"inventory", "inventory/after-reserve", paymentsclient.TestCardApproved, saga.Failed, bookshop.Unavailable},
		// The charge made, its answer lost: asked for by its key, and kept.
		{"payments", "payments/after-charge", paymentsclient.TestCardApproved, saga.Done, ""},
		// The stock taken, or the order recorded, the answer lost: asked
		// for again, by the reservation's id or the order's key.
		{"inventory", "inventory/after-commit", paymentsclient.TestCardApproved, saga.Done, ""},
		{"orders", "orders/after-create", paymentsclient.TestCardApproved, saga.Done, ""},
		// Undoing: the hold of a declined card released, and the charge
		// key of a processor that could not be reached cancelled, the
		// answer lost: done again, to the end of the undoing.
		{"inventory", "inventory/after-release", paymentsclient.TestCardDeclined, saga.Failed, bookshop.Conflict},
		{"payments", "payments/after-refund", paymentsclient.TestCardUnavailable, saga.Failed, bookshop.Unavailable},
	} {
		t.Run(strings.ReplaceAll(tc.point, "/", "-"), func(t *testing.T) {
			ctx := testContext(t)
			customer := int32(3000 + i)
			cartID := cartOf(customer)
			ps.fill(t, cartID, 1, 1, 2, 1)
			before := ps.levels(t, 1, 2)
			ps.arm(t, tc.service, tc.point)
			db := filepath.Join(t.TempDir(), "checkout.db")
			p, client := ps.startCheckoutProcess(t, db, "")
			defer p.stop(t)

			q, err := client.Quote(ctx, customer, cartID)
			if err != nil {
				t.Fatal(err)
			}
			req := order(customer, "k-"+tc.service+"-killed", q.Total, tc.number)
			start := time.Now()
			_, err = client.Place(ctx, req)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatalf("Place, %s killed at %s, succeeded", tc.service, tc.point)
			}
			if elapsed > 5*time.Second {
				t.Errorf("Place, %s killed, answered in %v, want within 5s", tc.service, elapsed)
			}
			if tc.want == saga.Done && checkoutclient.NotPlaced(err) {
				t.Errorf("Place, %s killed = %v: told not placed, of a checkout that places its order", tc.service, err)
			}
			if tc.point == "inventory/after-reserve" && !checkoutclient.NotPlaced(err) {
				t.Errorf("Place, %s killed before any charge = %v: want it told not placed, nothing charged", tc.service, err)
			}
			killed := ps.procs[tc.service]
			killed.wait(t)
			if !killed.killedAt(tc.point) {
				t.Fatalf("%s ended with %v, want it killed at %s", tc.service, killed.err, tc.point)
			}
			if r := logRecord(t, db, customer, req.Key); r == nil || r.State.Ended() {
				t.Fatalf("the saga log after the kill has %+v, want the checkout unfinished", r)
			}

			ps.restart(t, tc.service)
			ps.waitAnswering(t)
			var r *saga.Record
			waitUntil(t, "the recoverer to end the checkout", func() bool {
				r = logRecord(t, db, customer, req.Key)
				return r != nil && r.State.Ended()
			})
			t.Logf("%s killed at %s: the shopper told %s %q in %v; the checkout %s %v after the request",
				tc.service, tc.point, bookshop.ErrorCode(err), bookshop.ErrorMessage(err), elapsed.Round(time.Millisecond), r.State, time.Since(start).Round(time.Millisecond))
			if r.State != tc.want || r.ErrCode != tc.code {
				t.Errorf("the checkout ended %s (%s %q), want %s (%s)", r.State, r.ErrCode, r.ErrMessage, tc.want, tc.code)
			}
			checkInvariants(t, ps.shop, r, before, 2)
		})
	}
}
