package promotions_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionstest"
)

// wantCode fails the test unless err has code, and a message with part.
func wantCode(tb testing.TB, call string, err error, code codes.Code, part string) {
	tb.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), part) {
		tb.Errorf("%s: %v, want %v with %q", call, err, code, part)
	}
}

// eur is an amount in euros' cents, as a message.
func eur(units int64) *moneyv1.Money { return &moneyv1.Money{Units: units, Currency: "EUR"} }

// line is the message of a cart's line: quantity copies of book at
// cents each.
func line(book int32, cents int64, quantity int32) *promotionsv1.CartLine {
	return &promotionsv1.CartLine{BookId: book, UnitPrice: eur(cents), Quantity: quantity}
}

// three is a cart of three books, of which book 2 is the cheapest.
var three = []*promotionsv1.CartLine{line(1, 1299, 1), line(2, 899, 1), line(3, 1500, 1)}

// freeBook2 is three's discount: its lines have no titles.
var freeBook2 = &promotionsv1.Discount{Amount: eur(899), BookId: 2, Code: promotionsclient.BuyTwoGetOneFreeCode, Label: "Buy two, get one free: one book free"}

// recorded is d as a claim's record keeps it, without its words: as
// Confirm answers it.
func recorded(d *promotionsv1.Discount) *promotionsv1.Discount {
	r := proto.CloneOf(d)
	r.Label = ""
	return r
}

// claim claims customer's use under key for lines, failing the test on an
// error.
func claim(tb testing.TB, client promotionsv1.PromotionsServiceClient, customer int32, key string, lines ...*promotionsv1.CartLine) *promotionsv1.ClaimResponse {
	tb.Helper()
	resp, err := client.Claim(testContext(tb), &promotionsv1.ClaimRequest{CustomerId: customer, IdempotencyKey: key, Lines: lines})
	if err != nil {
		tb.Fatalf("Claim(%d, %s): %v", customer, key, err)
	}
	return resp
}

// wantClaim fails the test unless Claim of customer's key over lines
// answers want.
func wantClaim(tb testing.TB, client promotionsv1.PromotionsServiceClient, customer int32, key string, lines []*promotionsv1.CartLine, want *promotionsv1.ClaimResponse) {
	tb.Helper()
	if got := claim(tb, client, customer, key, lines...); !proto.Equal(got, want) {
		tb.Errorf("Claim(%d, %s) = %v, want %v", customer, key, got, want)
	}
}

// claimed and refused are Claim's answers.
func claimed(d *promotionsv1.Discount) *promotionsv1.ClaimResponse {
	return &promotionsv1.ClaimResponse{Claimed: true, Discount: d}
}

func refused(why promotionsv1.ClaimRefusal) *promotionsv1.ClaimResponse {
	return &promotionsv1.ClaimResponse{Refusal: why}
}

// The refusals of a claim.
var (
	inactive  = refused(promotionsv1.ClaimRefusal_CLAIM_REFUSAL_CAMPAIGN_INACTIVE)
	notEarned = refused(promotionsv1.ClaimRefusal_CLAIM_REFUSAL_NOT_EARNED)
	used      = refused(promotionsv1.ClaimRefusal_CLAIM_REFUSAL_ALREADY_USED)
	held      = refused(promotionsv1.ClaimRefusal_CLAIM_REFUSAL_HELD_BY_ANOTHER_CHECKOUT)
)

// confirm confirms customer's claim under key, failing the test on an
// error.
func confirm(tb testing.TB, client promotionsv1.PromotionsServiceClient, customer int32, key string) *promotionsv1.ConfirmResponse {
	tb.Helper()
	resp, err := client.Confirm(testContext(tb), &promotionsv1.ConfirmRequest{CustomerId: customer, IdempotencyKey: key})
	if err != nil {
		tb.Fatalf("Confirm(%d, %s): %v", customer, key, err)
	}
	return resp
}

// release releases customer's claim under key, failing the test on an
// error.
func release(tb testing.TB, client promotionsv1.PromotionsServiceClient, customer int32, key string) {
	tb.Helper()
	if _, err := client.Release(testContext(tb), &promotionsv1.ReleaseRequest{CustomerId: customer, IdempotencyKey: key}); err != nil {
		tb.Fatalf("Release(%d, %s): %v", customer, key, err)
	}
}

