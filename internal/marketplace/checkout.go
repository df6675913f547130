package marketplace

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// Messages of the checkout.
const (
	messageCheckoutUnavailable  = "We cannot take orders right now. Please try again in a moment. You have not been charged."
	messageCheckoutUnsure       = "We could not confirm your order in time. Please type your card again and send the form as it is: you will not be charged twice, and an order that was placed will be in your orders."
	messageCheckoutUnsureNoCart = "We could not confirm your order in time, and cannot show your cart right now. Please type your card again and send the form as it is: you will not be charged twice, and an order that was placed will be in your orders."
	messageCheckoutFailed       = "We could not place your order. Please try again in a moment. A charge for an order that was not placed is refunded."
	messageFixFields            = "Please correct the fields marked below."
	messageCheckoutShort        = "Some books in your cart have fewer copies left than you chose: change them in your cart to check out."
	messageCheckoutTooMuch      = "Your order comes to %s, more than one payment can take (%s): take some books out of your cart to check out."
	messageCheckoutEmptyCart    = "Your cart is empty, so no order was placed and nothing was charged. If you placed an order in another window, you will find it in your orders."
	messageCardDeclined         = "Your card was declined: %s. Nothing was charged: please use another card."
	messageCardDeclinedNoReason = "Your card was declined. Nothing was charged: please use another card."
	// noticeCheckoutOffersUnknown is the checkout's noticeOffersUnknown:
	// the total shown is the full price, which is charged.
	noticeCheckoutOffersUnknown = "Offers cannot be checked right now, so the total below is the full price, with no discount. To have your order checked for offers, try again in a few minutes."
)

// checkoutPage is the data of checkout.html.
type checkoutPage struct {
	Layout   layout
	Lines    []cartLineView
	Subtotal string
	// Discount is the promotion's, "−€7.99" ("" for none), on
	// DiscountLine, in the words of Promotions (the quote's label).
	Discount     string
	DiscountLine discountLine
	Total        string
	// TotalUnits and Currency are the total the shopper confirms, sent
	// back with the form: Checkout refuses to charge any other.
	TotalUnits int64
	Currency   string
	// LinesDigest is the quote's of the lines the shopper confirms
	// (bookshop.Quote.LinesDigest), sent back with the form: Checkout
	// refuses to charge for other books, even at the same total.
	LinesDigest string
	Short       bool // a line has fewer copies left than asked: no form
	// TooMuch is set when the total is more than one payment can take
	// (bookshop.MaxChargeUnits): no form, which the Checkout would refuse.
	TooMuch bool
	Key     string // the order's idempotency key
	Message string
	// Notice says what the page could not check (offers), beside
	// Message, which says what went wrong.
	Notice string
	Form   checkoutForm
	Errors map[string]string // field name -> what is wrong with it
	// Fields is the markup of the form's fields, as the page shows them:
	// Form and Errors, put together by checkoutFields and rendered by the
	// template "checkout-fields" (see renderFields).
	Fields template.HTML
	// Confirmed, when set, is the total the shopper confirmed in a form
	// whose outcome is not known yet: the page sends it back as it was,
	// not a new quote, so that sending the form again is the same
	// checkout.
	Confirmed *bookshop.Money
}

// checkoutForm is what the shopper typed, shown again when the form comes
// back. The card's number and code are never sent back to the browser.
type checkoutForm struct {
	Name, Line1, Line2, City, PostalCode, Country string
	CardName, ExpMonth, ExpYear                   string
}

// blankForm is the form as the checkout page first shows it.
var blankForm = checkoutForm{Country: "DE"}

// checkoutFieldsets are the data of the template "checkout-fields".
type checkoutFieldsets struct {
	Address [6]formField
	Card    [5]formField
}

// renderFields renders the fields of the form f with what is wrong with
// them (errs). Those of the blank form, which every checkout page shows
// first, are rendered once, at start: the template prints six escaped
// values of each of the 11 fields (its name three times, its label, value
// and autocomplete), 66 calls of an escaper through reflect a page.
func (p *pages) renderFields(f checkoutForm, errs map[string]string) (template.HTML, error) {
	if f == blankForm && len(errs) == 0 {
		return p.blankFields, nil
	}
	var fs checkoutFieldsets
	fs.Address, fs.Card = checkoutFields(f, errs)
	// Not renderFragment: this is the page's, not kept.
	var b strings.Builder
	if err := p.checkout.ExecuteTemplate(&b, "checkout-fields", fs); err != nil {
		return "", fmt.Errorf("render checkout-fields: %w", err)
	}
	return template.HTML(b.String()), nil
}

