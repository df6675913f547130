package bookshop

import (
	"context"
	"time"
)

// Customer is a shopper with an account.
type Customer struct {
	// ID is the customer's number, from 1: the user_id the Marketplace sends
	// to Recommend.
	ID int32
	// Email is the address the customer signs in with, trimmed and in lower
	// case.
	Email string
	// Name is the name the customer chose to be shown.
	Name string
	// Created is when the account was opened.
	Created time.Time
}

// NewAccount is what a shopper gives to open an account.
type NewAccount struct {
	Email    string
	Name     string
	Password string
}

// Session is a customer's signed-in session.
type Session struct {
	// Token is the session's secret: opaque and random. Whoever holds it is
	// signed in as Customer; the Accounts service keeps only its hash.
	Token    string
	Customer Customer
	// Expires is when the session ends by itself.
	Expires time.Time
}

// Accounts keeps customers and their sessions. Client is who is asking,
// for throttling: the Marketplace passes the shopper's network address.
type Accounts interface {
	// SignUp opens an account and signs it in. Errors: Invalid for a bad
	// email, name or password (too short, or too common); Exists when the
	// email already has an account; Exhausted, with RetryAfter, when the
	// client has made too many sign-ups recently (every attempt counts), or
	// has failed too often (each Exists counts, so that no one can test
	// many emails for accounts).
	SignUp(ctx context.Context, account NewAccount, client string) (Session, error)
	// SignIn checks an email and a password and starts a new session.
	// Errors: Unauthenticated for a wrong email or password, the same for
	// both; Exhausted, with RetryAfter, when the account or the client has
	// failed too often.
	SignIn(ctx context.Context, email, password, client string) (Session, error)
	// Session returns the live session of token. Errors: NotFound when
	// there is none (unknown, expired or signed out): the shopper is no
	// longer signed in. Not Unauthenticated, which a remote implementation
	// returns only when it refused the caller itself (its certificate),
	// and which must not sign anyone out.
	Session(ctx context.Context, token string) (Session, error)
	// SignOut ends the session of token. Ending a session that has already
	// ended is not an error.
	SignOut(ctx context.Context, token string) error
}

// The limits of a cart.
const (
	MaxQuantity  = 10 // copies of one book in a cart
	MaxCartLines = 50 // distinct books in a cart
)

// CartLine is one book of a cart and how many copies of it.
type CartLine struct {
	// Book is the book as the Catalog has it now, with its current price.
	Book     Book
	Quantity int
	// Total is Book.Price times Quantity.
	Total Money
}

// Cart is what a shopper is about to buy, priced from the Catalog's
// current prices.
type Cart struct {
	// ID names the cart; see Carts.
	ID    string
	Lines []CartLine
	// Count is the number of copies in the cart: the sum of the quantities.
	Count int
	// Subtotal is the sum of the lines' totals.
	Subtotal Money
}

// Carts keeps the shoppers' carts. A cart id is chosen by the caller, from
// 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_': the Marketplace uses
// "c-" and a customer's id, or "g-" and a random token for a guest. A cart
// nobody has added to is empty.
type Carts interface {
	// Cart returns the cart, its lines in the order they were added, priced
	// from the Catalog's current prices. Errors: Unavailable when the
	// Catalog cannot be reached.
	Cart(ctx context.Context, id string) (Cart, error)
	// Count returns how many copies the cart holds, without pricing it: for
	// the count in the header of every page.
	Count(ctx context.Context, id string) (int, error)
	// Lines returns the cart's lines without pricing them, from the Cart's
	// own store: each with only its Book.ID and Quantity, in the order
	// they were added. It works while the Catalog is down.
	Lines(ctx context.Context, id string) ([]CartLine, error)
	// Add adds quantity copies of a book. Key, when not "", is an
	// idempotency key that makes the addition happen at most once, so
	// that a caller may retry it: 1 to 64 characters of A-Z, a-z, 0-9,
	// '-' and '_', new for each addition. For 24 hours after an Add with
	// a key succeeds, an Add with the same key on the same cart adds
	// nothing: with the same book and quantity it returns the cart as it
	// is now; with another, it fails with Conflict. With key "", nothing
	// protects the cart from an Add retried after it was done. Errors:
	// NotFound for a book the Catalog does not have (or cannot sell: no
	// price); Invalid for a quantity under 1 or a malformed key; Conflict
	// when the line would exceed MaxQuantity or the cart MaxCartLines, or
	// for a key used on the cart for another book or quantity.
	Add(ctx context.Context, id string, bookID int32, quantity int, key string) (Cart, error)
	// SetQuantity sets how many copies of a book the cart holds; 0 removes
	// the line. Errors: Invalid for a quantity outside 0 to MaxQuantity;
	// NotFound when the cart has no line for the book.
	SetQuantity(ctx context.Context, id string, bookID int32, quantity int) (Cart, error)
	// Merge moves every line of cart from into cart into, adding
	// quantities (each capped at MaxQuantity, lines past MaxCartLines
	// dropped), and empties from; it returns into, and what did not fit.
	// Merging an empty or unknown cart changes nothing.
	Merge(ctx context.Context, from, into string) (CartMerge, error)
}

// CartMerge is what Carts.Merge did: the cart it filled, and what of the
// other cart did not fit in it, which is gone with the other cart's
// lines, so that the shopper may be told.
type CartMerge struct {
	Cart Cart
	// DroppedLines counts the books of the other cart left out because
	// the cart already held MaxCartLines books.
	DroppedLines int
	// CappedLines counts the books whose copies in both carts came to more
	// than MaxQuantity, and were cut to it.
	CappedLines int
}

// SearchQuery asks the Catalog for books by words of their title or
// author.
type SearchQuery struct {
	// Text is what the shopper typed: 1 to MaxSearchLen characters with at
	// least one letter or digit.
	Text string
	// Offset is how many results to skip; Limit the most to return (1 to
	// MaxSearchLimit).
	Offset, Limit int
}

// The limits of a search.
const (
	MaxSearchLen   = 200
	MaxSearchLimit = 100
	// MaxSearchOffset bounds how deep a search may page.
	MaxSearchOffset = 10000
)

// SearchResult is one page of a search.
type SearchResult struct {
	Books []Book // best first
	// Total is how many books match in all.
	Total int
}

// Searcher finds books.
type Searcher interface {
	// Search returns the books whose title or author has every word of
	// q.Text, ignoring case and accents, best first. Errors: Invalid for an
	// empty or over-long query, or bounds out of range.
	Search(ctx context.Context, q SearchQuery) (SearchResult, error)
}
