package checkoutclient_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// TestConvert checks that quotes and requests come back from their
// messages as they went.
func TestConvert(t *testing.T) {
	for _, q := range []bookshop.Quote{
		{
			Lines: []bookshop.OrderLine{
				{BookID: 2, Title: "Dune", UnitPrice: eur(1099), Quantity: 3, Total: eur(3297)},
				{BookID: 9, Title: "Gone", Quantity: 1}, // no longer sold: no price
			},
			Subtotal: eur(3297), Discount: eur(0), Total: eur(3297),
			Short: []bookshop.SoldOut{{BookID: 2, Available: 1}, {BookID: 9, Available: 0}},
		},
		{
			Lines: []bookshop.OrderLine{
				{BookID: 1, Title: "The Maltese Falcon", UnitPrice: eur(1250), Quantity: 2, Total: eur(2500)},
				{BookID: 2, Title: "Dune", UnitPrice: eur(1099), Quantity: 1, Total: eur(1099)},
			},
			Subtotal: eur(3599), Discount: eur(1099), Total: eur(2500),
			FreeBookID: 2, Promotions: []string{promotionsclient.BuyTwoGetOneFreeCode}, // the promotion's
			DiscountLabel: "Buy two, get one free: one Dune free",
		},
		{Lines: []bookshop.OrderLine{}}, // an empty cart
	} {
		if got := checkoutclient.QuoteFromProto(checkoutclient.QuoteToProto(q)); !reflect.DeepEqual(got, q) {
			t.Errorf("QuoteFromProto(QuoteToProto(%+v)) = %+v", q, got)
		}
	}
	req := bookshop.PlaceOrder{
		Key: "k-1", CustomerID: 7, CartID: "c-7", Total: eur(3297),
		Shipping: bookshop.Address{Name: "Ada", Line1: "1 Main St", Line2: "Flat 3", City: "London", PostalCode: "N1", Country: "GB"},
		Card:     bookshop.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2040, CVC: "123", Name: "Ada Lovelace"},
	}
	if got := checkoutclient.PlaceOrderFromProto(checkoutclient.PlaceOrderToProto(req)); !reflect.DeepEqual(got, req) {
		t.Errorf("PlaceOrderFromProto(PlaceOrderToProto(%+v)) = %+v", req, got)
	}
	o := bookshop.Order{
		ID: "o_abc", CustomerID: 7, Lines: []bookshop.OrderLine{{BookID: 2, Title: "Dune", UnitPrice: eur(1099), Quantity: 1, Total: eur(1099)}},
		Subtotal: eur(1099), Discount: eur(0), Total: eur(1099), PaymentID: "ch_1", Shipping: req.Shipping, State: "placed",
		Created: time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC), Updated: time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
	}
	if got := checkoutclient.OrderFromProto(checkoutclient.OrderToProto(o)); !reflect.DeepEqual(got, o) {
		t.Errorf("OrderFromProto(OrderToProto(%+v)) = %+v", o, got)
	}
}

// TestCheckoutDown checks that a Checkout that cannot be reached answers
// Unavailable: not known to have failed.
func TestCheckoutDown(t *testing.T) {
	conn, err := rpc.Dial(rpctest.ClosedAddr(t), rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := checkoutclient.New(conn, time.Second)
	ctx := rpctest.Context(t)
	if _, err := client.Quote(ctx, 1, "c-1"); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Quote, the Checkout down: %v, want Unavailable", err)
	}
	if _, err := client.Place(ctx, bookshop.PlaceOrder{Key: "k"}); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Place, the Checkout down: %v, want Unavailable", err)
	}
}
