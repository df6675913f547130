package marketplace

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
)

// Messages of the cart. A change the Cart refuses as past its limits
// (Conflict) is said in these words, from the cart as it is (see
// addRefused): the Cart's own message is written for its callers.
const (
	noticeCartUnavailable = "Your cart is unavailable right now. Please try again in a moment."
	noticeNoPrices        = "Prices are unavailable right now, so your cart cannot be priced or checked out. Please try again in a moment."
	noticeOffersUnknown   = "Offers cannot be checked right now: the checkout shows your order's final total."
	messageNotForSale     = "We have no such book for sale."
	messageNotInCart      = "That book is not in your cart."
	messageBadBook        = "Choose a book to add."
	messageCartChanged    = "Your cart changed in the meantime. Please look at it and try again."
)

// The messages of an addition past the cart's limits.
var (
	messageCartFull     = fmt.Sprintf("Your cart already holds %d different books, the most it can: remove one to add another.", bookshop.MaxCartLines)
	messageAtMostCopies = fmt.Sprintf("Your cart already holds %%d copies of this book, and holds at most %d of one book: you can add %%d more.", bookshop.MaxQuantity)
	messageMostCopies   = fmt.Sprintf("Your cart already holds %d copies of this book, the most it can hold of one book.", bookshop.MaxQuantity)
	messageCartLimits   = fmt.Sprintf("We could not add the book: a cart holds at most %d copies of one book, and %d different books.", bookshop.MaxQuantity, bookshop.MaxCartLines)
)

// The messages of a quantity out of bookshop's limits.
var (
	messageBadQuantity    = fmt.Sprintf("Choose a quantity from 0 to %d.", bookshop.MaxQuantity)
	messageBadAddQuantity = fmt.Sprintf("Choose a quantity from 1 to %d.", bookshop.MaxQuantity)
)

// cartPage is the data of cart.html.
type cartPage struct {
	Layout   layout
	Lines    []cartLineView
	Count    int
	Subtotal string
	// Discount is the promotion's, "−€7.99", and Total the total after
	// it; DiscountGuest says it applies once signed in.
	Discount, Total string
	DiscountGuest   bool
	// DiscountLine is Discount's line, in the words of Promotions (see
	// discountLabel).
	DiscountLine   discountLine
	MaxQuantity    int
	Notice         string // the cart could not be shown, or priced
	Message        string // what happened to the last change
	MessageIsError bool
	// Unpriced says the lines are shown without prices (the Catalog could
	// not price them): no totals, no changes, no checkout.
	Unpriced bool
}

// cartLineView is a line of the cart as the page shows it.
type cartLineView struct {
	ID       int32
	Title    string
	Author   string
	Price    string
	Quantity int
	Total    string
	// Unavailable marks a book the Catalog no longer sells: it is in the
	// count, not in the subtotal.
	Unavailable bool
	// Warning says the line holds more copies than are left.
	Warning string
}