// The limits of the address fields.
var addressFields = []struct {
	name, label string
	max         int
	required    bool
}{
	{"name", "Name", 100, true},
	{"line1", "Address", 200, true},
	{"line2", "Address (second line)", 200, false},
	{"city", "City", 100, true},
	{"postal_code", "Postal code", 20, true},
	{"country", "Country", 2, true},
}

// handleCheckout serves the checkout page (GET): the cart priced now, its
// total to confirm, and the form for the address and the card. A guest is
// sent to sign in first.
func (s *server) handleCheckout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.checkoutVisitor(w, r)
		if !ok {
			return
		}
		page := checkoutPage{Key: newToken(), Form: blankForm}
		s.renderCheckout(w, r, v, http.StatusOK, page)
	})
}

// checkoutVisitor returns the signed-in visitor of a checkout request, or
// answers for it: a guest is sent to sign in, and when Accounts cannot say
// who it is, the page says so.
func (s *server) checkoutVisitor(w http.ResponseWriter, r *http.Request) (*visitor, bool) {
	v := visitorOf(r)
	switch {
	case v.customer != nil:
		return v, true
	case v.accountsDown:
		s.renderError(w, r, http.StatusServiceUnavailable, messageAccountsDown)
	default:
		http.Redirect(w, r, "/signin?next=%2Fcheckout", http.StatusSeeOther)
	}
	return nil, false
}

// renderCheckout quotes v's cart and serves the checkout page with it. An
// empty cart sends the shopper back to the cart; after a form was sent
// (status is its answer's), the cart page answers it, saying why.
func (s *server) renderCheckout(w http.ResponseWriter, r *http.Request, v *visitor, status int, page checkoutPage) {
	ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout*3)
	quote, err := s.checkout.Quote(ctx, v.customer.ID, v.cartID())
	cancel()
	switch {
	case err != nil && page.Confirmed == nil:
		s.logger.WarnContext(r.Context(), "checkout failed; cannot quote the cart", "err", err)
		s.renderError(w, r, http.StatusServiceUnavailable, messageCheckoutUnavailable)
		return
	case err != nil:
		// A checkout whose outcome is not known, and a cart that cannot be
		// read now: the form comes back all the same, with its key and the
		// total confirmed, without the cart's lines, so that sending it
		// again is that checkout, which the Checkout finishes or answers
		// from its record. A page without the form would leave the
		// shopper only a new checkout, with a new key.
		s.logger.WarnContext(r.Context(), "checkout: cannot quote the cart; the form comes back without its lines", "err", err)
		quote, page.Message = bookshop.Quote{}, messageCheckoutUnsureNoCart
	}
	if len(quote.Lines) == 0 && page.Confirmed == nil {
		if r.Method != http.MethodPost {
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
			return
		}
		// A form sent for a cart emptied since (in another tab, perhaps by
		// an order placed there): a bare redirect to the cart would leave
		// the shopper to wonder whether they paid. The cart page says. Not
		// charged is known of a form refused here (400, 413: no call) or
		// by the Checkout (Conflict, Invalid: nothing charged); 413 keeps
		// its own words, as the form must be shortened to be sent again.
		msg := page.Message
		if status == http.StatusBadRequest || status == http.StatusConflict {
			msg = messageCheckoutEmptyCart
		}
		s.cartFailed(w, r, status, msg)
		return
	}
	page.Lines = page.Lines[:0]
	for _, l := range quote.Lines {
		page.Lines = append(page.Lines, cartLineView{ID: l.BookID, Title: l.Title, Price: l.UnitPrice.Format(), Quantity: l.Quantity, Total: l.Total.Format()})
	}
	short := make(map[int32]int)
	for _, sh := range quote.Short {
		short[sh.BookID] = sh.Available
	}
	for i := range page.Lines {
		if n, ok := short[page.Lines[i].ID]; ok {
			page.Short = true
			if n <= 0 {
				page.Lines[i].Warning = "Out of stock."
			} else {
				page.Lines[i].Warning = "Only " + strconv.Itoa(n) + " left."
			}
		}
	}
	if page.Short && page.Message == "" {
		page.Message = messageCheckoutShort
	}
	if quote.Total.Units > bookshop.MaxChargeUnits && page.Confirmed == nil {
		page.TooMuch = true
		page.Message = fmt.Sprintf(messageCheckoutTooMuch, quote.Total.Format(), bookshop.Money{Units: bookshop.MaxChargeUnits, Currency: quote.Total.Currency}.Format())
	}
	page.Subtotal, page.Total = quote.Subtotal.Format(), quote.Total.Format()
	page.Discount, page.DiscountLine = "", discountLine{}
	if quote.Discount.Units != 0 {
		page.Discount = "−" + quote.Discount.Format()
		name := s.promotionNames(r.Context(), quote.Promotions)
		label := cmp.Or(quote.DiscountLabel, name, promotionsclient.Name(""))
		title := ""
		for _, l := range quote.Lines {
			if l.BookID == quote.FreeBookID && quote.FreeBookID != 0 {
				title = l.Title
			}
		}
		page.DiscountLine = lineOf(label, name, title)
	}
	page.Notice = ""
	if quote.Discount.Units == 0 && len(quote.Lines) > 0 && page.Confirmed == nil &&
		s.offersUnknown(r.Context(), bookshop.PromoLinesOfOrder(quote.Lines)) {
		// As the cart page says: a total without the discount the order
		// may have earned must not look final.
		page.Notice = noticeCheckoutOffersUnknown
	}
	page.TotalUnits, page.Currency = quote.Total.Units, quote.Total.Currency
	if page.Confirmed == nil {
		page.LinesDigest = quote.LinesDigest
	}
	if c := page.Confirmed; c != nil {
		page.TotalUnits, page.Currency, page.Total = c.Units, c.Currency, c.Format()
		confirmedDiscount(&page, quote, *c, cmp.Or(s.promotionNames(r.Context(), quote.Promotions), promotionsclient.Name("")))
	}
	fields, err := s.pages.renderFields(page.Form, page.Errors)
	if err != nil {
		s.renderFailed(w, r, err)
		return
	}
	page.Fields = fields
	page.Layout = s.layout(r, "Checkout · "+siteTitle, noCategory)
	s.render(w, r, status, s.pages.checkout, page)
}