// offer returns the offer customer sees, failing the test on an error.
func offer(tb testing.TB, client promotionsv1.PromotionsServiceClient, customer int32) *promotionsv1.Offer {
	tb.Helper()
	resp, err := client.GetOffer(testContext(tb), &promotionsv1.GetOfferRequest{CustomerId: customer})
	if err != nil {
		tb.Fatalf("GetOffer(%d): %v", customer, err)
	}
	return resp.GetOffer()
}

// price returns the discount customer's lines get, nil for none, failing
// the test on an error.
func price(tb testing.TB, client promotionsv1.PromotionsServiceClient, customer int32, lines ...*promotionsv1.CartLine) *promotionsv1.Discount {
	tb.Helper()
	resp, err := client.PriceCart(testContext(tb), &promotionsv1.PriceCartRequest{CustomerId: customer, Lines: lines})
	if err != nil {
		tb.Fatalf("PriceCart(%d): %v", customer, err)
	}
	return resp.GetDiscount()
}

// TestOnce follows one customer through the promotion: the banner and
// the discount before, a checkout that claims it and fails (released),
// one that claims it and places its order (confirmed), and then no banner
// and no discount, for any key; every step answers its retry as the first
// call. Another customer is untouched throughout.
func TestOnce(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	client, _, _ := serveClock(t, bookshop.Campaign{}, m)

	o := offer(t, client, 7)
	if !o.GetActive() || !o.GetEligible() || o.GetCode() != promotionsclient.BuyTwoGetOneFreeCode || o.GetName() != "Buy two, get one free" || !strings.Contains(o.GetBanner(), "One free book per order") || o.GetMinBooks() != 3 ||
		!o.GetStartTime().AsTime().Equal(t0) || o.GetEndTime() != nil {
		t.Errorf("GetOffer(7) = %v, want active and eligible, the name and the banner, from the first start (%v), no end", o, t0)
	}
	if d := price(t, client, 7, three...); !proto.Equal(d, freeBook2) {
		t.Errorf("PriceCart(7, three books) = %v, want %v", d, freeBook2)
	}
	if d := price(t, client, 7, three[:2]...); d != nil {
		t.Errorf("PriceCart(7, two books) = %v, want none", d)
	}

	// A checkout claims, and fails: its release gives the use back.
	wantClaim(t, client, 7, "checkout-a", three, claimed(freeBook2))
	wantClaim(t, client, 7, "checkout-a", three, claimed(freeBook2)) // a retry
	if d := price(t, client, 7, three...); d != nil {
		t.Errorf("PriceCart(7) while checkout-a holds the use = %v, want none", d)
	}
	if o := offer(t, client, 7); !o.GetEligible() {
		t.Errorf("GetOffer(7) while checkout-a holds the use: not eligible; the banner stays until an order uses it")
	}
	wantClaim(t, client, 7, "checkout-b", three, held) // held by checkout-a
	release(t, client, 7, "checkout-a")
	release(t, client, 7, "checkout-a") // a retry
	release(t, client, 7, "never-claimed")

	// Another checkout claims it, with other books, and places its order.
	cart := []*promotionsv1.CartLine{line(10, 2000, 2), line(11, 2000, 1)}
	freeBook10 := &promotionsv1.Discount{Amount: eur(2000), BookId: 10, Code: promotionsclient.BuyTwoGetOneFreeCode, Label: "Buy two, get one free: one book free"}
	wantClaim(t, client, 7, "checkout-b", cart, claimed(freeBook10))
	for range 2 { // the second is a retry
		if got := confirm(t, client, 7, "checkout-b"); !proto.Equal(got.GetDiscount(), recorded(freeBook10)) {
			t.Errorf("Confirm(7, checkout-b) = %v, want the discount %v", got, recorded(freeBook10))
		}
	}
	wantClaim(t, client, 7, "checkout-b", cart, claimed(freeBook10)) // a late retry: its order has it

	// Used: no banner, no discount, no claim, whatever the key.
	if o := offer(t, client, 7); !o.GetActive() || o.GetEligible() {
		t.Errorf("GetOffer(7) after an order used it = %v, want active but not eligible", o)
	}
	if d := price(t, client, 7, three...); d != nil {
		t.Errorf("PriceCart(7) after an order used it = %v, want none", d)
	}
	wantClaim(t, client, 7, "checkout-c", three, used)
	wantClaim(t, client, 7, "checkout-a", three, used) // the released key, again
	_, err := client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: 7, IdempotencyKey: "checkout-a"})
	wantCode(t, "Confirm(7, checkout-a), released", err, codes.FailedPrecondition, "another checkout of customer 7 has used the promotion")
	_, err = client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: 7, IdempotencyKey: "checkout-c"})
	wantCode(t, "Confirm(7, checkout-c), never claimed", err, codes.NotFound, `customer 7 has no claim under key "checkout-c"`)

	// Another customer, even with the same key, has their own use; a
	// guest sees the banner and the discount.
	if o := offer(t, client, 8); !o.GetEligible() {
		t.Errorf("GetOffer(8) = %v, want eligible", o)
	}
	wantClaim(t, client, 8, "checkout-b", three, claimed(freeBook2))
	if o := offer(t, client, 0); !o.GetActive() || !o.GetEligible() {
		t.Errorf("GetOffer(guest) = %v, want active and eligible", o)
	}
	if d := price(t, client, 0, three...); !proto.Equal(d, freeBook2) {
		t.Errorf("PriceCart(guest) = %v, want %v", d, freeBook2)
	}

	wantMetrics(t, m,
		`bookshop_promotions_offers_total{outcome="shown"} 4`,
		`bookshop_promotions_offers_total{outcome="used"} 1`,
		`bookshop_promotions_offers_total{outcome="inactive"} 0`,
		`bookshop_promotions_claims_total{outcome="claimed"} 3`,
		`bookshop_promotions_claims_total{outcome="replayed"} 2`,
		`bookshop_promotions_claims_total{outcome="taken"} 1`,
		`bookshop_promotions_claims_total{outcome="used"} 2`,
		`bookshop_promotions_claims_total{outcome="released"} 1`,
		`bookshop_promotions_claims_total{outcome="expired"} 0`,
		`bookshop_promotions_uses_total 1`,
		`bookshop_promotions_discount_minor_units_total{currency="EUR"} 2000`,
	)
}