// handleCart serves the visitor's cart, priced by the Cart service from
// the Catalog's current prices. If it cannot be had, the page says so,
// with 503; if only its prices cannot (the Catalog is down), the page
// lists its lines without them, with 503 and a notice, and no checkout.
func (s *server) handleCart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := cartPage{MaxQuantity: bookshop.MaxQuantity}
		status := http.StatusOK
		v := visitorOf(r)
		if v.accountsDown {
			// A signed-in shopper whose session cannot be checked: their
			// cart is the customer's, which we cannot name.
			page.Notice, status = noticeCartUnavailable, http.StatusServiceUnavailable
		} else if id := v.cartID(); id != "" {
			ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
			cart, err := s.carts.Cart(ctx, id)
			var lines []bookshop.CartLine
			if bookshop.ErrorCode(err) == bookshop.Unavailable {
				// Perhaps only the Catalog, which prices the cart, is down:
				// the lines come from the Cart alone (none if it is the one
				// down, or the cart is empty).
				lines, _ = s.carts.Lines(ctx, id)
			}
			cancel()
			switch {
			case err != nil && len(lines) > 0:
				s.logger.WarnContext(r.Context(), "cart failed; showing the cart without prices", "err", err)
				page.setUnpriced(lines, s.recommended.get)
				page.Notice, status = noticeNoPrices, http.StatusServiceUnavailable
				s.setCount(w, r, v, page.Count)
			case err != nil:
				s.logger.WarnContext(r.Context(), "cart failed; cannot show the cart", "err", err)
				page.Notice, status = noticeCartUnavailable, http.StatusServiceUnavailable
			default:
				page.setCart(cart)
				page.warnStock(s.stockOf(r.Context(), cartBooks(cart)))
				switch d, ok, known := s.cartDiscount(r.Context(), cart); {
				case ok:
					page.setDiscount(cart, d, s.discountLabel(r.Context(), d), s.promotionName(r.Context(), d.Code), v.customer == nil)
				case !known && s.offers.mayEarn(bookshop.PromoLinesOfCart(cart.Lines)):
					// A discount the cart may have earned is not shown:
					// say why, rather than let the total look final. Not
					// for a cart too small to earn one, by what Promotions
					// said of its campaign when it last could.
					page.Notice = noticeOffersUnknown
				}
				s.setCount(w, r, v, cart.Count) // the header agrees with the page
			}
		}
		page.Layout = s.layout(r, "Your cart · "+siteTitle, noCategory)
		s.render(w, r, status, s.pages.cart, page)
	})
}

// setCart puts cart's lines and totals on the page. A line whose book the
// Catalog no longer sells stays, marked so, out of the subtotal, for the
// shopper to remove.
func (p *cartPage) setCart(cart bookshop.Cart) {
	p.Lines = p.Lines[:0]
	for _, l := range cart.Lines {
		line := cartLineView{ID: l.Book.ID, Title: l.Book.Title, Author: l.Book.Author, Quantity: l.Quantity,
			Price: noPrice, Total: noPrice}
		if cartclient.Available(l) {
			line.Price, line.Total = l.Book.Price.Format(), l.Total.Format()
		} else {
			line.Unavailable = true
			line.Title = cmp.Or(line.Title, "A book we no longer sell")
		}
		p.Lines = append(p.Lines, line)
	}
	p.Count = cart.Count
	p.Subtotal = noPrice
	if cart.Subtotal.Currency != "" {
		p.Subtotal = cart.Subtotal.Format()
	}
}

// setUnpriced puts lines on the page without prices, for a cart the
// Catalog could not price: each book's title and author if
// Recommendations told them (known), else its number, and its quantity.
func (p *cartPage) setUnpriced(lines []bookshop.CartLine, known func(int32) (bookshop.Book, bool)) {
	p.Unpriced, p.Lines, p.Count, p.Subtotal = true, p.Lines[:0], 0, noPrice
	for _, l := range lines {
		line := cartLineView{ID: l.Book.ID, Title: "Book " + strconv.Itoa(int(l.Book.ID)), Quantity: l.Quantity, Price: noPrice, Total: noPrice}
		if b, ok := known(l.Book.ID); ok {
			line.Title, line.Author = b.Title, b.Author
		}
		p.Lines = append(p.Lines, line)
		p.Count += l.Quantity
	}
}

// setDiscount shows the promotion's discount on the page: its line, in
// the words of label (the free book's title, if it names it, marked up;
// see lineOf, with name, the promotion's), and the total after it.
func (p *cartPage) setDiscount(cart bookshop.Cart, d bookshop.Discount, label, name string, guest bool) {
	total, err := cart.Subtotal.Add(bookshop.Money{Units: -d.Amount.Units, Currency: d.Amount.Currency})
	if err != nil {
		return // another currency: no discount shown
	}
	p.Discount, p.Total, p.DiscountGuest = "−"+d.Amount.Format(), total.Format(), guest
	title := ""
	for _, l := range cart.Lines {
		if l.Book.ID == d.BookID && d.BookID != 0 {
			title = l.Book.Title
		}
	}
	p.DiscountLine = lineOf(label, name, title)
}

// cartBooks returns the books of cart's lines.
func cartBooks(cart bookshop.Cart) []bookshop.Book {
	books := make([]bookshop.Book, len(cart.Lines))
	for i, l := range cart.Lines {
		books[i] = l.Book
	}
	return books
}

