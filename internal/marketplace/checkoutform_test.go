package marketplace_test

import (
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
)

// The checkout form's fields as the shopper types them, over the real
// services (see startShop).

// TestCheckoutExpiryWithSpaces sends the card's expiry with spaces around
// its month and year, as a paste or a phone's keyboard leaves them: the
// form shows them back trimmed, and sends them trimmed, so they are read
// trimmed, and the order is placed.
func TestCheckoutExpiryWithSpaces(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("spaces@example.com", "Spaces")
	b.add(2, 1)
	form := b.checkoutForm(paymentsclient.TestCardApproved)
	form.Set("exp_month", " 5")
	form.Set("exp_year", "2040 ")
	r := b.post("/checkout", form)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/orders/") {
		t.Fatalf("POST /checkout with exp_month %q, exp_year %q: status %d, Location %q; want 303 to the order:\n%s",
			form.Get("exp_month"), form.Get("exp_year"), r.status, r.header.Get("Location"), r.body)
	}
}

// TestCheckoutOffersUnknown stops Promotions: the Checkout quotes a cart
// that may earn the discount at its full price, and the checkout page
// says, as the cart does, that offers cannot be checked, rather than let
// the full price look final; not for a cart too small to earn one, by the
// campaign as Promotions last described it, nor while it answers.
func TestCheckoutOffersUnknown(t *testing.T) {
	shop := startShop(t)
	newShopper(t, shop.site).get("/") // a guest's offer: the campaign, as Promotions describes it
	three := newShopper(t, shop.site)
	three.signUp("three@example.com", "Three")
	three.add(1, 3)
	one := newShopper(t, shop.site)
	one.signUp("one@example.com", "One")
	one.add(2, 1)
	const offersUnknown = "Offers cannot be checked right now"
	if r := three.get("/checkout"); !strings.Contains(r.body, `id="checkout-discount"`) || strings.Contains(r.body, offersUnknown) {
		t.Errorf("while Promotions answers, the checkout of three books has no discount, or says offers cannot be checked:\n%s", r.body)
	}

	shop.stopPromotions()
	r := three.get("/checkout")
	wantHTML(t, "GET", "/checkout", r, http.StatusOK)
	if strings.Contains(r.body, `id="checkout-discount"`) {
		t.Errorf("with Promotions down the checkout shows a discount:\n%s", r.body)
	}
	if !strings.Contains(r.body, `<p class="notice" role="status" id="checkout-notice">`+offersUnknown) {
		t.Errorf("with Promotions down the checkout of three books does not say that offers cannot be checked:\n%s", r.body)
	}
	if strings.Contains(r.body, `role="alert"`) {
		t.Errorf("with Promotions down the checkout says something went wrong:\n%s", r.body)
	}
	if r := one.get("/checkout"); strings.Contains(r.body, offersUnknown) {
		t.Errorf("with Promotions down the checkout of one book says offers cannot be checked:\n%s", r.body)
	}
}

// TestCheckoutConflictsInSentences has the real Checkout refuse three
// checkouts (Conflict): a declined card, a total the shopper was not
// shown, and a book sold out since the page. Each is said in sentences,
// what it names kept (the reason, the new total, the book), and a
// declined card with that nothing was charged and to use another card.
func TestCheckoutConflictsInSentences(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("conflicts@example.com", "Conflicts")
	b.add(2, 1)
	book, err := shop.catalog.Book(testContext(t), 2)
	if err != nil {
		t.Fatal(err)
	}

	declined := b.post("/checkout", b.checkoutForm(paymentsclient.TestCardDeclined))
	stale := b.checkoutForm(paymentsclient.TestCardApproved)
	total, _ := strconv.ParseInt(stale.Get("total_units"), 10, 64)
	stale.Set("total_units", "1")
	changed := b.post("/checkout", stale)
	soldOutForm := b.checkoutForm(paymentsclient.TestCardApproved)
	linesForm := b.checkoutForm(paymentsclient.TestCardApproved)
	if err := shop.inventory.SetStock(testContext(t), 2, 0); err != nil {
		t.Fatal(err)
	}
	soldOut := b.post("/checkout", soldOutForm)
	b.add(3, 1) // in another tab
	linesChanged := b.post("/checkout", linesForm)

	now := bookshop.Money{Units: total, Currency: stale.Get("currency")}.Format()
	confirmed := bookshop.Money{Units: 1, Currency: stale.Get("currency")}.Format()
	for _, tt := range []struct {
		what string
		r    response
		want string
	}{
		{"a declined card", declined, "Your card was declined: insufficient funds. Nothing was charged: please use another card."},
		{"a changed total", changed, "The total is now " + now + ", not the " + confirmed + " you confirmed: a price or your cart changed. Check the new total and confirm it."},
		{"a book sold out", soldOut, "Sold out: “" + book.Title + "” has no copy left. Change your cart to check out."},
		{"other books", linesChanged, "Your cart changed since you confirmed it: nothing was charged. Check your cart and its total, then confirm again."},
	} {
		wantHTML(t, "POST", "/checkout ("+tt.what+")", tt.r, http.StatusConflict)
		if got := html.UnescapeString(tt.r.body); !strings.Contains(got, `role="alert">`+tt.want+"</p>") {
			t.Errorf("%s: the page does not say %q:\n%s", tt.what, tt.want, tt.r.body)
		}
	}
}

