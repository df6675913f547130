package inventory_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The states of the contract.
const (
	held      = inventoryv1.ReservationState_RESERVATION_STATE_HELD
	committed = inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED
	released  = inventoryv1.ReservationState_RESERVATION_STATE_RELEASED
	expired   = inventoryv1.ReservationState_RESERVATION_STATE_EXPIRED
)

// wantCode fails the test unless err has code, and a message with part.
func wantCode(tb testing.TB, call string, err error, code codes.Code, part string) {
	tb.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), part) {
		tb.Errorf("%s: %v, want %v with %q", call, err, code, part)
	}
}

// line is the message of a line.
func line(book int32, quantity int32) *inventoryv1.StockLine {
	return &inventoryv1.StockLine{BookId: book, Quantity: quantity}
}

// stock is the message of a book's stock.
func stock(book int32, available, onHand, held int32) *inventoryv1.BookStock {
	return &inventoryv1.BookStock{BookId: book, Available: available, OnHand: onHand, Held: held}
}

// setStock sets the copies on hand of each book, pairs of id and count.
func setStock(tb testing.TB, client inventoryv1.InventoryServiceClient, pairs ...int32) {
	tb.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if _, err := client.SetStock(testContext(tb), &inventoryv1.SetStockRequest{BookId: pairs[i], OnHand: pairs[i+1]}); err != nil {
			tb.Fatalf("SetStock(%d, %d): %v", pairs[i], pairs[i+1], err)
		}
	}
}

// wantStock fails the test unless GetStock of the books of want returns
// want.
func wantStock(tb testing.TB, client inventoryv1.InventoryServiceClient, want ...*inventoryv1.BookStock) {
	tb.Helper()
	ids := make([]int32, len(want))
	for i, s := range want {
		ids[i] = s.GetBookId()
	}
	resp, err := client.GetStock(testContext(tb), &inventoryv1.GetStockRequest{BookIds: ids})
	if err != nil {
		tb.Fatalf("GetStock(%v): %v", ids, err)
	}
	if !proto.Equal(resp, &inventoryv1.GetStockResponse{Stock: want}) {
		tb.Errorf("GetStock(%v) = %v,\nwant %v", ids, resp.GetStock(), want)
	}
}

// reserve reserves lines under key, for the service's own ttl, failing
// the test on an error.
func reserve(tb testing.TB, client inventoryv1.InventoryServiceClient, key string, lines ...*inventoryv1.StockLine) *inventoryv1.Reservation {
	tb.Helper()
	resp, err := client.Reserve(testContext(tb), &inventoryv1.ReserveRequest{IdempotencyKey: key, Lines: lines})
	if err != nil {
		tb.Fatalf("Reserve(%s): %v", key, err)
	}
	return resp.GetReservation()
}