// checkoutFields returns the fields of the checkout form as the page
// shows them: what the shopper typed (never the card's number or code),
// and what is wrong with each. They are made here, not by a function that
// the template calls: text/template calls one through reflect, with a
// dozen allocations a call, eleven calls a page.
func checkoutFields(f checkoutForm, errs map[string]string) (address [6]formField, card [5]formField) {
	address = [6]formField{
		{Name: "name", Label: "Full name", Value: f.Name, Autocomplete: "name"},
		{Name: "line1", Label: "Address", Value: f.Line1, Autocomplete: "address-line1"},
		{Name: "line2", Label: "Address, second line (optional)", Value: f.Line2, Autocomplete: "address-line2"},
		{Name: "city", Label: "City", Value: f.City, Autocomplete: "address-level2"},
		{Name: "postal_code", Label: "Postal code", Value: f.PostalCode, Autocomplete: "postal-code"},
		{Name: "country", Label: "Country (two letters, such as DE)", Value: f.Country, Autocomplete: "country"},
	}
	card = [5]formField{
		{Name: "card_number", Label: "Card number", Autocomplete: "cc-number", Numeric: true},
		{Name: "exp_month", Label: "Expiry month (1 to 12)", Value: f.ExpMonth, Autocomplete: "cc-exp-month", Numeric: true},
		{Name: "exp_year", Label: "Expiry year (such as 2030)", Value: f.ExpYear, Autocomplete: "cc-exp-year", Numeric: true},
		{Name: "cvc", Label: "Security code (3 or 4 digits)", Autocomplete: "cc-csc", Numeric: true},
		{Name: "card_name", Label: "Name on the card", Value: f.CardName, Autocomplete: "cc-name"},
	}
	for i := range address {
		address[i].setError(errs[address[i].Name])
	}
	for i := range card {
		card[i].setError(errs[card[i].Name])
	}
	// What is wrong with the expiry as a whole (the card has expired) is
	// said after its year, the second of its fields, and marks both.
	if msg := errs[expiryField]; msg != "" {
		month, year := fieldNamed(card[:], "exp_month"), fieldNamed(card[:], "exp_year")
		year.setError(msg)
		month.ErrorID = year.ErrorID
	}
	return address, card
}

// fieldNamed returns the field of fields named name; there is one.
func fieldNamed(fields []formField, name string) *formField {
	return &fields[slices.IndexFunc(fields, func(f formField) bool { return f.Name == name })]
}