// TestReleaseConfirmed checks that a checkout undone after it confirmed
// its claim, before its order was recorded (its stock could not be
// taken), gives the use back with Release, by its own key: the banner and
// the discount are the customer's again, another checkout may claim it,
// and the confirmation undone is counted. A retry of the release changes
// nothing, and the released key may confirm again if no other claimed
// since.
func TestReleaseConfirmed(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	client, _, _ := serveClock(t, bookshop.Campaign{}, m)

	wantClaim(t, client, 7, "checkout-a", three, claimed(freeBook2))
	confirm(t, client, 7, "checkout-a")
	if o := offer(t, client, 7); o.GetEligible() {
		t.Fatalf("GetOffer(7) after Confirm = %v, want not eligible", o)
	}
	release(t, client, 7, "checkout-a")
	release(t, client, 7, "checkout-a") // a retry
	if o := offer(t, client, 7); !o.GetEligible() {
		t.Errorf("GetOffer(7) after the confirmed claim was released = %v, want eligible again", o)
	}
	if d := price(t, client, 7, three...); !proto.Equal(d, freeBook2) {
		t.Errorf("PriceCart(7) after the confirmed claim was released = %v, want %v", d, freeBook2)
	}
	// The released key confirms again while no other claim took the use.
	confirm(t, client, 7, "checkout-a")
	release(t, client, 7, "checkout-a")
	wantClaim(t, client, 7, "checkout-b", three, claimed(freeBook2))
	_, err := client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: 7, IdempotencyKey: "checkout-a"})
	wantCode(t, "Confirm(7, checkout-a), released, checkout-b holding the use", err, codes.FailedPrecondition, "another checkout of customer 7 has claimed the promotion")
	confirm(t, client, 7, "checkout-b")
	if o := offer(t, client, 7); o.GetEligible() {
		t.Errorf("GetOffer(7) after checkout-b's Confirm = %v, want not eligible", o)
	}
	wantMetrics(t, m,
		`bookshop_promotions_claims_total{outcome="unconfirmed"} 2`,
		`bookshop_promotions_claims_total{outcome="released"} 0`,
		`bookshop_promotions_uses_total 3`,
	)
}

// TestClaimRepriced checks a key's claim asked again with other lines:
// priced anew while it is held, given up when the lines no longer earn a
// discount, and taken again when they do.
func TestClaimRepriced(t *testing.T) {
	client, _, _ := serveClock(t, bookshop.Campaign{}, nil)
	wantClaim(t, client, 3, "k", three, claimed(freeBook2))
	cheaper := append([]*promotionsv1.CartLine{line(4, 100, 1)}, three...)
	wantClaim(t, client, 3, "k", cheaper, claimed(&promotionsv1.Discount{Amount: eur(100), BookId: 4, Code: promotionsclient.BuyTwoGetOneFreeCode, Label: freeBook2.GetLabel()}))
	wantClaim(t, client, 3, "k", three[:2], notEarned) // two books: the use is given up
	wantClaim(t, client, 3, "other", three, claimed(freeBook2))
	release(t, client, 3, "other")
	wantClaim(t, client, 3, "k", three, claimed(freeBook2))
	if got := confirm(t, client, 3, "k"); !proto.Equal(got.GetDiscount(), recorded(freeBook2)) {
		t.Errorf("Confirm(3, k) = %v, want %v, the last claim's", got, recorded(freeBook2))
	}
}

