// Package checkout is the Checkout service: the one place that places an
// order. It reads the shopper's cart (Cart), prices every line from the
// Catalog, holds the stock (Inventory), claims the customer's one use of
// the promotion, whose discount the order gets (Promotions), charges the
// card (Payments), confirms the claim, takes the stock held for good,
// records the order (Orders) and takes the books bought out of the cart;
// when a step fails, it undoes what was done (the hold released, the
// charge refunded, the claim released) and leaves the cart as it was.
//
// The slice: the rules of a checkout here; the [Service], which runs
// checkouts as sagas and recovers the unfinished ones (service.go), over
// the records of package saga;
// the gRPC server of bookshop.checkout.v1.CheckoutService (server.go), with
// its request rules and authorization entries ([Policy]); its metrics;
// [Config] and [Run]; the saga log in package sqlite (a file, the
// default) or package postgres (a database that replicas share), both
// keeping the same records by the same rules (package storetest); and,
// for callers, package checkoutclient.
//
// # The saga
//
// A checkout is recorded in the saga log (a saga.Record in the [Store])
// before any other service is asked to do anything, and each step's
// outcome is recorded before the next step acts on it, but one: the
// claim confirmed is recorded with the stock committed, the step after
// it, as a checkout taken up before that confirms again, which changes
// nothing. A crash of the process loses nothing recorded. Against a
// power cut, the record and the claim's answer are on the disk before
// the card is charged (a hold, or a claim, made by a checkout whose
// record the cut took expires by itself: the claim holds the customer's
// use until then), and the checkout when it ends; the steps between
// (Charged, Committed, with the claim confirmed) reach the disk with the
// next sync (see Store.SaveUnsynced): a power cut before it takes the
// checkout back a step or two, to steps that are done again by their
// keys, once. Every call to another service carries an idempotency key
// made from the checkout's own random id (saga.Record's HoldKey,
// PromoKey, PayKey, OrderKey and CartKey), so that doing a step again,
// after a crash or a lost answer, does it once. A cart is checked out
// under one key at a time: the log records no checkout of a cart while
// another key's checkout of it has not ended, nor one whose cart another
// key's checkout bought after the log's mark, read before the cart was
// (see Store.Begin and saga.Mark); with a log that keeps no marks, a
// checkout recorded reads its cart again, failing if it changed since it
// was priced. So two forms of one cart sent at once buy it once. The
// states:
//
//   - Reserving: recorded, with the lines priced, the total the shopper
//     confirmed, and whether the checkout claims the promotion (its
//     lines may earn it: as many copies as the offer's MinBooks). Next: hold
//     the stock; then claim the promotion, if so, and record the answer
//     (see below); then, if the total is the one the shopper confirmed,
//     charge the card, and otherwise fail ("the total is now ..."),
//     undone, nothing charged. The card is never recorded, so only the
//     request that carries it can charge: a checkout found in this state
//     by anyone else (the recoverer, after a crash) is finished if its
//     charge went through (Payments is asked by key), and undone
//     otherwise, the charge's key cancelled so that a charge still in
//     flight takes nothing.
//   - Charged: the hold's id and the charge's id recorded. Next: confirm
//     the claim of the promotion whose discount was charged (Granted: see
//     below), then take the stock held for good (Commit). Both come
//     before the order is recorded, so that no order exists without its
//     stock and its discount kept; and the claim first, as a confirmed
//     claim can be released and stock taken cannot be given back. A claim
//     that cannot be kept (another checkout of the customer took the use
//     after it expired), or a hold that expired meanwhile and cannot be
//     taken, undoes the checkout: the charge refunded, the hold and the
//     claim released (no order was asked for), nothing lost.
//   - Committed: the stock taken. Next: record the order (by its key:
//     once, however often it is asked), then release a claim that gave no
//     discount (Unanswered) and take the lines bought out of the cart.
//     The stock is never asked for again (the hold's record may be gone
//     by the time the checkout is taken up), and the charge is refunded
//     only if Orders refuses the order as malformed, which records none
//     (the stock, taken, stays taken then, logged for an operator): never
//     once an order may exist. A power cut that takes the checkout back
//     to Charged or Reserving (see above) has the hold asked for again,
//     by its id or its key, which the Inventory answers as committed for
//     a week (inventory.RecordTTL): recovery within that week holds all
//     of this; after it, the hold is not found, and the checkout is
//     undone (from Charged) or holds the stock again (from Reserving).
//   - Ordered: the order recorded; a claim not yet released, or the
//     cart's lines not yet taken out (Promotions or the Cart could not be
//     reached). The order is placed.
//   - Undoing: a step failed for good (a book sold out, a card
//     declined, a total changed); the error for the shopper is recorded.
//     Next: refund the charge, release the hold and release the claim,
//     whichever were done.
//   - Done and Failed: ended, with the order or the error.
//
// # The promotion
//
// The promotion is the Promotions service's: it says which carts get
// which discount, in which words, and lets each customer use it once.
// The Checkout knows no campaign: of a cart, it knows only whether it
// holds as many copies as the offer's MinBooks (the offer is asked once
// a minute), and asks Promotions about no other. A quote asks it for the
// cart's discount now, and carries its label for the page; a checkout
// whose lines may earn it claims the customer's one use under its
// PromoKey, after the hold and before the charge, and records the
// answer (saga.ClaimState) before it charges anything: Granted, with the
// discount, which the order records with the promotion's code; Refused
// (the campaign is over, the order earns nothing, the customer has used
// it, or another of their checkouts holds it), no discount; Unanswered
// (Promotions did not answer in time), no discount, and the claim, which
// may have been made, released. The total charged must be the subtotal
// less the discount granted, and the one the shopper confirmed: a
// shopper whose discount is gone is told the new total, and why, in a
// sentence of the refusal's reason ("The offer was not applied: you have
// already used it."). So a shopper is charged the total they confirmed, or nothing:
// of two checkouts of one customer at once, each confirming the discount
// that its quote showed, one gets the claim and the other is told the
// new total, nothing charged. With Promotions down, carts are quoted and
// charged at their full price. The claim is confirmed (the use spent)
// once the charge went through, before the stock is taken and the order
// recorded, and released when the checkout is undone, confirmed or not
// (it is undone only before its order is recorded), each retried by the
// recoverer until Promotions answers. A claim that the Checkout never
// settles expires by itself (a setting of the Promotions service); a
// paid checkout whose claim expired before it could be confirmed
// (Promotions down) goes on only if Promotions still confirms it (no
// other checkout of the customer took the use meanwhile): otherwise it is
// undone, the charge refunded and the hold released. So a customer has
// at most one order with the discount, its use is spent when it has one,
// and neither the stock nor the use is lost whichever of the claim and
// the hold expires first.
//
// A checkout that cannot go on now (a service it needs is down) stays in
// its state, and the recoverer ([Service.Recover]) takes it up again: when
// the service starts, and every few seconds, the paid ones first, a few at
// a time, each that stalls again waiting twice as long as before (up to
// five minutes), so that those stuck on a service down leave the others
// their turn. So these hold, whatever is killed when: no charge stays
// without an order (or a refund); no charge is of another total than the
// one the shopper confirmed; no order is recorded without its stock
// taken; no hold outlives its expiry (the Inventory ends it by itself); no
// order is recorded twice; a customer has at most one order with the
// promotion's discount, and its use is spent when they have it.
//
// # Replicas
//
// Several Checkouts may share one saga log (in PostgreSQL), each a
// replica. A checkout is worked on by one replica at a time: the one that
// holds its lease (saga.Lease), recorded with it, taken by the request
// that begins it, or by a request or a recoverer that finds it unfinished
// and no one else's, and given back when the checkout ends or stalls. It
// runs for longer than a checkout may run (-place-timeout, and a margin),
// so that a replica that died holds nothing for long: its checkouts are
// taken up by the others' recoverers once its leases expire. A request of
// a key whose checkout another replica works on waits for its outcome, as
// one waits for another request of this replica; a recoverer passes it
// over. So a key starts one checkout whichever replicas its requests
// reach, a checkout in flight on one replica is never taken up by
// another's recoverer, and each unfinished one is taken up by one at a
// time. A replica that lost its lease (it outlived it) can no longer
// write the record, and its calls, made with the checkout's keys, do
// nothing twice.
//
// # The key
//
// The checkout form's key is one checkout: a request with a key whose
// checkout is under way (running, or unfinished) is answered with that
// checkout's outcome, whatever cart, total or address it carries, so that
// a key never starts a second checkout while its first may still charge.
// Once the checkout has ended, the key answers its outcome; but a
// checkout undone with nothing charged (Unavailable) lets a request with
// the key try again, as itself, and a request for another cart, total,
// address or books (see [Fingerprint]) than the one that placed an order
// is told that the form placed that order.
package checkout

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
)