// TestCheckoutOfAnEmptiedCart sends the checkout form of a cart emptied
// since, in another tab: the answer is the cart page, saying the cart is
// empty and nothing was charged, not a bare redirect that leaves the
// shopper to wonder whether they paid; and a form too large still gets
// its 413 first.
func TestCheckoutOfAnEmptiedCart(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("emptied@example.com", "Emptied")
	b.add(2, 1)
	form := b.checkoutForm(paymentsclient.TestCardApproved)
	if r := b.post("/cart/items/2", url.Values{"quantity": {"0"}}); r.status != http.StatusSeeOther {
		t.Fatalf("POST /cart/items/2 quantity 0: status %d, want 303", r.status)
	}

	r := b.post("/checkout", form)
	wantHTML(t, "POST", "/checkout of an emptied cart", r, http.StatusConflict)
	for _, want := range []string{
		`role="alert">Your cart is empty, so no order was placed and nothing was charged.`,
		`id="cart-empty"`,
		"<title>Your cart · ",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("POST /checkout of an emptied cart: no %s in the page:\n%s", want, r.body)
		}
	}
	customer := shop.customer(t, b)
	if list, _ := shop.orders.List(testContext(t), customer.ID, "", 10); len(list.Orders) != 0 {
		t.Errorf("after the checkout of an emptied cart the customer has %d orders, want none", len(list.Orders))
	}

	// A field with no value (no call made): the same.
	form.Del("city")
	r = b.post("/checkout", form)
	wantHTML(t, "POST", "/checkout of an emptied cart, a field missing", r, http.StatusBadRequest)
	if !strings.Contains(r.body, "nothing was charged") {
		t.Errorf("POST /checkout of an emptied cart, a field missing: the page does not say nothing was charged:\n%s", r.body)
	}

	big := url.Values{"name": {strings.Repeat("x", 9000)}}
	r = b.post("/checkout", big)
	wantHTML(t, "POST", "/checkout of an emptied cart, too large", r, http.StatusRequestEntityTooLarge)
	if !strings.Contains(r.body, "too large") {
		t.Errorf("POST /checkout of an emptied cart, too large: the page does not say so:\n%s", r.body)
	}
}

// TestCheckoutCountryAssigned sends addresses whose country is two
// letters that no country has: each is marked beside its field, in
// words, and no checkout is made; an assigned code, in small letters, is
// taken and recorded in capitals.
func TestCheckoutCountryAssigned(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("country@example.com", "Country")
	b.add(2, 1)
	for _, c := range []string{"zz", "UK", "Qm"} {
		form := b.checkoutForm(paymentsclient.TestCardApproved)
		form.Set("country", c)
		r := b.post("/checkout", form)
		wantHTML(t, "POST", "/checkout, country "+c, r, http.StatusBadRequest)
		want := `<span class="field-error" id="e-country">Country: ` + strings.ToUpper(c) + ` is not the code of a country. Use its two-letter code, such as DE or FR.</span>`
		if !strings.Contains(r.body, want) || !strings.Contains(r.body, `aria-describedby="e-country"`) {
			t.Errorf("country %q: the form sent back has no %s:\n%s", c, want, r.body)
		}
	}
	customer := shop.customer(t, b)
	if list, _ := shop.orders.List(testContext(t), customer.ID, "", 10); len(list.Orders) != 0 {
		t.Fatalf("after made-up countries the customer has %d orders, want none", len(list.Orders))
	}

	form := b.checkoutForm(paymentsclient.TestCardApproved)
	form.Set("country", " fr ")
	if r := b.post("/checkout", form); r.status != http.StatusSeeOther {
		t.Fatalf("POST /checkout, country %q: status %d, want 303 to the order:\n%s", form.Get("country"), r.status, r.body)
	}
	list, err := shop.orders.List(testContext(t), customer.ID, "", 10)
	if err != nil || len(list.Orders) != 1 || list.Orders[0].Shipping.Country != "FR" {
		t.Errorf("the customer's orders = %+v, %v; want one shipped to FR", list.Orders, err)
	}
}

// TestCheckoutPaymentsUnavailable pays with the test card that the
// processor cannot take: the Checkout knows nothing was charged, and the
// page says so, in its words, not that the order's outcome is not known;
// the same form, sent again with another card, places the order.
func TestCheckoutPaymentsUnavailable(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("unavailable@example.com", "Unavailable")
	b.add(2, 1)
	form := b.checkoutForm(paymentsclient.TestCardUnavailable)
	r := b.post("/checkout", form)
	wantHTML(t, "POST", "/checkout (the processor unavailable)", r, http.StatusServiceUnavailable)
	const want = "The payment service could not take your payment: nothing was charged. Please try again in a moment."
	if got := html.UnescapeString(r.body); !strings.Contains(got, `role="alert">`+want+"</p>") || strings.Contains(got, "could not confirm your order") {
		t.Errorf("POST /checkout with the processor unavailable: the page does not say %q, or says the outcome is not known:\n%s", want, r.body)
	}
	form.Set("card_number", paymentsclient.TestCardApproved)
	if r := b.post("/checkout", form); r.status != http.StatusSeeOther {
		t.Errorf("POST /checkout again with another card: status %d, want 303 to the order:\n%s", r.status, r.body)
	}
}
