package inventoryclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

var discard = slog.New(slog.DiscardHandler)

// newClient runs a real Inventory, its stock in memory and unseeded, until
// the test ends, and returns a client of it.
func newClient(tb testing.TB) *inventoryclient.Client {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := inventory.DefaultConfig()
	cfg.DB, cfg.Seed = ":memory:", nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- inventory.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return inventoryclient.New(rpctest.Dial(tb, lis.Addr().String()), 5*time.Second)
}

func TestClient(t *testing.T) {
	ctx := rpctest.Context(t)
	client := newClient(t)

	level, err := client.SetStockLevel(ctx, 5, 12)
	if want := (inventoryclient.Level{BookID: 5, OnHand: 12, Available: 12}); err != nil || level != want {
		t.Errorf("SetStockLevel(5, 12) = %+v, %v; want %+v", level, err, want)
	}
	if err := client.SetStock(ctx, 6, 1); err != nil {
		t.Fatalf("SetStock(6, 1): %v", err)
	}

	lines := []bookshop.StockLine{{BookID: 5, Quantity: 2}, {BookID: 6, Quantity: 1}}
	before := time.Now()
	r, err := client.Reserve(ctx, "checkout-1", lines, 2*time.Minute)
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	if r.State != "held" || !reflect.DeepEqual(r.Lines, lines) || r.Expires.Before(before.Add(2*time.Minute).Truncate(time.Millisecond)) || r.Expires.After(time.Now().Add(2*time.Minute)) {
		t.Errorf("Reserve = %+v, want %v held for 2 minutes from now", r, lines)
	}
	if again, err := client.Reserve(ctx, "checkout-1", lines, 2*time.Minute); err != nil || !reflect.DeepEqual(again, r) {
		t.Errorf("Reserve retried = %+v, %v; want %+v", again, err, r)
	}

	// Stock asks in batches of 100: 150 ids, some twice, most unknown.
	ids := []int32{5, 6, 5}
	for id := int32(1000); id < 1150; id++ {
		ids = append(ids, id)
	}
	stock, err := client.Stock(ctx, ids)
	if err != nil {
		t.Fatalf("Stock(150 ids): %v", err)
	}
	if len(stock) != 152 || stock[5] != 10 || stock[6] != 0 || stock[1149] != 0 {
		t.Errorf("Stock(150 ids) = %d books, 5: %d, 6: %d; want 152 books, 5: 10, 6: 0", len(stock), stock[5], stock[6])
	}
	levels, err := client.Levels(ctx, []int32{6, 5, 6})
	want := []inventoryclient.Level{{BookID: 6, OnHand: 1, Held: 1}, {BookID: 5, OnHand: 12, Held: 2, Available: 10}}
	if err != nil || !reflect.DeepEqual(levels, want) {
		t.Errorf("Levels(6, 5, 6) = %+v, %v; want %+v", levels, err, want)
	}
	if got, err := client.Stock(ctx, nil); len(got) != 0 || err != nil {
		t.Errorf("Stock(no ids) = %v, %v; want an empty map", got, err)
	}

	c, err := client.Commit(ctx, r.ID)
	if err != nil || c.State != "committed" || c.ID != r.ID {
		t.Errorf("Commit = %+v, %v; want %s committed", c, err, r.ID)
	}
	r2, err := client.Reserve(ctx, "checkout-2", []bookshop.StockLine{{BookID: 5, Quantity: 1}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := client.Release(ctx, r2.ID); err != nil || rel.State != "released" {
		t.Errorf("Release = %+v, %v; want released", rel, err)
	}
	if stock, err := client.Stock(ctx, []int32{5, 6}); err != nil || stock[5] != 10 || stock[6] != 0 {
		t.Errorf("Stock after the commit and the release = %v, %v; want 5: 10, 6: 0", stock, err)
	}
}

// TestClientErrors checks that the server's errors arrive as the kernel's
// codes, with their messages, and that a refusal for stock carries its
// lines.
func TestClientErrors(t *testing.T) {
	ctx := rpctest.Context(t)
	client := newClient(t)
	if err := client.SetStock(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	held, err := client.Reserve(ctx, "k-held", []bookshop.StockLine{{BookID: 1, Quantity: 1}}, 0)
	if err != nil {
		t.Fatal(err)
	}

	_, err = client.Reserve(ctx, "k-short", []bookshop.StockLine{{BookID: 1, Quantity: 2}, {BookID: 2, Quantity: 1}}, 0)
	if want := []bookshop.SoldOut{{BookID: 1, Available: 1}, {BookID: 2}}; !reflect.DeepEqual(inventoryclient.SoldOutOf(err), want) {
		t.Errorf("SoldOutOf(Reserve's error %v) = %v, want %v", err, inventoryclient.SoldOutOf(err), want)
	}
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Reserve's error %v: its gRPC status is lost", err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code bookshop.Code
		msg  string
	}{
		{"sold out", func() error {
			_, err := client.Reserve(ctx, "k-short", []bookshop.StockLine{{BookID: 1, Quantity: 2}}, 0)
			return err
		}, bookshop.Conflict, "sold out: book 1 (1 left)"},
		{"a key reused", func() error {
			_, err := client.Reserve(ctx, "k-held", []bookshop.StockLine{{BookID: 1, Quantity: 2}}, 0)
			return err
		}, bookshop.Conflict, `idempotency key "k-held" made reservation`},
		{"a bad line", func() error {
			_, err := client.Reserve(ctx, "k", []bookshop.StockLine{{BookID: 1, Quantity: 1 << 40}}, 0)
			return err
		}, bookshop.Invalid, "quantity 2147483647"},
		{"a long ttl", func() error {
			_, err := client.Reserve(ctx, "k", []bookshop.StockLine{{BookID: 1, Quantity: 1}}, 2*time.Hour)
			return err
		}, bookshop.Invalid, "ttl 2h0m0s"},
		{"an unknown reservation", func() error { _, err := client.Commit(ctx, "r-NONE"); return err }, bookshop.NotFound, "no reservation r-NONE"},
		{"a committed one released", func() error {
			if _, err := client.Commit(ctx, held.ID); err != nil {
				return err
			}
			_, err := client.Release(ctx, held.ID)
			return err
		}, bookshop.Conflict, "was committed"},
		{"a bad id", func() error { _, err := client.Stock(ctx, []int32{0}); return err }, bookshop.Invalid, "book id 0"},
		{"too many copies", func() error { return client.SetStock(ctx, 1, 1<<40) }, bookshop.Invalid, "2147483647 copies on hand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if bookshop.ErrorCode(err) != tc.code || !strings.Contains(bookshop.ErrorMessage(err), tc.msg) {
				t.Errorf("%v (code %q), want %q with %q", err, bookshop.ErrorCode(err), tc.code, tc.msg)
			}
			if tc.name != "sold out" && inventoryclient.SoldOutOf(err) != nil {
				t.Errorf("SoldOutOf(%v) = %v, want nil", err, inventoryclient.SoldOutOf(err))
			}
		})
	}
}