// setError shows msg beside f, or nothing when msg is "".
func (f *formField) setError(msg string) {
	if msg != "" {
		f.Error, f.ErrorID = msg, "e-"+f.Name
	}
}

// confirmedDiscount makes page's discount agree with the total c that its
// shopper confirmed, which the page shows in place of quote's: the
// checkout being completed holds (or spent) the customer's use of the
// promotion, so that quote, made now, gives no discount, and its lines
// add up to more than c. The discount shown is then what the lines add up
// to less c, on quote's line if it is quote's discount, and otherwise
// headed with name (quote's promotion's, or the generic one); and none
// when c is not below the subtotal (the cart changed since: the lines are
// the cart's now).
func confirmedDiscount(page *checkoutPage, quote bookshop.Quote, c bookshop.Money, name string) {
	sub := quote.Subtotal
	if c.Currency != sub.Currency || c.Units >= sub.Units || c.Units < 0 {
		page.Discount, page.DiscountLine = "", discountLine{}
		return
	}
	off := bookshop.Money{Units: sub.Units - c.Units, Currency: c.Currency}
	if off != quote.Discount {
		page.DiscountLine = discountLine{Before: name} // the quote's line is not this discount's
	}
	page.Discount = "−" + off.Format()
}

// handlePlaceOrder places the order the checkout form confirms (POST):
// the total the shopper saw, the shipping address and the card. Placed, it
// sends the shopper to the order's page. Otherwise the form comes back,
// with what went wrong: a field (beside it), a total that changed (the new
// one, to confirm), a book sold out, a card declined; the cart is kept.
func (s *server) handlePlaceOrder() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.checkoutVisitor(w, r)
		if !ok {
			return
		}
		if status, msg := readForm(r); status != 0 {
			s.renderCheckout(w, r, v, status, checkoutPage{Key: newToken(), Message: msg})
			return
		}
		f := r.PostForm
		page := checkoutPage{
			Key: f.Get("key"),
			Form: checkoutForm{
				Name: trimmed(f, "name"), Line1: trimmed(f, "line1"), Line2: trimmed(f, "line2"), City: trimmed(f, "city"),
				PostalCode: trimmed(f, "postal_code"), Country: strings.ToUpper(trimmed(f, "country")),
				CardName: trimmed(f, "card_name"), ExpMonth: trimmed(f, "exp_month"), ExpYear: trimmed(f, "exp_year"),
			},
			Errors: checkFields(f),
		}
		total, terr := formTotal(f)
		page.LinesDigest = f.Get("lines")
		if !validToken(page.Key) || terr != nil || page.LinesDigest != "" && !bookshop.ValidLinesDigest(page.LinesDigest) {
			page.Key = newToken()
			s.renderCheckout(w, r, v, http.StatusBadRequest, withMessage(page, messageBadForm))
			return
		}
		month, _ := strconv.Atoi(page.Form.ExpMonth)
		year, _ := strconv.Atoi(page.Form.ExpYear)
		card := bookshop.Card{Number: f.Get("card_number"), ExpMonth: month, ExpYear: year, CVC: f.Get("cvc"), Name: page.Form.CardName}
		// The card by the rules Payments will charge it by, in the same
		// answer as the address: a bad number or code is told now, beside
		// its field, not after a second round and a hold of the stock. Not
		// its date: a form sent again after an unsure answer is the same
		// checkout, which must reach the Checkout even if the card expired
		// since (Payments answers it from its record).
		for field, msg := range cardFieldErrors(paymentsclient.CheckCardFields(card)) {
			_, told := page.Errors[field]
			if field == expiryField {
				_, m := page.Errors["exp_month"]
				_, y := page.Errors["exp_year"]
				told = told || m || y
			}
			if !told {
				page.Errors[field] = msg
			}
		}
		if len(page.Errors) > 0 {
			s.renderCheckout(w, r, v, http.StatusBadRequest, withMessage(page, messageFixFields))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout*checkoutCalls)
		order, err := s.checkout.Place(ctx, bookshop.PlaceOrder{
			Key:         page.Key,
			CustomerID:  v.customer.ID,
			CartID:      v.cartID(),
			Total:       total,
			LinesDigest: page.LinesDigest,
			Shipping: bookshop.Address{
				Name: page.Form.Name, Line1: page.Form.Line1, Line2: page.Form.Line2, City: page.Form.City,
				PostalCode: page.Form.PostalCode, Country: page.Form.Country,
			},
			Card: card,
		})
		cancel()
		switch bookshop.ErrorCode(err) {
		case "":
			s.clearCookie(w, r, countCookieName) // the cart changed
			s.offers.forget(v.customer.ID)       // the promotion may be used
			http.Redirect(w, r, "/orders/"+url.PathEscape(order.ID)+"?placed=1", http.StatusSeeOther)
			return
		case bookshop.Invalid:
			// A field the services found wrong ("card number: ..."), or the
			// request: the message is for the shopper. A checkout that
			// failed is done with its key: the next try is another.
			page.Key = newToken()
			msg := bookshop.ErrorMessage(err)
			if fields := cardFieldErrors(err); len(fields) > 0 {
				page.Errors, msg = fields, messageFixFields
			}
			s.renderCheckout(w, r, v, http.StatusBadRequest, withMessage(page, msg))
		case bookshop.Conflict:
			// The total or the cart changed, a book sold out, the card was
			// declined, or another checkout of the cart is under way: the
			// page shows the cart as it is now, and a new total.
			page.Key = newToken()
			s.renderCheckout(w, r, v, http.StatusConflict, withMessage(page, conflictMessage(bookshop.ErrorMessage(err))))
		case bookshop.Unavailable:
			if checkoutclient.NotPlaced(err) {
				// Known to have ended with no order and nothing charged (the
				// processor or the stock could not be reached): the Checkout
				// says why. The form keeps its key and total: a checkout that
				// ended so is tried again as the request that comes next.
				s.logger.WarnContext(r.Context(), "checkout not placed", "err", err)
				page.Message, page.Confirmed = conflictMessage(bookshop.ErrorMessage(err)), &total
				s.renderCheckout(w, r, v, http.StatusServiceUnavailable, page)
				return
			}
			// Not known to have failed (a deadline passed, a service did
			// not answer): the checkout may be under way. The form comes
			// back with its key and the total confirmed, so that sending it
			// again is the same checkout, which the Checkout finishes or
			// answers from its record, and never a second one.
			s.logger.WarnContext(r.Context(), "checkout failed; the order's outcome is not known", "err", err)
			page.Message, page.Confirmed = messageCheckoutUnsure, &total
			s.renderCheckout(w, r, v, http.StatusServiceUnavailable, page)
		default:
			// Failed for good on our side: the Checkout undoes what it did.
			s.logger.ErrorContext(r.Context(), "checkout failed", "err", err)
			page.Key = newToken()
			s.renderCheckout(w, r, v, http.StatusServiceUnavailable, withMessage(page, messageCheckoutFailed))
		}
	})
}