// TestReservationLife reserves, commits and releases, and reads the
// stock after each step: the copies held are not available, a commit
// takes them off the stock, a release gives them back, and each step
// answers its retry as it answered the first call.
func TestReservationLife(t *testing.T) {
	ctx := testContext(t)
	client, _, clock := serveClock(t, nil)
	setStock(t, client, 1, 5, 2, 3)
	wantStock(t, client, stock(1, 5, 5, 0), stock(2, 3, 3, 0), stock(3, 0, 0, 0))

	a := reserve(t, client, "checkout-a", line(1, 2), line(2, 1))
	if a.GetState() != held || !strings.HasPrefix(a.GetId(), "r-") || len(a.GetId()) != 28 {
		t.Errorf("Reserve = %v, want a held reservation with an id of r- and 26 characters", a)
	}
	if want := clock.Now().Add(inventory.DefaultTTL); !a.GetExpireTime().AsTime().Equal(want) {
		t.Errorf("Reserve: expires %v, want %v (now and the default ttl)", a.GetExpireTime().AsTime(), want)
	}
	if !proto.Equal(a.GetLines()[0], line(1, 2)) || !proto.Equal(a.GetLines()[1], line(2, 1)) {
		t.Errorf("Reserve: lines %v, want those asked for, in order", a.GetLines())
	}
	wantStock(t, client, stock(1, 3, 5, 2), stock(2, 2, 3, 1))

	for range 2 { // the second is a retry
		resp, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: a.GetId()})
		if err != nil || resp.GetReservation().GetState() != committed || resp.GetReservation().GetId() != a.GetId() {
			t.Fatalf("Commit = %v, %v; want it committed", resp, err)
		}
		wantStock(t, client, stock(1, 3, 3, 0), stock(2, 2, 2, 0))
	}
	_, err := client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: a.GetId()})
	wantCode(t, "Release(committed)", err, codes.FailedPrecondition, "was committed")

	b := reserve(t, client, "checkout-b", line(2, 2))
	wantStock(t, client, stock(2, 0, 2, 2))
	for range 2 {
		resp, err := client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: b.GetId()})
		if err != nil || resp.GetReservation().GetState() != released {
			t.Fatalf("Release = %v, %v; want it released", resp, err)
		}
		wantStock(t, client, stock(2, 2, 2, 0))
	}
	_, err = client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: b.GetId()})
	wantCode(t, "Commit(released)", err, codes.FailedPrecondition, "was released")

	_, err = client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: "r-UNKNOWN"})
	wantCode(t, "Commit(unknown)", err, codes.NotFound, "no reservation r-UNKNOWN")
	_, err = client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: "r-UNKNOWN"})
	wantCode(t, "Release(unknown)", err, codes.NotFound, "no reservation r-UNKNOWN")
}

// TestReserveIsIdempotent retries Reserves: the same key and lines give
// the same reservation and hold nothing more; the same key with other
// lines is refused; a key refused as sold out is judged anew.
func TestReserveIsIdempotent(t *testing.T) {
	ctx := testContext(t)
	client, _, _ := serveClock(t, nil)
	setStock(t, client, 1, 3, 2, 1)

	first := reserve(t, client, "key-1", line(1, 2), line(2, 1))
	again := reserve(t, client, "key-1", line(2, 1), line(1, 2)) // the same lines, in another order
	if !proto.Equal(first, again) {
		t.Errorf("Reserve retried = %v, want the first %v", again, first)
	}
	wantStock(t, client, stock(1, 1, 3, 2), stock(2, 0, 1, 1))

	_, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "key-1", Lines: []*inventoryv1.StockLine{line(1, 1)}})
	wantCode(t, "Reserve(the key, other lines)", err, codes.FailedPrecondition, `idempotency key "key-1" made reservation `+first.GetId())

	// Once committed, a retry of the Reserve answers the reservation as
	// it is now.
	if _, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: first.GetId()}); err != nil {
		t.Fatal(err)
	}
	if r := reserve(t, client, "key-1", line(1, 2), line(2, 1)); r.GetId() != first.GetId() || r.GetState() != committed {
		t.Errorf("Reserve retried after the commit = %v, want %s committed", r, first.GetId())
	}
	wantStock(t, client, stock(1, 1, 1, 0), stock(2, 0, 0, 0))

	_, err = client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "key-2", Lines: []*inventoryv1.StockLine{line(2, 1)}})
	wantCode(t, "Reserve(sold out)", err, codes.FailedPrecondition, "sold out")
	setStock(t, client, 2, 4)
	if r := reserve(t, client, "key-2", line(2, 1)); r.GetState() != held {
		t.Errorf("Reserve(a key refused before, the stock back) = %v, want held", r)
	}
	wantStock(t, client, stock(2, 3, 4, 1))
}