// TestSoldOutError checks the error as the server makes it: its code,
// message and lines, and the status it is answered with.
func TestSoldOutError(t *testing.T) {
	err := error(inventoryclient.NewSoldOutError([]bookshop.SoldOut{{BookID: 4, Available: 1}, {BookID: 9}}))
	if bookshop.ErrorCode(err) != bookshop.Conflict || bookshop.ErrorMessage(err) != "sold out: book 4 (1 left), book 9 (0 left)" {
		t.Errorf("NewSoldOutError = %v, want a Conflict that names both books", err)
	}
	wrapped := fmt.Errorf("place order: %w", err)
	if got := inventoryclient.SoldOutOf(wrapped); len(got) != 2 || got[0].BookID != 4 {
		t.Errorf("SoldOutOf(wrapped) = %v, want both lines", got)
	}
	st := err.(*inventoryclient.SoldOutError).Status()
	if st.Code() != codes.FailedPrecondition || st.Message() != "sold out: book 4 (1 left), book 9 (0 left)" || len(st.Details()) != 1 {
		t.Errorf("Status() = %v with %d details, want FAILED_PRECONDITION and one PreconditionFailure", st, len(st.Details()))
	}
	if inventoryclient.SoldOutOf(bookshop.Errorf(bookshop.Conflict, "sold out")) != nil {
		t.Error("SoldOutOf(a plain Conflict) is not nil")
	}
}

// loseAnswers is a server interceptor that, while lose is set, lets
// Reserve run (and write) but answers UNAVAILABLE in its place, once, as a
// server would whose answer is lost: it died, or the connection broke,
// after the commit.
func loseAnswers(lose *atomic.Bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err == nil && info.FullMethod == inventoryv1.InventoryService_Reserve_FullMethodName && lose.CompareAndSwap(true, false) {
			return nil, status.Error(codes.Unavailable, "the answer was lost")
		}
		return resp, err
	}
}

// TestReserveRetriedAfterItWasDone loses the answer of a Reserve that was
// done, so that the client's connection retries it (platform/rpc retries
// UNAVAILABLE on every method): the key makes it hold once.
func TestReserveRetriedAfterItWasDone(t *testing.T) {
	ctx := rpctest.Context(t)
	db, err := sqlite.Open(ctx, sqlite.Memory, map[int32]int{3: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var lose atomic.Bool
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		inventoryv1.RegisterInventoryServiceServer(srv, inventory.NewServer(inventory.NewService(db, inventory.Options{}), logger))
	}, grpc.ChainUnaryInterceptor(loseAnswers(&lose)))
	conn, err := rpc.Dial(addr, rpc.ClientConfig{}) // with the retries of every Bookshop client
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := inventoryclient.New(conn, 5*time.Second)

	lose.Store(true)
	r, err := client.Reserve(ctx, "checkout-lost", []bookshop.StockLine{{BookID: 3, Quantity: 2}}, 0)
	if err != nil {
		t.Fatalf("Reserve(its answer lost once) = %v, want the retry's answer", err)
	}
	if lose.Load() {
		t.Fatal("the answer was not lost: nothing was retried")
	}
	levels, err := client.Levels(ctx, []int32{3})
	if want := []inventoryclient.Level{{BookID: 3, OnHand: 5, Held: 2, Available: 3}}; err != nil || !reflect.DeepEqual(levels, want) {
		t.Errorf("Levels after a retried Reserve = %+v, %v; want %+v: held once", levels, err, want)
	}
	if r.State != "held" {
		t.Errorf("Reserve retried = %+v, want held", r)
	}
}

func TestClientInventoryDown(t *testing.T) {
	conn, err := rpc.Dial(rpctest.ClosedAddr(t), rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := inventoryclient.New(conn, time.Second)
	if _, err := client.Stock(rpctest.Context(t), []int32{1}); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Stock, the Inventory down: %v, want Unavailable", err)
	}
	_, err = client.Reserve(rpctest.Context(t), "k", []bookshop.StockLine{{BookID: 1, Quantity: 1}}, 0)
	if bookshop.ErrorCode(err) != bookshop.Unavailable || inventoryclient.SoldOutOf(err) != nil {
		t.Errorf("Reserve, the Inventory down: %v, want Unavailable", err)
	}
}