// warnStock marks the lines that hold more copies than are left.
func (p *cartPage) warnStock(stock map[int32]int) {
	for i := range p.Lines {
		l := &p.Lines[i]
		n, ok := stock[l.ID]
		switch {
		case !ok || l.Unavailable || l.Quantity <= n:
		case n <= 0:
			l.Warning = "Out of stock: remove it to check out."
		default:
			l.Warning = fmt.Sprintf("Only %d left: lower the quantity to check out.", n)
		}
	}
}

// noPrice stands for a price the cart does not have.
const noPrice = "—"

// cartChange is the answer to a change of the cart made by a script
// (Accept: application/json): the header's new count, and what happened,
// in words.
type cartChange struct {
	Count   int    `json:"count"`
	Message string `json:"message"`
}

// handleAddToCart adds a book to the visitor's cart (POST, fields "book"
// and, optionally, "quantity", 1 by default). A guest without a cart gets
// one, and its cookie. A form is answered with a redirect to the cart; a
// script asking for JSON, with the new count, so that the page need not
// reload.
func (s *server) handleAddToCart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status, msg := readForm(r); status != 0 {
			s.cartFailed(w, r, status, msg)
			return
		}
		book, err := strconv.ParseInt(r.PostForm.Get("book"), 10, 32)
		if err != nil || book < 1 {
			s.cartFailed(w, r, http.StatusBadRequest, messageBadBook)
			return
		}
		quantity := 1
		if q := r.PostForm.Get("quantity"); q != "" {
			if quantity, err = strconv.Atoi(q); err != nil || quantity < 1 || quantity > bookshop.MaxQuantity {
				s.cartFailed(w, r, http.StatusBadRequest, messageBadAddQuantity)
				return
			}
		}
		v := visitorOf(r)
		if v.accountsDown { // not a guest's cart to make: the customer's, which we cannot name
			s.cartFailed(w, r, http.StatusServiceUnavailable, noticeCartUnavailable)
			return
		}
		id := v.cartID()
		if id == "" {
			v.guestToken = newToken()
			id = v.cartID()
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
		defer cancel()
		key := r.PostForm.Get("key") // the page's script sends one a click
		if key != "" && bookshop.CheckKey("key", key) != nil {
			// Not the page's script: no shopper typed it, and the Cart's
			// rules, with what was sent, are not for the page.
			s.cartFailed(w, r, http.StatusBadRequest, messageBadForm)
			return
		}
		if key == "" {
			// A form sent without the script carries none. One made here
			// still makes the call add once however often the gRPC client
			// sends it: it retries a Cart that answers UNAVAILABLE, which
			// a Cart whose database connection broke at the commit does
			// after the add was made.
			key = newToken()
		}
		cart, err := s.carts.Add(ctx, id, int32(book), quantity, key)
		if bookshop.ErrorCode(err) == bookshop.Conflict {
			s.cartFailed(w, r, http.StatusConflict, s.addRefused(ctx, id, int32(book)))
			return
		}
		if s.cartChangeFailed(w, r, err, messageNotForSale) {
			return
		}
		if v.customer == nil {
			s.setCookie(w, r, cartCookieName, v.guestToken, time.Now().Add(guestCartLifetime))
		}
		title := "the book"
		for _, l := range cart.Lines {
			if l.Book.ID == int32(book) {
				title = "“" + l.Book.Title + "”"
			}
		}
		s.cartChanged(w, r, cart, "Added "+title+" to your cart.")
	})
}