// MaxKeyLen is the longest idempotency key of a checkout, and the
// longest cart id.
const MaxKeyLen = 64

// KeyTTL is how long the record of an ended checkout is kept, and so its
// key: a request with the key within it returns the checkout's outcome;
// the sweeper deletes the older records.
const KeyTTL = 24 * time.Hour

// CheckKey returns an Invalid error unless key is an idempotency key: 1
// to MaxKeyLen characters of A-Z, a-z, 0-9, '-' and '_'.
func CheckKey(key string) error { return checkName("idempotency key", key) }

// CheckCartID returns an Invalid error unless id could name a cart: 1 to
// MaxKeyLen characters of A-Z, a-z, 0-9, '-' and '_', as the Cart
// service's ids are.
func CheckCartID(id string) error { return checkName("cart id", id) }

// CheckCustomer returns an Invalid error for a customer id under 1.
func CheckCustomer(id int32) error {
	if id < 1 {
		return bookshop.Errorf(bookshop.Invalid, "customer id %d: want 1 or more", id)
	}
	return nil
}

// checkName returns an Invalid error, about what, unless name has 1 to
// MaxKeyLen characters of A-Z, a-z, 0-9, '-' and '_'.
func checkName(what, name string) error {
	if name == "" || len(name) > MaxKeyLen {
		return bookshop.Errorf(bookshop.Invalid, "%s %q: want 1 to %d characters", what, truncate(name), MaxKeyLen)
	}
	for i := range len(name) {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return bookshop.Errorf(bookshop.Invalid, "%s %q: only letters A to Z, digits, '-' and '_' are allowed", what, truncate(name))
		}
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > MaxKeyLen+8 {
		return s[:MaxKeyLen] + "..."
	}
	return s
}

