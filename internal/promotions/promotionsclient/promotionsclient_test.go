package promotionsclient_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

var discard = slog.New(slog.DiscardHandler)

// newClient runs a real Promotions service as cfg says, its database in
// memory, until the test ends, and returns a client of it.
func newClient(tb testing.TB, cfg promotions.Config) *promotionsclient.Client {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DB = ":memory:"
	if cfg.Promotion.Rule == nil { // the campaign these tests are of, whichever the shop runs now
		cfg.Promotion = promotions.BuyTwoGetOneFree()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- promotions.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return promotionsclient.New(rpctest.Dial(tb, lis.Addr().String()), 5*time.Second)
}

func eur(units int64) bookshop.Money { return bookshop.Money{Units: units, Currency: "EUR"} }

// TestClient runs the kernel's Promotions interface through the client
// against the real server: the offer, a price, a claim and its retry, a
// release, a confirmation, and the errors in the kernel's codes.
func TestClient(t *testing.T) {
	ctx := rpctest.Context(t)
	var p bookshop.Promotions = newClient(t, promotions.DefaultConfig())

	o, err := p.Offer(ctx, 0)
	if err != nil || !o.Active || !o.Eligible || o.Code != promotionsclient.BuyTwoGetOneFreeCode || o.Name != promotionsclient.Name(o.Code) || o.Banner != promotions.Banner || o.MinBooks != 3 ||
		o.Starts.IsZero() || o.Starts.After(time.Now()) || !o.Ends.IsZero() || o.Starts.Location() != time.UTC {
		t.Errorf("Offer(guest) = %+v, %v; want it active and eligible, named, from the service's start in UTC, without end", o, err)
	}

	lines := []bookshop.PromoLine{
		{BookID: 3, UnitPrice: eur(1299), Quantity: 2, Title: "Dune"},
		{BookID: 8, UnitPrice: eur(450), Quantity: 1, Title: "Emma"},
		{BookID: 9, Quantity: 1}, // no price: counts for nothing
	}
	want := bookshop.Discount{Amount: eur(450), BookID: 8, Code: promotionsclient.BuyTwoGetOneFreeCode, Label: "Buy two, get one free: one Emma free"}
	if d, ok, err := p.Price(ctx, 0, lines); err != nil || !ok || d != want {
		t.Errorf("Price(guest) = %+v, %v, %v; want %+v", d, ok, err, want)
	}
	if d, ok, err := p.Price(ctx, 4, lines[1:]); err != nil || ok || d != (bookshop.Discount{}) {
		t.Errorf("Price(4, one book) = %+v, %v, %v; want none", d, ok, err)
	}

	for range 2 { // the second is a retry
		if d, outcome, err := p.Claim(ctx, 4, "checkout-1", lines); err != nil || outcome != bookshop.ClaimGranted || d != want {
			t.Errorf("Claim(4, checkout-1) = %+v, %v, %v; want %+v", d, outcome, err, want)
		}
	}
	if d, outcome, err := p.Claim(ctx, 4, "checkout-2", lines); err != nil || outcome != bookshop.ClaimHeld || d != (bookshop.Discount{}) {
		t.Errorf("Claim(4, checkout-2) while checkout-1 holds it = %+v, %v, %v; want none, held", d, outcome, err)
	}
	if err := p.Release(ctx, 4, "checkout-1"); err != nil {
		t.Errorf("Release(4, checkout-1): %v", err)
	}
	if _, outcome, err := p.Claim(ctx, 4, "checkout-2", lines); err != nil || outcome != bookshop.ClaimGranted {
		t.Errorf("Claim(4, checkout-2) after the release = %v, %v; want it claimed", outcome, err)
	}
	for range 2 {
		if err := p.Confirm(ctx, 4, "checkout-2"); err != nil {
			t.Errorf("Confirm(4, checkout-2): %v", err)
		}
	}
	if o, err := p.Offer(ctx, 4); err != nil || o.Eligible {
		t.Errorf("Offer(4) after an order used it = %+v, %v; want not eligible", o, err)
	}
	if d, outcome, err := p.Claim(ctx, 4, "checkout-3", lines); err != nil || outcome != bookshop.ClaimUsed || d != (bookshop.Discount{}) {
		t.Errorf("Claim(4, checkout-3) after an order used it = %+v, %v, %v; want none, used", d, outcome, err)
	}
	if _, outcome, err := p.Claim(ctx, 5, "checkout-1", lines[1:]); err != nil || outcome != bookshop.ClaimNotEarned {
		t.Errorf("Claim(5, one book) = %v, %v; want not earned", outcome, err)
	}

	for _, tc := range []struct {
		call string
		err  error
		code bookshop.Code
	}{
		{"Offer(-1)", func() error { _, err := p.Offer(ctx, -1); return err }(), bookshop.Invalid},
		{"Price(a book twice)", func() error { _, _, err := p.Price(ctx, 1, append(lines, lines[0])); return err }(), bookshop.Invalid},
		{"Claim(guest)", func() error { _, _, err := p.Claim(ctx, 0, "k", lines); return err }(), bookshop.Invalid},
		{"Confirm(never claimed)", p.Confirm(ctx, 4, "checkout-9"), bookshop.NotFound},
		{"Confirm(released, and used since)", p.Confirm(ctx, 4, "checkout-1"), bookshop.Conflict},
		{"Release(confirmed: its checkout undone)", p.Release(ctx, 4, "checkout-2"), ""},
		{"Release(never claimed)", p.Release(ctx, 4, "checkout-9"), ""},
	} {
		if got := bookshop.ErrorCode(tc.err); tc.code == "" && tc.err != nil || tc.code != "" && got != tc.code {
			t.Errorf("%s = %v, want code %q", tc.call, tc.err, tc.code)
		}
	}
	if o, err := p.Offer(ctx, 4); err != nil || !o.Eligible {
		t.Errorf("Offer(4) after the confirmed claim was released = %+v, %v; want eligible again", o, err)
	}
}

// TestClientCampaign checks that the client carries the campaign's end,
// and that outside it nothing is given.
func TestClientCampaign(t *testing.T) {
	ctx := rpctest.Context(t)
	cfg := promotions.DefaultConfig()
	cfg.Starts = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg.Ends = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	p := newClient(t, cfg)
	o, err := p.Offer(ctx, 1)
	if err != nil || o.Active || !o.Eligible || !o.Starts.Equal(cfg.Starts) || !o.Ends.Equal(cfg.Ends) {
		t.Errorf("Offer(1) after the campaign = %+v, %v; want inactive, from %v to %v", o, err, cfg.Starts, cfg.Ends)
	}
	lines := []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(100), Quantity: 3}}
	if _, outcome, err := p.Claim(ctx, 1, "k", lines); outcome != bookshop.ClaimInactive || err != nil {
		t.Errorf("Claim after the campaign = %v, %v; want inactive", outcome, err)
	}
}