// TestOncePerCustomerConcurrently sends 20 claims of one customer at
// once, each under its own key, over real gRPC, to a service on a file:
// exactly one holds the use. Once it is confirmed, 20 more find it spent;
// the other customers' claims, sent at the same time, each hold their
// own.
func TestOncePerCustomerConcurrently(t *testing.T) {
	ctx := testContext(t)
	cfg := promotions.DefaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "promotions.db")
	client, _ := runWith(t, cfg)

	burst := func(round string, base int32) (winners []string, others int) {
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		for i := range 20 {
			for _, customer := range []int32{1, base + int32(i)} {
				key := fmt.Sprintf("%s-%d", round, i)
				wg.Go(func() {
					resp, err := client.Claim(ctx, &promotionsv1.ClaimRequest{CustomerId: customer, IdempotencyKey: key, Lines: three})
					if err != nil {
						t.Errorf("Claim(%d, %s): %v", customer, key, err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					switch {
					case customer == 1 && resp.GetClaimed():
						winners = append(winners, key)
					case customer != 1 && resp.GetClaimed():
						others++
					case customer != 1:
						t.Errorf("Claim(%d, %s) = %v, want it claimed: customer %d claimed nothing else", customer, key, resp, customer)
					}
				})
			}
		}
		wg.Wait()
		return winners, others
	}

	winners, others := burst("first", 100)
	if len(winners) != 1 || others != 20 {
		t.Fatalf("20 claims of customer 1 at once: %d held the use (%v), want exactly 1; other customers: %d of 20 held theirs", len(winners), winners, others)
	}
	confirm(t, client, 1, winners[0])
	if winners, _ := burst("second", 200); len(winners) != 0 {
		t.Errorf("20 claims after customer 1 used the promotion: %d held it (%v), want none", len(winners), winners)
	}
}

// TestExpiry checks, on an injected clock, that a claim neither confirmed
// nor released holds the use until its expiry and not after, that it can
// still be confirmed after its expiry while nobody else took the use, and
// that the sweeper records expiries and deletes old records.
func TestExpiry(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	client, svc, clk := serveClock(t, bookshop.Campaign{}, m)

	wantClaim(t, client, 5, "stalled", three, claimed(freeBook2))
	clk.Advance(promotions.DefaultClaimTTL - time.Millisecond)
	wantClaim(t, client, 5, "next", three, held)
	if d := price(t, client, 5, three...); d != nil {
		t.Errorf("PriceCart(5) before the claim's expiry = %v, want none", d)
	}
	clk.Advance(time.Millisecond)
	if d := price(t, client, 5, three...); !proto.Equal(d, freeBook2) {
		t.Errorf("PriceCart(5) at the claim's expiry = %v, want %v", d, freeBook2)
	}
	wantClaim(t, client, 5, "next", three, claimed(freeBook2)) // records "stalled" expired
	_, err := client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: 5, IdempotencyKey: "stalled"})
	wantCode(t, "Confirm(5, stalled) after another claimed", err, codes.FailedPrecondition, `the claim under key "stalled" was expired, and another checkout of customer 5 has claimed the promotion since`)
	release(t, client, 5, "next")

	// Expired, swept, and confirmed all the same: nobody took the use.
	wantClaim(t, client, 6, "slow", three, claimed(freeBook2))
	clk.Advance(promotions.DefaultClaimTTL)
	if n, _, err := svc.Sweep(ctx); n != 1 || err != nil {
		t.Errorf("Sweep = %d expired, %v; want 1", n, err)
	}
	if n, _, err := svc.Sweep(ctx); n != 0 || err != nil {
		t.Errorf("Sweep again = %d expired, %v; want 0", n, err)
	}
	confirm(t, client, 6, "slow")
	wantClaim(t, client, 6, "again", three, used)

	// A claim released after its expiry stays expired; a week after they
	// ended, released and expired records go; confirmed ones stay.
	wantClaim(t, client, 9, "late", three, claimed(freeBook2))
	clk.Advance(promotions.DefaultClaimTTL)
	release(t, client, 9, "late")
	clk.Advance(promotions.RecordTTL + time.Second)
	if _, deleted, err := svc.Sweep(ctx); deleted != 3 || err != nil {
		t.Errorf("Sweep a week later = %d deleted, %v; want 3 (stalled, next, late)", deleted, err)
	}
	_, err = client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: 9, IdempotencyKey: "late"})
	wantCode(t, "Confirm(deleted)", err, codes.NotFound, "no claim")
	wantClaim(t, client, 6, "slow", three, claimed(freeBook2))

	wantMetrics(t, m,
		`bookshop_promotions_claims_total{outcome="expired"} 3`,
		`bookshop_promotions_claims_total{outcome="released"} 1`,
		`bookshop_promotions_uses_total 1`,
	)
}

