package marketplace

import (
	"maps"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// TestCheckoutFields checks that the checkout form's fields rendered once,
// at start, are byte for byte those the template renders for the blank
// form, and that a form sent back is rendered afresh: what was typed,
// escaped, and what is wrong beside it.
func TestCheckoutFields(t *testing.T) {
	p, _ := parsedPages(t)
	var blank checkoutFieldsets
	blank.Address, blank.Card = checkoutFields(blankForm, nil)
	var fresh strings.Builder
	if err := p.checkout.ExecuteTemplate(&fresh, "checkout-fields", blank); err != nil {
		t.Fatal(err)
	}
	got, err := p.renderFields(blankForm, nil)
	if err != nil || string(got) != fresh.String() {
		t.Fatalf("the blank form's fields = %v\n%s\nwant the template's:\n%s", err, got, fresh.String())
	}
	for _, f := range append(blank.Address[:], blank.Card[:]...) {
		if !strings.Contains(string(got), `<input id="f-`+f.Name+`" name="`+f.Name+`"`) {
			t.Errorf("the blank form has no field %s:\n%s", f.Name, got)
		}
	}
	if !strings.Contains(string(got), `name="country" value="DE"`) {
		t.Errorf("the blank form's country is not DE:\n%s", got)
	}

	typed := blankForm
	typed.City = `"><script>alert(1)</script>`
	got, err = p.renderFields(typed, map[string]string{"city": "No <city> here."})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`,
		`aria-invalid="true" aria-describedby="e-city"`,
		`<span class="field-error" id="e-city">No &lt;city&gt; here.</span>`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("a form sent back has no %s:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "<script>") || strings.Contains(string(got), "<city>") {
		t.Errorf("a form sent back shows what was typed unescaped:\n%s", got)
	}
	// The blank form with something wrong is rendered afresh too.
	got, err = p.renderFields(blankForm, map[string]string{"cvc": "The security code is required."})
	if err != nil || !strings.Contains(string(got), `id="e-cvc"`) {
		t.Errorf("the blank form with an error = %v\n%s\nwant the error beside the code", err, got)
	}
}

// TestConflictMessage words the Checkout's refusals as the page shows
// them: sentences, what they name kept, a decline with or without its
// reason.
func TestConflictMessage(t *testing.T) {
	for in, want := range map[string]string{
		"card declined: insufficient funds": "Your card was declined: insufficient funds. Nothing was charged: please use another card.",
		"card declined: ":                   "Your card was declined. Nothing was charged: please use another card.",
		"card declined:":                    "Your card was declined. Nothing was charged: please use another card.",
		`sold out: “A; B” has no copy left; change your cart to check out`: `Sold out: “A; B” has no copy left. Change your cart to check out.`,
		"your cart is empty: nothing to check out":                         "Your cart is empty: nothing to check out.",
	} {
		if got := conflictMessage(in); got != want {
			t.Errorf("conflictMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCardFieldErrors reads Payments' words for a card it refused, as the
// Checkout passes them on, into the form's fields, each with its label.
func TestCardFieldErrors(t *testing.T) {
	err := bookshop.Errorf(bookshop.Invalid, "card number: the number is not valid: check the digits; expiry: the card has expired: check the month and year; cvc: want the 3 digits on the back of the card")
	want := map[string]string{
		"card_number": "Card number: the number is not valid: check the digits",
		expiryField:   "Expiry: the card has expired: check the month and year",
		"cvc":         "Security code: want the 3 digits on the back of the card",
	}
	if got := cardFieldErrors(err); !maps.Equal(got, want) {
		t.Errorf("cardFieldErrors = %v, want %v", got, want)
	}
	if got := cardFieldErrors(bookshop.Errorf(bookshop.Invalid, "shipping address: city: required")); len(got) != 0 {
		t.Errorf("cardFieldErrors(an address's error) = %v, want none", got)
	}
}