// TestSoldOut checks the refusal of a reservation short of copies: all or
// nothing, FAILED_PRECONDITION "sold out" with each book short and what it
// has left, in words and in a PreconditionFailure detail.
func TestSoldOut(t *testing.T) {
	ctx := testContext(t)
	client, _, _ := serveClock(t, nil)
	setStock(t, client, 1, 5, 2, 2, 3, 0)

	_, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "k", Lines: []*inventoryv1.StockLine{line(1, 1), line(2, 3), line(3, 1), line(4, 1)}})
	wantCode(t, "Reserve", err, codes.FailedPrecondition, "sold out: book 2 (2 left), book 3 (0 left), book 4 (0 left)")
	var subjects []string
	for _, d := range status.Convert(err).Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok {
			for _, v := range pf.GetViolations() {
				subjects = append(subjects, v.GetType()+" "+v.GetSubject()+" "+v.GetDescription())
			}
		}
	}
	if want := []string{"STOCK book/2 2", "STOCK book/3 0", "STOCK book/4 0"}; strings.Join(subjects, "; ") != strings.Join(want, "; ") {
		t.Errorf("Reserve: violations %q, want %q", subjects, want)
	}
	// Nothing held, not even the line that could have been.
	wantStock(t, client, stock(1, 5, 5, 0), stock(2, 2, 2, 0))
}

// TestLastCopies has many buyers reserve a book's last copies at once,
// through real gRPC, on a database file: exactly as many succeed as there
// are copies, the others are told "sold out", and the stock ends at 0,
// never below.
func TestLastCopies(t *testing.T) {
	for _, tc := range []struct {
		copies, buyers int
	}{
		{1, 50},
		{3, 20},
	} {
		t.Run(fmt.Sprintf("%d copies, %d buyers", tc.copies, tc.buyers), func(t *testing.T) {
			ctx := testContext(t)
			client, _ := runInventory(t, filepath.Join(t.TempDir(), "inventory.db"))
			setStock(t, client, 7, int32(tc.copies))

			var (
				wg       sync.WaitGroup
				start    = make(chan struct{})
				mu       sync.Mutex
				won      []string
				soldOut  int
				failures []error
			)
			for i := range tc.buyers {
				wg.Go(func() {
					<-start
					resp, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: fmt.Sprintf("buyer-%d", i), Lines: []*inventoryv1.StockLine{line(7, 1)}})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won = append(won, resp.GetReservation().GetId())
					case status.Code(err) == codes.FailedPrecondition && strings.Contains(status.Convert(err).Message(), "sold out: book 7 (0 left)"):
						soldOut++
					default:
						failures = append(failures, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if len(won) != tc.copies || soldOut != tc.buyers-tc.copies || len(failures) > 0 {
				t.Fatalf("%d buyers for %d copies: %d reserved, %d sold out, other errors %v; want %d and %d",
					tc.buyers, tc.copies, len(won), soldOut, failures, tc.copies, tc.buyers-tc.copies)
			}
			wantStock(t, client, stock(7, 0, int32(tc.copies), int32(tc.copies)))
			for _, id := range won {
				if _, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: id}); err != nil {
					t.Errorf("Commit(%s): %v", id, err)
				}
			}
			wantStock(t, client, stock(7, 0, 0, 0))
		})
	}
}