// TestCampaign checks the campaign's bounds, on an injected clock: no
// banner, no discount and no claim before its start and from its end;
// a claim held when it ends is given up if claimed again, but one
// confirmed stays so.
func TestCampaign(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	starts, ends := t0.Add(time.Hour), t0.Add(2*time.Hour)
	client, _, clk := serveClock(t, bookshop.Campaign{Starts: starts, Ends: ends}, m)

	outside := func(when string) {
		t.Helper()
		if o := offer(t, client, 1); o.GetActive() || !o.GetStartTime().AsTime().Equal(starts) || !o.GetEndTime().AsTime().Equal(ends) {
			t.Errorf("GetOffer %s = %v, want inactive, from %v to %v", when, o, starts, ends)
		}
		if d := price(t, client, 0, three...); d != nil {
			t.Errorf("PriceCart %s = %v, want none", when, d)
		}
		wantClaim(t, client, 1, "before", three, inactive)
	}
	outside("before the start")
	clk.Advance(time.Hour)
	if o := offer(t, client, 1); !o.GetActive() || !o.GetEligible() {
		t.Errorf("GetOffer at the start = %v, want active and eligible", o)
	}
	clk.Advance(time.Hour - time.Minute)
	wantClaim(t, client, 1, "during", three, claimed(freeBook2))
	wantClaim(t, client, 2, "during", three, claimed(freeBook2))
	confirm(t, client, 2, "during")
	clk.Advance(time.Minute)
	outside("at the end")
	wantClaim(t, client, 1, "during", three, inactive) // held: given up
	wantClaim(t, client, 2, "during", three, claimed(freeBook2))
	if _, err := client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: 1, IdempotencyKey: "during"}); err != nil {
		t.Errorf("Confirm(1, during), released at the end and taken by no one: %v; want it confirmed (its order was placed)", err)
	}
	wantMetrics(t, m,
		`bookshop_promotions_offers_total{outcome="inactive"} 2`,
		`bookshop_promotions_claims_total{outcome="inactive"} 3`,
		`bookshop_promotions_claims_total{outcome="released"} 1`,
		`bookshop_promotions_uses_total 2`,
		`bookshop_promotions_discount_minor_units_total{currency="EUR"} 1798`,
	)
}

// TestNoDiscount checks carts that earn nothing: no claim is held, so
// that the customer's one use is not spent on them.
func TestNoDiscount(t *testing.T) {
	client, _, _ := serveClock(t, bookshop.Campaign{}, nil)
	for _, tc := range []struct {
		name  string
		lines []*promotionsv1.CartLine
	}{
		{"empty", nil},
		{"two books", three[:2]},
		{"two currencies", []*promotionsv1.CartLine{line(1, 500, 2), {BookId: 2, UnitPrice: &moneyv1.Money{Units: 500, Currency: "USD"}, Quantity: 1}}},
		{"a book without a price", []*promotionsv1.CartLine{line(1, 500, 2), {BookId: 2, Quantity: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := price(t, client, 1, tc.lines...); d != nil {
				t.Errorf("PriceCart(%v) = %v, want none", tc.lines, d)
			}
			wantClaim(t, client, 1, "k", tc.lines, notEarned)
		})
	}
	wantClaim(t, client, 1, "k", three, claimed(freeBook2))
}

// TestClaimRefusals checks that a Claim refused says why, each reason
// of the contract in its case, and holds nothing: the customer's use is
// still free for the claim that may have it.
func TestClaimRefusals(t *testing.T) {
	ctx := testContext(t)
	client, _, clk := serveClock(t, bookshop.Campaign{Starts: t0, Ends: t0.Add(time.Hour)}, nil)
	wantClaim(t, client, 1, "placed", three, claimed(freeBook2))
	confirm(t, client, 1, "placed")
	wantClaim(t, client, 2, "in-progress", three, claimed(freeBook2))
	for _, tc := range []struct {
		name     string
		customer int32
		lines    []*promotionsv1.CartLine
		want     *promotionsv1.ClaimResponse
	}{
		{"the lines earn nothing", 3, three[:2], notEarned},
		{"the customer has used it", 1, three, used},
		{"another checkout of the customer holds it", 2, three, held},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantClaim(t, client, tc.customer, "refused", tc.lines, tc.want)
			if _, err := client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: tc.customer, IdempotencyKey: "refused"}); status.Code(err) != codes.NotFound {
				t.Errorf("Confirm(%d, refused) = %v, want NOT_FOUND: a refused claim holds nothing", tc.customer, err)
			}
		})
	}
	wantClaim(t, client, 3, "refused", three, claimed(freeBook2)) // the use was not spent on the refusal
	clk.Advance(time.Hour)
	wantClaim(t, client, 4, "refused", three, inactive) // the campaign has ended
	if got := claim(t, client, 4, "refused", three...); got.GetRefusal().String() != "CLAIM_REFUSAL_CAMPAIGN_INACTIVE" {
		t.Errorf("Claim after the campaign: refusal %v, want CLAIM_REFUSAL_CAMPAIGN_INACTIVE", got.GetRefusal())
	}
}

