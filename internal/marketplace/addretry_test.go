package marketplace_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
)

// answerLosingCart stands between the Marketplace and the Cart: it passes
// each AddItem on, and loses the answer of the first that the Cart made,
// answering UNAVAILABLE instead, as a Cart does whose database connection
// broke at the commit. The Marketplace's gRPC client retries UNAVAILABLE.
type answerLosingCart struct {
	cartv1.UnimplementedCartServiceServer
	cart  cartv1.CartServiceClient
	calls atomic.Int32
	lost  atomic.Bool
}

func (c *answerLosingCart) GetCart(ctx context.Context, req *cartv1.GetCartRequest) (*cartv1.GetCartResponse, error) {
	return c.cart.GetCart(ctx, req)
}

func (c *answerLosingCart) CountItems(ctx context.Context, req *cartv1.CountItemsRequest) (*cartv1.CountItemsResponse, error) {
	return c.cart.CountItems(ctx, req)
}

func (c *answerLosingCart) AddItem(ctx context.Context, req *cartv1.AddItemRequest) (*cartv1.AddItemResponse, error) {
	c.calls.Add(1)
	resp, err := c.cart.AddItem(ctx, req)
	if err == nil && c.lost.CompareAndSwap(false, true) {
		return nil, status.Error(codes.Unavailable, "the connection broke at the commit")
	}
	return resp, err
}

// TestAddToCartRetriedAddsOnce posts the add-to-cart form as a browser
// without the page's script sends it, with no idempotency key, to a Cart
// whose first answer is lost: the gRPC client's retry reaches the Cart
// with the key the Marketplace made for the call, and the book is added
// once.
func TestAddToCartRetriedAddsOnce(t *testing.T) {
	losing := &answerLosingCart{}
	shop := startShopAround(t, func(catalogAddr string) *shopServices {
		s := startShopServicesWith(t, catalogAddr, promotions.BuyTwoGetOneFree())
		losing.cart = cartv1.NewCartServiceClient(rpctest.Dial(t, s.cartAddr))
		return s
	}, func(o *marketplace.Options) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		cartv1.RegisterCartServiceServer(srv, losing)
		healthpb.RegisterHealthServer(srv, health.NewServer())
		served := make(chan error, 1)
		go func() { served <- srv.Serve(lis) }()
		t.Cleanup(func() {
			srv.Stop()
			if err := <-served; err != nil {
				t.Errorf("the Cart between: Serve: %v", err)
			}
		})
		conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{}) // Bookshop's client, with its retries
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		o.Carts = cartclient.New(conn, 10*time.Second)
	})
	b := newShopper(t, shop.site)
	r := b.post("/cart/items", url.Values{"book": {"2"}}, "Accept", "application/json")
	if r.status != http.StatusOK || !strings.Contains(r.body, `"count":1`) {
		t.Errorf("POST /cart/items without a key, its first answer lost: status %d, %s; want 200 and count 1", r.status, r.body)
	}
	if n := losing.calls.Load(); n != 2 {
		t.Errorf("the Cart got %d AddItem calls, want 2: the call and its retry", n)
	}
	if got := headerCount(t, b.get("/cart").body); got != "1" {
		t.Errorf("the cart holds %q after one add, want 1", got)
	}
}