// The limits of a shipping address, as Orders keeps one.
const (
	maxNameLen   = 100
	maxLineLen   = 200
	maxCityLen   = 100
	maxPostalLen = 20
)

// CheckAddress returns an Invalid error unless a is a complete shipping
// address: a name (1 to 100 characters), a first line (1 to 200), an
// optional second line (up to 200), a city (1 to 100), a postal code (1 to
// 20), and a country of two capital letters (ISO 3166-1 alpha-2); no
// control characters, none only spaces or invisible characters. The
// message starts with "shipping address: " and names the field.
func CheckAddress(a bookshop.Address) error {
	for _, f := range []struct {
		name, value string
		max         int
		optional    bool
	}{
		{"name", a.Name, maxNameLen, false},
		{"address", a.Line1, maxLineLen, false},
		{"second address line", a.Line2, maxLineLen, true},
		{"city", a.City, maxCityLen, false},
		{"postal code", a.PostalCode, maxPostalLen, false},
	} {
		switch n := utf8.RuneCountInString(f.value); {
		case f.optional && f.value == "":
		case !bookshop.Visible(f.value): // only spaces or invisible characters
			return bookshop.Errorf(bookshop.Invalid, "shipping address: %s: required", f.name)
		case n > f.max:
			return bookshop.Errorf(bookshop.Invalid, "shipping address: %s: at most %d characters, not %d", f.name, f.max, n)
		case !utf8.ValidString(f.value) || strings.IndexFunc(f.value, unicode.IsControl) >= 0:
			return bookshop.Errorf(bookshop.Invalid, "shipping address: %s: only printable characters", f.name)
		}
	}
	if len(a.Country) != 2 || strings.IndexFunc(a.Country, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return bookshop.Errorf(bookshop.Invalid, "shipping address: country: want a code of two capital letters, such as DE")
	}
	return nil
}

// The limits of a card's fields as Checkout lets them through to
// Payments, whose rules they are: Checkout only refuses what could be no
// card at all, before it holds any stock.
const (
	maxCardNumberLen = paymentsclient.MaxNumberLen
	maxCVCLen        = 4
	maxCardNameLen   = paymentsclient.MaxNameLen
)