// TestAnotherPromotion runs the service with a campaign of another shape
// than the shop's, 10% off three books or more, given as a Promotion and
// nothing else: its offer, its discounts and its claims are its own, in
// its own words, through the same contract.
func TestAnotherPromotion(t *testing.T) {
	tenPercent := promotionstest.TenPercentOff()
	svc, err := promotions.NewService(testContext(t), open(t, ":memory:"), promotions.Options{Promotion: tenPercent})
	if err != nil {
		t.Fatal(err)
	}
	client := serve(t, svc)
	if o := offer(t, client, 0); o.GetCode() != "ten_percent_off" || o.GetName() != "Ten percent off" || o.GetBanner() != tenPercent.Banner || o.GetMinBooks() != 3 {
		t.Errorf("GetOffer = %v, want the campaign's code, name, banner and MinBooks", o)
	}
	want := &promotionsv1.Discount{Amount: eur(369), Code: "ten_percent_off", Label: "Ten percent off: 10% off your order"} // 10% of 36.98
	if d := price(t, client, 0, three...); !proto.Equal(d, want) {
		t.Errorf("PriceCart(three) = %v, want %v", d, want)
	}
	wantClaim(t, client, 1, "k", three, claimed(want))
	wantClaim(t, client, 2, "k", three[:2], notEarned)

	if _, err := promotions.NewService(testContext(t), open(t, ":memory:"), promotions.Options{Promotion: promotions.Promotion{Code: "nameless", Rule: tenPercent.Rule}}); err == nil {
		t.Error("NewService(a promotion without a name) = nil error, want it refused")
	}
}