// conflictMessage returns msg, the Checkout's words for a checkout it
// refused (Conflict), as the page says them: in sentences. The Checkout
// words each as one clause of what happened and, after its last "; ",
// what to do (see checkoutclient.Client.Place): "the total is now
// €23.97, not the €15.98 you confirmed: a price or your cart changed;
// check the new total and confirm it", "sold out: "Feeling Good" has no
// copy left; change your cart to check out"; those are each made two
// sentences, with what they name kept (the new total, the book). A
// declined card ("card declined: insufficient funds") is said with its
// reason, that nothing was charged, and to use another card, which the
// Checkout's words leave out.
func conflictMessage(msg string) string {
	if reason, ok := strings.CutPrefix(msg, "card declined:"); ok {
		if reason = strings.TrimRight(strings.TrimSpace(reason), "."); reason == "" {
			return messageCardDeclinedNoReason
		}
		return fmt.Sprintf(messageCardDeclined, reason)
	}
	// The last "; ": a title in what happened may hold one, never the
	// advice after it.
	if i := strings.LastIndex(msg, "; "); i > 0 {
		return sentence(msg[:i]) + " " + sentence(msg[i+2:])
	}
	return sentence(msg)
}

// sentence returns s with a capital first letter and a full stop, unless
// it ends with one already (or with ? or !).
func sentence(s string) string {
	s = strings.TrimSpace(s)
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
		s += "."
	}
	return s
}

// trimmed returns the form's field name without spaces around it, and
// with each tab or line break in it, which a paste into a field keeps, as
// a space.
func trimmed(f url.Values, name string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, strings.TrimSpace(f.Get(name)))
}