// CheckCard returns an Invalid error for a card whose fields could not be
// a card's at all: a number missing or over 32 characters, an expiry
// month outside 1 to 12 or a year not of four digits, a CVC missing or
// over 4 characters, a name over 100 characters. The rest (Luhn, the
// brand, the expiry in the future) is the Payments service's to check.
// The message names the field as Payments does ("card number: ...").
func CheckCard(c bookshop.Card) error {
	switch {
	case strings.TrimSpace(c.Number) == "":
		return bookshop.Errorf(bookshop.Invalid, "card number: required")
	case len(c.Number) > maxCardNumberLen:
		return bookshop.Errorf(bookshop.Invalid, "card number: at most %d characters", maxCardNumberLen)
	case c.ExpMonth < 1 || c.ExpMonth > 12:
		return bookshop.Errorf(bookshop.Invalid, "expiry: the month is 1 to 12")
	case c.ExpYear < 1000 || c.ExpYear > 9999:
		return bookshop.Errorf(bookshop.Invalid, "expiry: the year has four digits")
	case c.CVC == "":
		return bookshop.Errorf(bookshop.Invalid, "cvc: required")
	case len(c.CVC) > maxCVCLen:
		return bookshop.Errorf(bookshop.Invalid, "cvc: at most %d digits", maxCVCLen)
	case utf8.RuneCountInString(c.Name) > maxCardNameLen:
		return bookshop.Errorf(bookshop.Invalid, "cardholder name: at most %d characters", maxCardNameLen)
	}
	return nil
}

// CheckPlace returns an Invalid error unless req could be placed: a key,
// a customer, a cart id, a total more than zero in a currency, a complete
// shipping address and a card (see CheckCard). Whether the total is the
// cart's is for Place to find.
func CheckPlace(req bookshop.PlaceOrder) error {
	if err := CheckKey(req.Key); err != nil {
		return err
	}
	if err := CheckCustomer(req.CustomerID); err != nil {
		return err
	}
	if err := CheckCartID(req.CartID); err != nil {
		return err
	}
	if req.Total == (bookshop.Money{}) {
		return bookshop.Errorf(bookshop.Invalid, "total: required: the total the shopper confirmed")
	}
	if err := bookshop.CheckCurrency(req.Total.Currency); err != nil {
		return bookshop.Errorf(bookshop.Invalid, "total: %s", bookshop.ErrorMessage(err))
	}
	if req.Total.Units <= 0 {
		return bookshop.Errorf(bookshop.Invalid, "total %s: want more than zero", req.Total)
	}
	if err := checkDigest(req.LinesDigest); err != nil {
		return err
	}
	if err := CheckAddress(req.Shipping); err != nil {
		return err
	}
	return CheckCard(req.Card)
}

// fingerprintSep separates a fingerprint's two hashes.
const fingerprintSep = "/"

// Fingerprint returns what tells one checkout request from another under
// the same key: a hash of the request's cart id, total and shipping
// address, then "/", then a hash of lines, the books and quantities of
// the cart as read for it (in any order: the same book's quantities are
// added up). The card is not in it: it is never kept.
func Fingerprint(req bookshop.PlaceOrder, lines []bookshop.StockLine) string {
	return requestHash(req) + fingerprintSep + LinesDigest(lines)
}