// TestClientUnavailable checks that a service that is down is Unavailable
// to the caller, which shows no promotion rather than failing.
func TestClientUnavailable(t *testing.T) {
	ctx := rpctest.Context(t)
	p := promotionsclient.New(rpctest.Dial(t, rpctest.ClosedAddr(t)), time.Second)
	if _, err := p.Offer(ctx, 1); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Offer from a service that is down = %v, want Unavailable", err)
	}
	if _, _, err := p.Claim(ctx, 1, "k", nil); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Claim from a service that is down = %v, want Unavailable", err)
	}
}

// TestConversions checks that the conversions keep every field, and that
// none (the zero Discount, a zero time) stays none.
func TestConversions(t *testing.T) {
	lines := []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(1299), Quantity: 2, Title: "Dune"}, {BookID: 2, Quantity: 1}}
	if got := promotionsclient.LinesFromProto(promotionsclient.LinesToProto(lines)); len(got) != 2 || got[0] != lines[0] || got[1] != lines[1] {
		t.Errorf("lines through their messages = %+v, want %+v", got, lines)
	}
	d := bookshop.Discount{Amount: eur(450), BookID: 8, Code: promotionsclient.BuyTwoGetOneFreeCode, Label: "Buy two, get one free: one Emma free"}
	if got, ok := promotionsclient.DiscountFromProto(promotionsclient.DiscountToProto(d)); !ok || got != d {
		t.Errorf("a discount through its message = %+v, %v; want %+v", got, ok, d)
	}
	if m := promotionsclient.DiscountToProto(bookshop.Discount{}); m != nil {
		t.Errorf("DiscountToProto(none) = %v, want nil", m)
	}
	o := bookshop.Offer{Code: "c", Name: "n", Banner: "b", Active: true, Starts: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), MinBooks: 3}
	if got := promotionsclient.OfferFromProto(promotionsclient.OfferToProto(o)); got != o {
		t.Errorf("an offer through its message = %+v, want %+v", got, o)
	}
}