// checkoutCalls is how many call timeouts a checkout may take: it calls
// Cart, the Catalog, Inventory (hold, then commit), Promotions (claim,
// then confirm), Payments, Orders and the Cart again, in turn.
const checkoutCalls = 9

func withMessage(p checkoutPage, msg string) checkoutPage {
	p.Message = msg
	return p
}

// checkFields checks the address and the card's fields for what the
// Marketplace can tell alone: present, and not too long. The card's rules
// (its number, its code) are the Payments service's, which
// handlePlaceOrder applies too, through paymentsclient.CheckCardFields.
func checkFields(f url.Values) map[string]string {
	errs := make(map[string]string)
	for _, a := range addressFields {
		v := trimmed(f, a.name)
		switch {
		case a.required && !bookshop.Visible(v): // empty, or only characters that show nothing
			errs[a.name] = a.label + " is required."
		case v != "" && !bookshop.Visible(v):
			errs[a.name] = a.label + " shows nothing: write it, or leave it empty."
		case utf8.RuneCountInString(v) > a.max:
			errs[a.name] = a.label + " is too long: at most " + strconv.Itoa(a.max) + " characters."
		case strings.IndexFunc(v, unicode.IsControl) >= 0:
			// What the Checkout refuses, told here, beside the field.
			errs[a.name] = a.label + ": use letters, digits, spaces and punctuation only."
		}
	}
	if c := strings.TrimSpace(f.Get("country")); c != "" {
		switch upper := strings.ToUpper(c); {
		case len(c) != 2 || strings.IndexFunc(upper, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0:
			errs["country"] = "Country: use its two-letter code, such as DE or FR."
		case !shippingCountry(upper):
			// Two letters that no country has (ZZ, UK): an address that
			// cannot be shipped to, told before it is charged.
			errs["country"] = "Country: " + upper + " is not the code of a country. Use its two-letter code, such as DE or FR."
		}
	}
	if strings.TrimSpace(f.Get("card_number")) == "" {
		errs["card_number"] = "Card number is required."
	}
	// Read as the form shows them back and as handlePlaceOrder sends
	// them (trimmed): " 5" is refused otherwise, and shown as a valid 5.
	if m, err := strconv.Atoi(trimmed(f, "exp_month")); err != nil || m < 1 || m > 12 {
		errs["exp_month"] = "Expiry month: a number from 1 to 12."
	}
	if y, err := strconv.Atoi(trimmed(f, "exp_year")); err != nil || y < 2000 || y > 2100 {
		errs["exp_year"] = "Expiry year: four digits, such as 2030."
	}
	if strings.TrimSpace(f.Get("cvc")) == "" {
		errs["cvc"] = "Security code is required."
	}
	if strings.TrimSpace(f.Get("card_name")) == "" {
		errs["card_name"] = "Name on the card is required."
	}
	return errs
}

// formTotal reads the total the shopper confirmed.
func formTotal(f url.Values) (bookshop.Money, error) {
	units, err := strconv.ParseInt(f.Get("total_units"), 10, 64)
	if err != nil || units < 1 { // the page never confirms a total of nothing
		return bookshop.Money{}, bookshop.Errorf(bookshop.Invalid, "bad total")
	}
	currency := f.Get("currency")
	if err := bookshop.CheckCurrency(currency); err != nil {
		return bookshop.Money{}, err
	}
	return bookshop.Money{Units: units, Currency: currency}, nil
}

// expiryField is the key, among a form's errors, of what is wrong with
// the card's expiry as a whole: its month and year together.
const expiryField = "expiry"

// cardFormFields are the form's fields of the card, by the name Payments
// gives them in its errors.
var cardFormFields = map[string]struct{ field, label string }{
	paymentsclient.FieldNumber: {"card_number", "Card number"},
	paymentsclient.FieldExpiry: {expiryField, "Expiry"},
	paymentsclient.FieldCVC:    {"cvc", "Security code"},
	paymentsclient.FieldName:   {"card_name", "Name on the card"},
}

// cardFieldErrors returns what Payments found wrong with the card (or
// its rules, paymentsclient.CheckCard, find), by the form's field, each
// to show beside its field.
func cardFieldErrors(err error) map[string]string {
	problems := paymentsclient.CardErrors(err)
	if len(problems) == 0 {
		return nil
	}
	errs := make(map[string]string, len(problems))
	for field, text := range problems {
		if f, ok := cardFormFields[field]; ok {
			errs[f.field] = f.label + ": " + text
		}
	}
	return errs
}