// TestNextCampaign runs the Promotions service as `bookshop promotions`
// does, without -starts, on one database (an SQLite file, and PostgreSQL
// when there is one to test with): first with "buy two books, get the
// third free", then, as the shop's next release would, with another
// campaign (promotionstest.TenPercentOff). A customer who used the first
// sees the next one's banner and is granted its discount, once. The next
// campaign runs from its own first start, not the first campaign's: the
// start its offer gives, which `bookshop report promotion` takes as the
// line between "before the campaign" and "during it" when not given
// -campaign-start. Each campaign keeps its own start across restarts.
func TestNextCampaign(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) promotions.Config
	}{
		{"SQLite", func(t *testing.T) promotions.Config {
			cfg := promotions.DefaultConfig()
			cfg.DB = filepath.Join(t.TempDir(), "promotions.db")
			return cfg
		}},
		{"PostgreSQL", func(t *testing.T) promotions.Config {
			cfg := promotions.DefaultConfig()
			cfg.Database = pgtest.Settings(t)
			return cfg
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			run := func(p promotions.Promotion) (promotionsv1.PromotionsServiceClient, func()) {
				cfg.Promotion = p
				return runWith(t, cfg)
			}
			client, stop := run(promotions.BuyTwoGetOneFree())
			firstStart := offer(t, client, 0).GetStartTime().AsTime()
			wantClaim(t, client, 1, "placed", three, claimed(freeBook2))
			confirm(t, client, 1, "placed")
			if o := offer(t, client, 1); o.GetEligible() {
				t.Fatalf("GetOffer(1) after its order = %v, want the use spent", o)
			}
			stop()

			time.Sleep(5 * time.Millisecond) // the next campaign's first start is later
			switched := time.Now().Truncate(time.Millisecond)
			tenPercent := promotionstest.TenPercentOff()
			client, stop = run(tenPercent)
			o := offer(t, client, 1)
			nextStart := o.GetStartTime().AsTime()
			if o.GetCode() != tenPercent.Code || o.GetBanner() != tenPercent.Banner || !o.GetActive() || !o.GetEligible() {
				t.Errorf("GetOffer(1) of the next campaign = %v, want its banner, active and eligible: customer 1 used the first only", o)
			}
			if nextStart.Before(switched) || !nextStart.After(firstStart) {
				t.Errorf("the next campaign starts at %v, want its own first start, at %v or after, not the first campaign's %v", nextStart, switched, firstStart)
			}
			want := &promotionsv1.Discount{Amount: eur(369), Code: tenPercent.Code, Label: promotionstest.TenPercentOffLabel} // 10% of 36.98
			if d := price(t, client, 1, three...); !proto.Equal(d, want) {
				t.Errorf("PriceCart(1, three) of the next campaign = %v, want %v", d, want)
			}
			wantClaim(t, client, 1, "next", three, claimed(want))
			confirm(t, client, 1, "next")
			if o := offer(t, client, 1); o.GetEligible() {
				t.Errorf("GetOffer(1) after its order of the next campaign = %v, want the use spent", o)
			}
			wantClaim(t, client, 1, "again", three, used)
			stop()

			client, stop = run(tenPercent)
			if got := offer(t, client, 0).GetStartTime().AsTime(); !got.Equal(nextStart) {
				t.Errorf("the next campaign after a restart starts at %v, want its first start %v", got, nextStart)
			}
			stop()
			client, _ = run(promotions.BuyTwoGetOneFree())
			if o := offer(t, client, 1); !o.GetStartTime().AsTime().Equal(firstStart) || o.GetEligible() {
				t.Errorf("GetOffer(1) of the first campaign, run again = %v; want its own first start %v, and the use spent", o, firstStart)
			}
		})
	}
}

// TestRuleBreakingItsContract runs the service with rules that break the
// contract of Promotion.Rule, each a bug of a campaign: the whole
// subtotal off, nothing off, another currency, a free copy of a book the
// cart does not hold. No such discount is priced or claimed (the cart
// is at its full price, the claim refused as not earned), and each is
// logged as an error that names the promotion.
func TestRuleBreakingItsContract(t *testing.T) {
	for _, tc := range []struct {
		name     string
		discount bookshop.Discount
		want     string
	}{
		{"the whole subtotal", bookshop.Discount{Amount: bookshop.Money{Units: 3698, Currency: "EUR"}}, "want less than their subtotal"},
		{"nothing", bookshop.Discount{Amount: bookshop.Money{Units: 0, Currency: "EUR"}}, "want more than zero"},
		{"less than nothing", bookshop.Discount{Amount: bookshop.Money{Units: -100, Currency: "EUR"}}, "want more than zero"},
		{"another currency", bookshop.Discount{Amount: bookshop.Money{Units: 100, Currency: "USD"}}, "want it in their currency"},
		{"a book not in the cart", bookshop.Discount{Amount: bookshop.Money{Units: 100, Currency: "EUR"}, BookID: 9}, "book 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := logtest.TextLogger(slog.LevelInfo)
			broken := promotions.Promotion{Code: "broken", Name: "Broken", Banner: "A campaign with a bug.", MinBooks: 3,
				Rule: func([]bookshop.PromoLine) (bookshop.Discount, bool) { return tc.discount, true }}
			svc, err := promotions.NewService(testContext(t), open(t, ":memory:"), promotions.Options{Promotion: broken, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			client := serve(t, svc)
			if d := price(t, client, 0, three...); d != nil {
				t.Errorf("PriceCart(three) = %v, want no discount", d)
			}
			wantClaim(t, client, 1, "k", three, notEarned)
			if log := logs.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "promotion=broken") || !strings.Contains(log, tc.want) {
				t.Errorf("the log does not have an error of promotion broken saying %q:\n%s", tc.want, log)
			}
		})
	}
}