// TestExpiry moves the clock past a reservation's expiry: from that
// instant its copies are available again, before any sweep; it can no
// longer be committed, its release is not an error, and the sweep
// records it as expired and counts it.
func TestExpiry(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	client, svc, clock := serveClock(t, m)
	setStock(t, client, 1, 2)

	resp, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "slow", Lines: []*inventoryv1.StockLine{line(1, 2)}, Ttl: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	slow := resp.GetReservation()
	clock.Advance(time.Minute - time.Millisecond)
	wantStock(t, client, stock(1, 0, 2, 2))
	clock.Advance(time.Millisecond)
	wantStock(t, client, stock(1, 2, 2, 0))

	_, err = client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: slow.GetId()})
	wantCode(t, "Commit(expired)", err, codes.FailedPrecondition, "expired at 2026-03-01T12:01:00Z")
	if r := reserve(t, client, "slow", line(1, 2)); r.GetState() != expired {
		t.Errorf("Reserve retried after the expiry = %v, want it expired", r)
	}

	// Another checkout takes the copies; the sweep then records the first
	// as expired, and leaves the second's hold.
	fast := reserve(t, client, "fast", line(1, 2))
	if n, _, err := svc.Sweep(ctx); n != 1 || err != nil {
		t.Errorf("Sweep = %d expired, %v; want 1", n, err)
	}
	if n, _, err := svc.Sweep(ctx); n != 0 || err != nil {
		t.Errorf("Sweep again = %d expired, %v; want 0", n, err)
	}
	wantStock(t, client, stock(1, 0, 2, 2))
	r, err := client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: slow.GetId()})
	if err != nil || r.GetReservation().GetState() != expired {
		t.Errorf("Release(expired) = %v, %v; want it expired, no error", r, err)
	}
	if _, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: fast.GetId()}); err != nil {
		t.Fatalf("Commit(fast): %v", err)
	}
	wantStock(t, client, stock(1, 0, 0, 0))

	// A reservation released after its expiry, before any sweep, is
	// recorded as expired.
	setStock(t, client, 1, 1)
	late := reserve(t, client, "late", line(1, 1))
	clock.Advance(inventory.DefaultTTL)
	r, err = client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: late.GetId()})
	if err != nil || r.GetReservation().GetState() != expired {
		t.Errorf("Release(expired, not swept) = %v, %v; want it expired", r, err)
	}
	if n, _, err := svc.Sweep(ctx); n != 0 || err != nil {
		t.Errorf("Sweep = %d expired, %v; want 0: the release recorded it", n, err)
	}

	// A week after they ended, the records go, and their keys with them.
	clock.Advance(inventory.RecordTTL + time.Second)
	if _, deleted, err := svc.Sweep(ctx); deleted != 3 || err != nil {
		t.Errorf("Sweep a week later = %d deleted, %v; want 3", deleted, err)
	}
	_, err = client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: fast.GetId()})
	wantCode(t, "Commit(deleted)", err, codes.NotFound, "no reservation")

	wantMetrics(t, m,
		`bookshop_inventory_reservations_total{outcome="held"} 3`,
		`bookshop_inventory_reservations_total{outcome="replayed"} 1`,
		`bookshop_inventory_reservations_total{outcome="committed"} 1`,
		`bookshop_inventory_reservations_total{outcome="expired"} 2`,
		`bookshop_inventory_reservations_total{outcome="released"} 0`,
		`bookshop_inventory_reservations_total{outcome="sold_out"} 0`,
		`bookshop_inventory_stockouts_total 3`,
	)
}

// wantMetrics fails the test unless the metrics of m have each line.
func wantMetrics(tb testing.TB, m *telemetry.Metrics, lines ...string) {
	tb.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range lines {
		if !strings.Contains(string(b), "\n"+l+"\n") {
			tb.Errorf("metrics lack %q", l)
		}
	}
}

// TestSetStock checks that an operator cannot set fewer copies than the
// live reservations hold, and can once they have ended.
func TestSetStock(t *testing.T) {
	ctx := testContext(t)
	client, _, clock := serveClock(t, nil)
	setStock(t, client, 1, 5)
	reserve(t, client, "k", line(1, 3))

	_, err := client.SetStock(ctx, &inventoryv1.SetStockRequest{BookId: 1, OnHand: 2})
	wantCode(t, "SetStock(below the holds)", err, codes.FailedPrecondition, "checkouts in progress hold 3 copies: set 3 or more")
	resp, err := client.SetStock(ctx, &inventoryv1.SetStockRequest{BookId: 1, OnHand: 3})
	if err != nil || !proto.Equal(resp.GetStock(), stock(1, 0, 3, 3)) {
		t.Errorf("SetStock(3) = %v, %v; want 0 available, 3 on hand, 3 held", resp, err)
	}
	clock.Advance(inventory.DefaultTTL)
	resp, err = client.SetStock(ctx, &inventoryv1.SetStockRequest{BookId: 1, OnHand: 0})
	if err != nil || !proto.Equal(resp.GetStock(), stock(1, 0, 0, 0)) {
		t.Errorf("SetStock(0) after the hold expired = %v, %v; want all 0", resp, err)
	}
}

