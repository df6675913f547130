// Package inventoryclient is the Inventory service's contract in Go terms:
// a client of bookshop.inventory.v1.InventoryService that speaks the
// kernel's types ([bookshop.Inventory]), converting protobuf messages and
// status codes at the edge. Checkout, the Marketplace and the bookshop
// stock command call the Inventory through it; it imports nothing of the
// service's own internals.
package inventoryclient

import (
	"context"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the Inventory's gRPC port: where callers look for it when
// its host names no port.
const DefaultPort = 50090

// MaxStockIDs is the most books one GetStock call asks about. The client's
// Stock and Levels ask in batches of it, so that they take any number.
const MaxStockIDs = 100

// MaxOnHand is the most copies on hand a book may have (SetStock).
const MaxOnHand = 1_000_000

// Level is the stock of one book, as an operator reads it.
type Level struct {
	BookID int32
	// OnHand is the copies on hand: what SetStock set, less what the
	// commits have taken since.
	OnHand int
	// Held is the copies that live reservations hold.
	Held int
	// Available is OnHand less Held, never below 0: what can be bought.
	Available int
}

// Client is a [bookshop.Inventory] that calls InventoryService over gRPC.
// It is safe for concurrent use.
type Client struct {
	client  inventoryv1.InventoryServiceClient
	timeout time.Duration
}

var _ bookshop.Inventory = (*Client)(nil)

// New returns a client that calls InventoryService over conn. Calls whose
// context has no deadline get timeout.
func New(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	return &Client{client: inventoryv1.NewInventoryServiceClient(conn), timeout: timeout}
}

// Stock implements [bookshop.Inventory]: the copies of each of ids that
// can be bought now, 0 for a book the Inventory has no record of. It asks
// for MaxStockIDs books a call, each id once; no ids ask nothing. Errors:
// Invalid (an id under 1), Unavailable, Internal.
func (c *Client) Stock(ctx context.Context, ids []int32) (map[int32]int, error) {
	levels, err := c.Levels(ctx, ids)
	if err != nil {
		return nil, err
	}
	stock := make(map[int32]int, len(levels))
	for _, l := range levels {
		stock[l.BookID] = l.Available
	}
	return stock, nil
}

// Levels returns the stock of each of ids, each once, in the order of
// ids: on hand, held and available. It asks for MaxStockIDs books a call;
// no ids ask nothing. Errors: Invalid (an id under 1), Unavailable,
// Internal.
func (c *Client) Levels(ctx context.Context, ids []int32) ([]Level, error) {
	ids = unique(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	levels := make([]Level, 0, len(ids))
	for batch := range slices.Chunk(ids, MaxStockIDs) {
		resp, err := c.client.GetStock(ctx, &inventoryv1.GetStockRequest{BookIds: batch})
		if err != nil {
			return nil, rpc.FromStatus(err)
		}
		for _, s := range resp.GetStock() {
			levels = append(levels, LevelFromProto(s))
		}
	}
	return levels, nil
}

// Reserve implements [bookshop.Inventory], sending key as the request's
// idempotency_key: the retries of the connection (UNAVAILABLE) and the
// caller's own hold at most once. A ttl of 0 asks for the service's own
// setting. Errors: Invalid; Conflict, as a *SoldOutError (see SoldOutOf)
// when books have too few copies, or for a key that made a reservation of
// other lines; Unavailable; Internal.
func (c *Client) Reserve(ctx context.Context, key string, lines []bookshop.StockLine, ttl time.Duration) (bookshop.Reservation, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	req := &inventoryv1.ReserveRequest{IdempotencyKey: key, Lines: LinesToProto(lines)}
	if ttl != 0 {
		req.Ttl = durationpb.New(ttl)
	}
	resp, err := c.client.Reserve(ctx, req)
	if err != nil {
		return bookshop.Reservation{}, fromStatus(err)
	}
	return ReservationFromProto(resp.GetReservation()), nil
}

// Commit implements [bookshop.Inventory]. Errors: Invalid, NotFound,
// Conflict (released or expired), Unavailable, Internal.
func (c *Client) Commit(ctx context.Context, id string) (bookshop.Reservation, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: id})
	if err != nil {
		return bookshop.Reservation{}, rpc.FromStatus(err)
	}
	return ReservationFromProto(resp.GetReservation()), nil
}

// Release implements [bookshop.Inventory]. Errors: Invalid, NotFound,
// Conflict (committed), Unavailable, Internal.
func (c *Client) Release(ctx context.Context, id string) (bookshop.Reservation, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: id})
	if err != nil {
		return bookshop.Reservation{}, rpc.FromStatus(err)
	}
	return ReservationFromProto(resp.GetReservation()), nil
}

// SetStock implements [bookshop.Inventory] (identity admin). Errors:
// Invalid, Conflict (fewer than the reservations hold), Forbidden,
// Unavailable, Internal.
func (c *Client) SetStock(ctx context.Context, bookID int32, onHand int) error {
	_, err := c.SetStockLevel(ctx, bookID, onHand)
	return err
}

// SetStockLevel is SetStock, and returns the book's stock once set.
func (c *Client) SetStockLevel(ctx context.Context, bookID int32, onHand int) (Level, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.SetStock(ctx, &inventoryv1.SetStockRequest{BookId: bookID, OnHand: rpc.Int32(onHand)})
	if err != nil {
		return Level{}, rpc.FromStatus(err)
	}
	return LevelFromProto(resp.GetStock()), nil
}

// unique returns ids without repeats, in the order each first appears.
func unique(ids []int32) []int32 {
	out := make([]int32, 0, len(ids))
	seen := make(map[int32]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