// requestHash returns the hash of req's cart id, total and shipping
// address, each field's length before it, so that "ab"+"c" is not
// "a"+"bc".
func requestHash(req bookshop.PlaceOrder) string {
	h := sha256.New()
	for _, s := range []string{
		req.CartID, strconv.FormatInt(req.Total.Units, 10), req.Total.Currency,
		req.Shipping.Name, req.Shipping.Line1, req.Shipping.Line2, req.Shipping.City, req.Shipping.PostalCode, req.Shipping.Country,
	} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// LinesDigest returns what tells lines from others: the SHA-256, in hex,
// of their books and quantities, in the order of the books' ids, each
// book once with its quantities added up; so the same in any order. A
// quote carries it (bookshop.Quote.LinesDigest), and a fingerprint ends
// with it.
func LinesDigest(lines []bookshop.StockLine) string {
	quantities := make(map[int32]int, len(lines))
	for _, l := range lines {
		quantities[l.BookID] += l.Quantity
	}
	h := sha256.New()
	for _, id := range slices.Sorted(maps.Keys(quantities)) {
		fmt.Fprintf(h, "%d:%d;", id, quantities[id])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cartLines returns the books and quantities of a cart's lines.
func cartLines(lines []bookshop.CartLine) []bookshop.StockLine {
	out := make([]bookshop.StockLine, len(lines))
	for i, l := range lines {
		out[i] = bookshop.StockLine{BookID: l.Book.ID, Quantity: l.Quantity}
	}
	return out
}

// quoteLines returns the books and quantities of q's lines: those of the
// cart it priced.
func quoteLines(q bookshop.Quote) []bookshop.StockLine {
	out := make([]bookshop.StockLine, len(q.Lines))
	for i, l := range q.Lines {
		out[i] = bookshop.StockLine{BookID: l.BookID, Quantity: l.Quantity}
	}
	return out
}

// Priced returns the quote of a cart's lines, each priced from books (by
// id): the Catalog's current price times the line's quantity, in the
// cart's order; the subtotal, no discount, the total, and the lines'
// digest (see LinesDigest). A line whose
// book is missing from books, or has no price, is quoted with its id, its
// quantity and the title known (the book's, else the cart's), but no
// price, out of the subtotal, and is returned in unsold: the Catalog does
// not sell it. A quote of no priced line has zero amounts. Errors:
// Internal when the prices have different currencies or the sum does not
// fit (the Catalog has one currency and bounded prices, so neither should
// happen, unless the shop's currency changed within the minute the
// Checkout keeps the books it read: see docs/configuration.md).
func Priced(lines []bookshop.CartLine, books map[int32]bookshop.Book) (q bookshop.Quote, unsold []int32, err error) {
	q.Lines = make([]bookshop.OrderLine, 0, len(lines))
	for _, l := range lines {
		b, ok := books[l.Book.ID]
		if !ok || b.Price == (bookshop.Money{}) {
			q.Lines = append(q.Lines, bookshop.OrderLine{BookID: l.Book.ID, Title: cmp.Or(b.Title, l.Book.Title), Quantity: l.Quantity})
			unsold = append(unsold, l.Book.ID)
			continue
		}
		total, err := b.Price.Mul(int64(l.Quantity))
		if err == nil {
			if q.Subtotal == (bookshop.Money{}) {
				q.Subtotal = total
			} else {
				q.Subtotal, err = q.Subtotal.Add(total)
			}
		}
		if err != nil {
			// Not %w: the kernel's Invalid would reach the caller, who did
			// nothing wrong.
			return bookshop.Quote{}, nil, fmt.Errorf("price book %d: %v", b.ID, err)
		}
		q.Lines = append(q.Lines, bookshop.OrderLine{BookID: b.ID, Title: b.Title, UnitPrice: b.Price, Quantity: l.Quantity, Total: total})
	}
	if q.Subtotal != (bookshop.Money{}) {
		q.Discount = bookshop.Money{Currency: q.Subtotal.Currency}
		q.Total = q.Subtotal // subtotal minus a discount of 0
	}
	if len(q.Lines) > 0 {
		q.LinesDigest = LinesDigest(quoteLines(q))
	}
	return q, unsold, nil
}

// checkDigest returns Invalid unless digest, a PlaceOrder's LinesDigest,
// is empty or as LinesDigest makes them: 64 lower-case hex digits.
func checkDigest(digest string) error {
	if digest == "" {
		return nil
	}
	if !bookshop.ValidLinesDigest(digest) {
		return bookshop.Errorf(bookshop.Invalid, "lines digest: want 64 lower-case hex digits, the quote's")
	}
	return nil
}

// Short returns the lines of q that cannot be bought as they are: those
// of unsold, with 0 available, and those with fewer copies available in
// stock than their quantity; in q's order.
func Short(q bookshop.Quote, unsold []int32, stock map[int32]int) []bookshop.SoldOut {
	var short []bookshop.SoldOut
	for _, l := range q.Lines {
		switch {
		case contains(unsold, l.BookID):
			short = append(short, bookshop.SoldOut{BookID: l.BookID, Available: 0})
		case stock[l.BookID] < l.Quantity:
			short = append(short, bookshop.SoldOut{BookID: l.BookID, Available: max(stock[l.BookID], 0)})
		}
	}
	return short
}

func contains(ids []int32, id int32) bool {
	for _, i := range ids {
		if i == id {
			return true
		}
	}
	return false
}

// SoldOutMessage says, for the shopper, which books of lines have too few
// copies: short are the books and the copies left, as the Inventory
// answers a hold it refused. It starts with "sold out: ", and names each
// book by its title in quotation marks (“Dune”), or by its id when the
// lines have none.
func SoldOutMessage(lines []bookshop.OrderLine, short []bookshop.SoldOut) string {
	parts := make([]string, 0, len(short))
	for _, s := range short {
		title := fmt.Sprintf("book %d", s.BookID)
		for _, l := range lines {
			if l.BookID == s.BookID && l.Title != "" {
				title = "“" + l.Title + "”"
			}
		}
		switch s.Available {
		case 0:
			parts = append(parts, title+" has no copy left")
		case 1:
			parts = append(parts, title+" has only 1 copy left")
		default:
			parts = append(parts, fmt.Sprintf("%s has only %d copies left", title, s.Available))
		}
	}
	if len(parts) == 0 {
		return "sold out: a book in your cart has too few copies left; change your cart to check out"
	}
	return "sold out: " + strings.Join(parts, ", ") + "; change your cart to check out"
}