// TestInvalidRequests checks the refusals of malformed requests, with
// what is wrong.
func TestInvalidRequests(t *testing.T) {
	ctx := testContext(t)
	client, _, _ := serveClock(t, nil)
	ok := []*inventoryv1.StockLine{line(1, 1)}
	for _, tc := range []struct {
		name string
		call func() error
		part string
	}{
		{"GetStock of nothing", func() error { _, err := client.GetStock(ctx, &inventoryv1.GetStockRequest{}); return err }, "0 ids"},
		{"GetStock of 101 books", func() error {
			_, err := client.GetStock(ctx, &inventoryv1.GetStockRequest{BookIds: make([]int32, 101)})
			return err
		}, "101 ids: ask for 1 to 100"},
		{"Reserve without a key", func() error {
			_, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{Lines: ok})
			return err
		}, `idempotency key "": want 1 to 64 characters`},
		{"Reserve nothing", func() error {
			_, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "k"})
			return err
		}, "0 lines"},
		{"Reserve 11 copies", func() error {
			_, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "k", Lines: []*inventoryv1.StockLine{line(1, 11)}})
			return err
		}, "book 1: quantity 11: want 1 to 10"},
		{"Reserve for a day", func() error {
			_, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "k", Lines: ok, Ttl: durationpb.New(24 * time.Hour)})
			return err
		}, "ttl 24h0m0s: want 1s to 1h0m0s"},
		{"Reserve for a bad duration", func() error {
			_, err := client.Reserve(ctx, &inventoryv1.ReserveRequest{IdempotencyKey: "k", Lines: ok, Ttl: &durationpb.Duration{Seconds: 1, Nanos: -1}})
			return err
		}, "ttl: not a valid duration"},
		{"Commit a bad id", func() error {
			_, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: "r 1"})
			return err
		}, `reservation id "r 1": only letters`},
		{"Release no id", func() error { _, err := client.Release(ctx, &inventoryv1.ReleaseRequest{}); return err }, "reservation id"},
		{"SetStock negative", func() error {
			_, err := client.SetStock(ctx, &inventoryv1.SetStockRequest{BookId: 1, OnHand: -1})
			return err
		}, "-1 copies on hand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.name, tc.call(), codes.InvalidArgument, tc.part)
		})
	}
}

// TestRestart stops the Inventory and runs it again on its file: the
// stock, the holds and the keys are all there.
func TestRestart(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "inventory.db")
	client, stop := runInventory(t, path)
	setStock(t, client, 1, 4, 2, 2)
	a := reserve(t, client, "a", line(1, 1))
	b := reserve(t, client, "b", line(1, 2), line(2, 2))
	if _, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: a.GetId()}); err != nil {
		t.Fatal(err)
	}
	stop()

	client, _ = runInventory(t, path)
	wantStock(t, client, stock(1, 1, 3, 2), stock(2, 0, 2, 2))
	if again := reserve(t, client, "b", line(1, 2), line(2, 2)); !proto.Equal(again, b) {
		t.Errorf("Reserve(b) after a restart = %v, want %v", again, b)
	}
	if r := reserve(t, client, "a", line(1, 1)); r.GetId() != a.GetId() || r.GetState() != committed {
		t.Errorf("Reserve(a) after a restart = %v, want %s committed", r, a.GetId())
	}
	if _, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: b.GetId()}); err != nil {
		t.Fatalf("Commit(b) after a restart: %v", err)
	}
	wantStock(t, client, stock(1, 1, 1, 0), stock(2, 0, 0, 0))
}

// TestSeededOnce runs the Inventory on a new file with its default seed:
// the built-in books have stock; a restart does not seed again over what
// an operator set.
func TestSeededOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.db")
	run := func() (inventoryv1.InventoryServiceClient, func()) {
		cfg := inventory.DefaultConfig()
		cfg.DB = path
		return runWith(t, cfg)
	}
	client, stop := run()
	seed := inventory.SeedStock()
	wantStock(t, client, stock(1, int32(seed[1]), int32(seed[1]), 0), stock(12, 0, 0, 0), stock(46, 0, 0, 0))
	setStock(t, client, 1, 40)
	stop()
	client, _ = run()
	wantStock(t, client, stock(1, 40, 40, 0))
}