// handleSetQuantity sets the quantity of a line of the visitor's cart
// (POST, field "quantity"; 0 removes the line), then sends the shopper
// back to the cart.
func (s *server) handleSetQuantity() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		book, msg := bookIDFromPath(r.PathValue("id"))
		if msg != "" {
			s.cartFailed(w, r, http.StatusBadRequest, msg)
			return
		}
		if status, msg := readForm(r); status != 0 {
			s.cartFailed(w, r, status, msg)
			return
		}
		quantity, err := strconv.Atoi(r.PostForm.Get("quantity"))
		if err != nil || quantity < 0 || quantity > bookshop.MaxQuantity {
			s.cartFailed(w, r, http.StatusBadRequest, messageBadQuantity)
			return
		}
		v := visitorOf(r)
		if v.accountsDown {
			s.cartFailed(w, r, http.StatusServiceUnavailable, noticeCartUnavailable)
			return
		}
		id := v.cartID()
		if id == "" {
			s.cartFailed(w, r, http.StatusNotFound, "Your cart is empty.")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
		defer cancel()
		cart, err := s.carts.SetQuantity(ctx, id, book, quantity)
		if s.cartChangeFailed(w, r, err, messageNotInCart) {
			return
		}
		message := "Updated the quantity."
		if quantity == 0 {
			message = "Removed the book from your cart."
		}
		s.cartChanged(w, r, cart, message)
	})
}

// cartChanged answers a change that was made: JSON for a script, else a
// redirect to the cart (post, redirect, get: a reload does not repeat it).
func (s *server) cartChanged(w http.ResponseWriter, r *http.Request, cart bookshop.Cart, message string) {
	s.setCount(w, r, visitorOf(r), cart.Count)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, cartChange{Count: cart.Count, Message: message})
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

// cartChangeFailed answers a change the Cart service refused or could
// not make, and reports whether err was one; notFound is what a NotFound
// means for the change (no such book for sale, or none in the cart).
func (s *server) cartChangeFailed(w http.ResponseWriter, r *http.Request, err error, notFound string) bool {
	switch bookshop.ErrorCode(err) {
	case "":
		return false
	case bookshop.NotFound:
		s.cartFailed(w, r, http.StatusNotFound, notFound)
	case bookshop.Invalid:
		s.cartFailed(w, r, http.StatusBadRequest, bookshop.ErrorMessage(err))
	case bookshop.Conflict:
		s.cartFailed(w, r, http.StatusConflict, messageCartChanged)
	default:
		s.logger.WarnContext(r.Context(), "cart failed; cannot change the cart", "err", err)
		s.cartFailed(w, r, http.StatusServiceUnavailable, noticeCartUnavailable)
	}
	return true
}

// addRefused says, for a shopper, why the Cart refused (Conflict) to add
// book to cart id, from the cart's lines as they are now (which need no
// Catalog): the book's line is full, or the cart is; else the cart changed
// meanwhile (an addition retried with its key, for another quantity).
func (s *server) addRefused(ctx context.Context, id string, book int32) string {
	lines, err := s.carts.Lines(ctx, id)
	if err != nil {
		return messageCartLimits
	}
	for _, l := range lines {
		if l.Book.ID != book {
			continue
		}
		if l.Quantity >= bookshop.MaxQuantity {
			return messageMostCopies
		}
		return fmt.Sprintf(messageAtMostCopies, l.Quantity, bookshop.MaxQuantity-l.Quantity)
	}
	if len(lines) >= bookshop.MaxCartLines {
		return messageCartFull
	}
	return messageCartChanged
}

// cartFailed answers a change of the cart that was not made: JSON for a
// script; for a form, the cart page with the message (and the cart as it
// is, when it can be had).
func (s *server) cartFailed(w http.ResponseWriter, r *http.Request, status int, message string) {
	if wantsJSON(r) {
		writeJSON(w, status, cartChange{Count: -1, Message: message})
		return
	}
	page := cartPage{MaxQuantity: bookshop.MaxQuantity, Message: message, MessageIsError: true}
	if id := visitorOf(r).cartID(); id != "" && status != http.StatusServiceUnavailable {
		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
		if cart, err := s.carts.Cart(ctx, id); err == nil {
			page.setCart(cart)
		}
		cancel()
	}
	page.Layout = s.layout(r, "Your cart · "+siteTitle, noCategory)
	s.render(w, r, status, s.pages.cart, page)
}

// wantsJSON reports whether r was sent by the site's script, which asks
// for JSON.
func wantsJSON(r *http.Request) bool {
	return r.Header.Get("Accept") == "application/json"
}