// TestInvalidRequests checks that malformed requests are refused with
// INVALID_ARGUMENT and a message that says what is wrong, and change
// nothing.
func TestInvalidRequests(t *testing.T) {
	ctx := testContext(t)
	client, _, _ := serveClock(t, bookshop.Campaign{}, nil)
	tooMany := make([]*promotionsv1.CartLine, 51)
	for i := range tooMany {
		tooMany[i] = line(int32(i+1), 100, 1)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"GetOffer: negative id", func() error {
			_, err := client.GetOffer(ctx, &promotionsv1.GetOfferRequest{CustomerId: -1})
			return err
		}, "customer id -1: want 1 or more, or 0 for a guest"},
		{"PriceCart: too many lines", func() error {
			_, err := client.PriceCart(ctx, &promotionsv1.PriceCartRequest{Lines: tooMany})
			return err
		}, "51 lines: a cart holds at most 50 books"},
		{"PriceCart: a book twice", func() error {
			_, err := client.PriceCart(ctx, &promotionsv1.PriceCartRequest{Lines: []*promotionsv1.CartLine{line(1, 100, 1), line(1, 100, 2)}})
			return err
		}, "book 1 is on two lines"},
		{"PriceCart: a quantity of 11", func() error {
			_, err := client.PriceCart(ctx, &promotionsv1.PriceCartRequest{Lines: []*promotionsv1.CartLine{line(1, 100, 11)}})
			return err
		}, "book 1: quantity 11: want 1 to 10"},
		{"PriceCart: a negative price", func() error {
			_, err := client.PriceCart(ctx, &promotionsv1.PriceCartRequest{Lines: []*promotionsv1.CartLine{line(1, -100, 1)}})
			return err
		}, "book 1: unit price -1.00 EUR: want 0 or more"},
		{"PriceCart: a price without a currency", func() error {
			_, err := client.PriceCart(ctx, &promotionsv1.PriceCartRequest{Lines: []*promotionsv1.CartLine{{BookId: 1, UnitPrice: &moneyv1.Money{Units: 100}, Quantity: 1}}})
			return err
		}, `book 1: unit price: currency ""`},
		{"PriceCart: book 0", func() error {
			_, err := client.PriceCart(ctx, &promotionsv1.PriceCartRequest{Lines: []*promotionsv1.CartLine{line(0, 100, 1)}})
			return err
		}, "book id 0: want 1 or more"},
		{"Claim: a guest", func() error {
			_, err := client.Claim(ctx, &promotionsv1.ClaimRequest{CustomerId: 0, IdempotencyKey: "k", Lines: three})
			return err
		}, "a guest cannot claim the promotion"},
		{"Claim: no key", func() error {
			_, err := client.Claim(ctx, &promotionsv1.ClaimRequest{CustomerId: 1, Lines: three})
			return err
		}, `idempotency key "": want 1 to 64 characters`},
		{"Claim: a key with a slash", func() error {
			_, err := client.Claim(ctx, &promotionsv1.ClaimRequest{CustomerId: 1, IdempotencyKey: "a/b", Lines: three})
			return err
		}, "only letters A to Z, digits, '-' and '_' are allowed"},
		{"Confirm: a long key", func() error {
			_, err := client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: 1, IdempotencyKey: strings.Repeat("k", 65)})
			return err
		}, "want 1 to 64 characters"},
		{"Release: a guest", func() error {
			_, err := client.Release(ctx, &promotionsv1.ReleaseRequest{IdempotencyKey: "k"})
			return err
		}, "customer id 0: want 1 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.name, tc.call(), codes.InvalidArgument, tc.want)
		})
	}
	wantClaim(t, client, 1, "k", three, claimed(freeBook2)) // nothing was held
}

// TestRestart stops the service and starts it again on its file: the uses
// confirmed, the claims held and the campaign's start (the first start)
// are kept.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promotions.db")
	cfg := promotions.DefaultConfig()
	cfg.DB = path
	client, stop := runWith(t, cfg)
	first := offer(t, client, 0).GetStartTime().AsTime()
	wantClaim(t, client, 1, "placed", three, claimed(freeBook2))
	confirm(t, client, 1, "placed")
	wantClaim(t, client, 2, "pending", three, claimed(freeBook2))
	stop()

	time.Sleep(5 * time.Millisecond) // the second start is later than the first
	client, _ = runWith(t, cfg)
	if o := offer(t, client, 1); o.GetEligible() || !o.GetStartTime().AsTime().Equal(first) {
		t.Errorf("GetOffer(1) after a restart = %v, want not eligible, the campaign from the first start %v", o, first)
	}
	wantClaim(t, client, 1, "another", three, used)
	wantClaim(t, client, 2, "another", three, held) // "pending" holds it
	wantClaim(t, client, 2, "pending", three, claimed(freeBook2))
	confirm(t, client, 2, "pending")
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