// TestClaimOutcomes checks that every outcome of a claim goes through
// Claim's answer and comes back as it was, and that an answer refused
// without a reason (a service from before the reasons) is ClaimRefused.
func TestClaimOutcomes(t *testing.T) {
	d := bookshop.Discount{Amount: eur(450), BookID: 8, Code: promotionsclient.BuyTwoGetOneFreeCode, Label: "Buy two, get one free: one Emma free"}
	for _, outcome := range []bookshop.ClaimOutcome{bookshop.ClaimGranted, bookshop.ClaimInactive, bookshop.ClaimNotEarned, bookshop.ClaimUsed, bookshop.ClaimHeld, bookshop.ClaimRefused} {
		want := bookshop.Discount{}
		if outcome == bookshop.ClaimGranted {
			want = d
		}
		m := promotionsclient.ClaimToProto(d, outcome)
		if got, back := promotionsclient.ClaimFromProto(m); got != want || back != outcome {
			t.Errorf("ClaimFromProto(ClaimToProto(%v)) = %+v, %v; want %+v, %v", outcome, got, back, want, outcome)
		}
	}
	if _, outcome := promotionsclient.ClaimFromProto(&promotionsv1.ClaimResponse{}); outcome != bookshop.ClaimRefused {
		t.Errorf("ClaimFromProto(not claimed, no reason) = %v, want %v", outcome, bookshop.ClaimRefused)
	}
}

// TestName checks that the promotions the shop ran are named, the one
// the service runs as its offer names it, and others generically.
func TestName(t *testing.T) {
	if got, want := promotionsclient.Name(promotionsclient.BuyTwoGetOneFreeCode), promotions.BuyTwoGetOneFree().Name; got != want || got != "Buy two, get one free" {
		t.Errorf("Name(%q) = %q, want %q, the service's", promotionsclient.BuyTwoGetOneFreeCode, got, want)
	}
	for _, code := range []string{"", "not a code of any campaign"} {
		if got := promotionsclient.Name(code); got != "Special offer" {
			t.Errorf("Name(%q) = %q, want %q", code, got, "Special offer")
		}
	}
}

// deniedOffers is a PromotionsService from before its callers were let
// read the offer: GetOffer is refused as a policy refuses a caller it
// does not name; the other methods are not served at all.
type deniedOffers struct {
	promotionsv1.UnimplementedPromotionsServiceServer
}

func (deniedOffers) GetOffer(context.Context, *promotionsv1.GetOfferRequest) (*promotionsv1.GetOfferResponse, error) {
	return nil, status.Error(codes.PermissionDenied, `identity "checkout" may not call /bookshop.promotions.v1.PromotionsService/GetOffer`)
}

// TestOutdated checks which failed calls are a Promotions service older
// than its caller, over real gRPC: a method its policy does not open to
// the caller (PERMISSION_DENIED) or that it does not have (UNIMPLEMENTED)
// is; a service that cannot be reached, or a malformed request, is not.
func TestOutdated(t *testing.T) {
	ctx := rpctest.Context(t)
	addr := rpctest.Start(t, func(srv *rpc.Server, _ *slog.Logger) {
		promotionsv1.RegisterPromotionsServiceServer(srv, deniedOffers{})
	})
	old := promotionsclient.New(rpctest.Dial(t, addr), 5*time.Second)
	_, denied := old.Offer(ctx, 0)
	_, _, unimplemented := old.Price(ctx, 0, nil)
	down := promotionsclient.New(rpctest.Dial(t, rpctest.ClosedAddr(t)), time.Second)
	_, unreachable := down.Offer(ctx, 0)
	_, invalid := newClient(t, promotions.DefaultConfig()).Offer(ctx, -1)
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"GetOffer denied by an older policy", denied, true},
		{"PriceCart not served", unimplemented, true},
		{"a service down", unreachable, false},
		{"a malformed request", invalid, false},
		{"no error", nil, false},
	} {
		if got := promotionsclient.Outdated(tc.err); got != tc.want {
			t.Errorf("%s: Outdated(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
