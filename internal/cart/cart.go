// Package cart is the Cart service: it keeps each shopper's cart, and
// prices it from the Catalog's current prices whenever it is shown.
//
// The slice: the rules of a cart and the [Service] here; the gRPC server
// of bookshop.cart.v1.CartService (server.go), with its request rules and
// its authorization entries ([Policy]); its metrics; [Config] and [Run];
// its storage in package sqlite, or in package postgres, which replicas
// share; and, for callers, package cartclient.
//
// The Cart keeps, for each line, only the book's id and how many copies;
// never a price. The prices, titles and authors come from the Catalog each
// time a cart is returned, so a cart always shows what the Catalog sells
// now.
//
// An addition may carry an idempotency key, which makes it happen at most
// once (see [Service.Add]): the Cart keeps the key for [KeyTTL], in the
// transaction that adds, so that a client's retry of an addition already
// done adds nothing. A removal of the copies a shopper has bought
// ([Service.RemoveLines], for Checkout) must carry one.
package cart

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// GuestPrefix starts the id of a guest's cart, as the Marketplace names
// them ("g-" and a random token): the carts that SweepGuests deletes once
// they have not changed for a while. A customer's cart ("c-" and the
// customer's id) is never swept.
const GuestPrefix = "g-"

// DefaultGuestTTL is how long a guest's cart is kept after its last
// change.
const DefaultGuestTTL = 30 * 24 * time.Hour

// KeyTTL is how long an idempotency key counts after the addition that
// used it: a retry within it adds nothing. The sweeper deletes the older
// keys (SweepKeys).
const KeyTTL = 24 * time.Hour

// CheckID returns an Invalid error unless id is a cart id: an id of the
// form of an idempotency key (see bookshop.CheckKey), which the caller
// chooses.
func CheckID(id string) error { return bookshop.CheckKey("cart id", id) }

// CheckKey returns an Invalid error unless key is "" (no key) or an
// idempotency key (see bookshop.CheckKey).
func CheckKey(key string) error {
	if key == "" {
		return nil
	}
	return bookshop.CheckKey("idempotency key", key)
}

// checkBookID returns an Invalid error for a book id under 1.
func checkBookID(id int32) error {
	if id < 1 {
		return bookshop.Errorf(bookshop.Invalid, "book id %d: want 1 or more", id)
	}
	return nil
}

// CheckAdd returns an Invalid error unless a book id and a quantity could
// be added to a cart: a book id from 1, a quantity from 1. (A quantity
// that the line cannot hold is a Conflict, for Added to find.)
func CheckAdd(bookID int32, quantity int) error {
	if err := checkBookID(bookID); err != nil {
		return err
	}
	if quantity < 1 {
		return bookshop.Errorf(bookshop.Invalid, "quantity %d: add 1 or more copies", quantity)
	}
	return nil
}

// CheckSetQuantity returns an Invalid error unless a book id and a
// quantity could be set: a book id from 1, a quantity from 0 (which
// removes the line) to bookshop.MaxQuantity.
func CheckSetQuantity(bookID int32, quantity int) error {
	if err := checkBookID(bookID); err != nil {
		return err
	}
	if quantity < 0 || quantity > bookshop.MaxQuantity {
		return bookshop.Errorf(bookshop.Invalid, "quantity %d: want 0 (to remove the book) to %d", quantity, bookshop.MaxQuantity)
	}
	return nil
}

// CheckRemove returns an Invalid error unless lines could be taken out of
// a cart: 1 to bookshop.MaxCartLines lines, each of another book (an id
// from 1), with a quantity from 1 to bookshop.MaxQuantity.
func CheckRemove(lines []bookshop.StockLine) error {
	if len(lines) == 0 || len(lines) > bookshop.MaxCartLines {
		return bookshop.Errorf(bookshop.Invalid, "%d lines to remove: want 1 to %d", len(lines), bookshop.MaxCartLines)
	}
	seen := make(map[int32]bool, len(lines))
	for _, l := range lines {
		if err := checkBookID(l.BookID); err != nil {
			return err
		}
		if seen[l.BookID] {
			return bookshop.Errorf(bookshop.Invalid, "book %d is in the lines to remove twice", l.BookID)
		}
		seen[l.BookID] = true
		if l.Quantity < 1 || l.Quantity > bookshop.MaxQuantity {
			return bookshop.Errorf(bookshop.Invalid, "quantity %d of book %d to remove: want 1 to %d", l.Quantity, l.BookID, bookshop.MaxQuantity)
		}
	}
	return nil
}

// The rules below work on the lines of a cart as the Cart keeps them: each
// a Book with only its ID set, and a Quantity; in the order the books were
// added. They never change the slice they are given.

// Added returns lines with quantity more copies of book bookID: on its
// line, or on a new line at the end. Errors: Invalid (see CheckAdd);
// Conflict when the line would hold more than bookshop.MaxQuantity
// copies, or the cart more than bookshop.MaxCartLines books.
func Added(lines []bookshop.CartLine, bookID int32, quantity int) ([]bookshop.CartLine, error) {
	if err := CheckAdd(bookID, quantity); err != nil {
		return nil, err
	}
	i := lineOf(lines, bookID)
	if i < 0 {
		if len(lines) >= bookshop.MaxCartLines {
			return nil, bookshop.Errorf(bookshop.Conflict, "a cart holds at most %d different books: remove one first", bookshop.MaxCartLines)
		}
		if quantity > bookshop.MaxQuantity {
			return nil, bookshop.Errorf(bookshop.Conflict, "at most %d copies of one book", bookshop.MaxQuantity)
		}
		return append(slices.Clip(lines), bookshop.CartLine{Book: bookshop.Book{ID: bookID}, Quantity: quantity}), nil
	}
	if have := lines[i].Quantity; quantity > bookshop.MaxQuantity-have {
		return nil, bookshop.Errorf(bookshop.Conflict, "at most %d copies of one book: the cart already holds %d", bookshop.MaxQuantity, have)
	}
	out := slices.Clone(lines)
	out[i].Quantity += quantity
	return out, nil
}

// WithQuantity returns lines with quantity copies of book bookID, and
// without its line for 0. Errors: Invalid (see CheckSetQuantity);
// NotFound when no line holds the book.
func WithQuantity(lines []bookshop.CartLine, bookID int32, quantity int) ([]bookshop.CartLine, error) {
	if err := CheckSetQuantity(bookID, quantity); err != nil {
		return nil, err
	}
	i := lineOf(lines, bookID)
	if i < 0 {
		return nil, bookshop.Errorf(bookshop.NotFound, "the cart holds no copy of book %d", bookID)
	}
	if quantity == 0 {
		return slices.Delete(slices.Clone(lines), i, i+1), nil
	}
	out := slices.Clone(lines)
	out[i].Quantity = quantity
	return out, nil
}

// Merged returns the lines of cart into with those of cart from: the
// quantities of a book in both added, capped at bookshop.MaxQuantity; the
// books of from that into lacks after into's own, in from's order, until
// the cart holds bookshop.MaxCartLines books (the rest are dropped). It
// says what did not fit: dropped, how many books of from were left out,
// and capped, how many lines lost copies to the cap.
func Merged(into, from []bookshop.CartLine) (lines []bookshop.CartLine, dropped, capped int) {
	out := slices.Clone(into)
	for _, l := range from {
		switch i := lineOf(out, l.Book.ID); {
		case i >= 0:
			if out[i].Quantity+l.Quantity > bookshop.MaxQuantity {
				capped++
			}
			out[i].Quantity = min(out[i].Quantity+l.Quantity, bookshop.MaxQuantity)
		case len(out) < bookshop.MaxCartLines:
			if l.Quantity > bookshop.MaxQuantity {
				capped++
			}
			out = append(out, bookshop.CartLine{Book: bookshop.Book{ID: l.Book.ID}, Quantity: min(l.Quantity, bookshop.MaxQuantity)})
		default:
			dropped++
		}
	}
	return out, dropped, capped
}

// Removed returns lines with the copies of remove taken out: each book's
// line loses the quantity of its book in remove, and goes when no copy is
// left. A book of remove that lines lacks is skipped; the other lines
// keep their order.
func Removed(lines []bookshop.CartLine, remove []bookshop.StockLine) []bookshop.CartLine {
	take := make(map[int32]int, len(remove))
	for _, r := range remove {
		take[r.BookID] += r.Quantity
	}
	out := make([]bookshop.CartLine, 0, len(lines))
	for _, l := range lines {
		l.Quantity -= take[l.Book.ID]
		if l.Quantity > 0 {
			out = append(out, l)
		}
	}
	return out
}

// lineOf returns the index of book bookID's line, or -1.
func lineOf(lines []bookshop.CartLine, bookID int32) int {
	return slices.IndexFunc(lines, func(l bookshop.CartLine) bool { return l.Book.ID == bookID })
}

// Priced returns the cart id of lines, priced from books (by id): each
// line's book as the Catalog has it, its total, and the subtotal of the
// lines. A line whose book is missing from books, or has no price, is
// kept with only the book's id, no price and no total, out of the
// subtotal: the Catalog no longer sells it. Count counts every line.
// Errors: Internal when the prices have different currencies or the sum
// does not fit (the Catalog has one currency and bounded prices, so
// neither should happen).
func Priced(id string, lines []bookshop.CartLine, books map[int32]bookshop.Book) (bookshop.Cart, error) {
	c := bookshop.Cart{ID: id, Lines: make([]bookshop.CartLine, 0, len(lines))}
	for _, l := range lines {
		c.Count += l.Quantity
		b, ok := books[l.Book.ID]
		if !ok || b.Price == (bookshop.Money{}) {
			c.Lines = append(c.Lines, bookshop.CartLine{Book: bookshop.Book{ID: l.Book.ID}, Quantity: l.Quantity})
			continue
		}
		total, err := b.Price.Mul(int64(l.Quantity))
		if err == nil {
			if c.Subtotal == (bookshop.Money{}) {
				c.Subtotal = total
			} else {
				c.Subtotal, err = c.Subtotal.Add(total)
			}
		}
		if err != nil {
			// Not %w: the kernel's Invalid would reach the caller, who
			// did nothing wrong.
			return bookshop.Cart{}, fmt.Errorf("price cart %s: book %d: %v", id, b.ID, err)
		}
		c.Lines = append(c.Lines, bookshop.CartLine{Book: b, Quantity: l.Quantity, Total: total})
	}
	return c, nil
}

// Store is where the Service keeps the carts; *sqlite.DB and
// *postgres.DB are (package storetest is the contract as tests). Lines
// are as the rules above take them. A cart with no lines is empty, not
// missing. A change records now, the Service's clock, as the time the
// cart last changed.
type Store interface {
	// Lines returns the lines of cart id, in the order they were added.
	Lines(ctx context.Context, id string) ([]bookshop.CartLine, error)
	// Count returns the sum of the quantities of cart id.
	Count(ctx context.Context, id string) (int, error)
	// Update reads the lines of cart id and replaces them with what change
	// returns, in one transaction that no other change interleaves with:
	// nothing is written when change fails (its error is returned). It
	// returns the lines written.
	Update(ctx context.Context, id string, now time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) ([]bookshop.CartLine, error)
	// AddOnce is Update under idempotency key key of cart id, for an
	// addition of add (a Book with only its ID, and a Quantity), in one
	// transaction with the key's record: when the cart has a record of
	// key made at or after since, it changes nothing, calls no change and
	// returns the cart's lines and the record (what that addition added);
	// otherwise it does as Update and, when change succeeds, records key
	// with add and now, and returns a nil prior.
	AddOnce(ctx context.Context, id, key string, add bookshop.CartLine, now, since time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) (lines []bookshop.CartLine, prior *bookshop.CartLine, err error)
	// RemoveOnce is Update under idempotency key key of cart id, for a
	// removal described by what, in one transaction with the key's
	// record: when the cart has a record of key made at or after since, it
	// changes nothing, calls no change and returns the cart's lines and
	// the record's what as prior; otherwise it does as Update and, when
	// change succeeds, records key with what and now, and returns prior
	// "".
	RemoveOnce(ctx context.Context, id, key, what string, now, since time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) (lines []bookshop.CartLine, prior string, err error)
	// Merge reads the lines of carts from and into, replaces into's with
	// what merge returns and empties from, in one transaction. It returns
	// into's lines as written.
	Merge(ctx context.Context, from, into string, now time.Time, merge func(into, from []bookshop.CartLine) []bookshop.CartLine) ([]bookshop.CartLine, error)
	// DeleteIdle deletes the carts whose id starts with prefix and that
	// have not changed since before, and returns how many.
	DeleteIdle(ctx context.Context, prefix string, before time.Time) (int, error)
	// DeleteKeys deletes the records of the idempotency keys made before
	// before, and returns how many.
	DeleteKeys(ctx context.Context, before time.Time) (int, error)
}

// Catalog is what the Cart needs of the Catalog: the books of some ids,
// with their current prices, leaving out the ids it has no book for.
// *catalogclient.Client is one.
type Catalog interface {
	Books(ctx context.Context, ids []int32) ([]bookshop.Book, error)
}

// Service is the Cart: carts kept in a Store, priced from a Catalog. It
// implements [bookshop.Carts] and is safe for concurrent use.
//
// A change (Add, SetQuantity, Merge) fetches the books of the carts it
// touches from the Catalog before it writes anything: when the Catalog
// cannot be reached, the call fails with Unavailable and nothing has
// changed. Once written, a change does not fail (see pricedAfterChange).
// A caller whose call was done but who never heard so may retry it:
// SetQuantity and Merge are idempotent by themselves, and Add is with an
// idempotency key.
type Service struct {
	store    Store
	catalog  Catalog
	logger   *slog.Logger
	metrics  *metrics
	guestTTL time.Duration
	now      func() time.Time
}

// Options are what a Service is made with besides its Store and its
// Catalog. The zero value of each field means its default.
type Options struct {
	// Logger receives the failures of the Catalog; discarded when nil.
	Logger *slog.Logger
	// Metrics is where the Service counts; nothing is counted when nil.
	Metrics *telemetry.Metrics
	// GuestTTL is how long a guest's cart is kept after its last change;
	// DefaultGuestTTL. See SweepGuests.
	GuestTTL time.Duration
	// Now is the clock, for the times of the changes and of the keys;
	// time.Now. For tests.
	Now func() time.Time
}

// NewService returns the Cart over store, pricing from catalog, made as
// opts say.
func NewService(store Store, catalog Catalog, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.GuestTTL <= 0 {
		opts.GuestTTL = DefaultGuestTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, catalog: catalog, logger: opts.Logger, metrics: newMetrics(opts.Metrics), guestTTL: opts.GuestTTL, now: opts.Now}
}

// Cart implements [bookshop.Carts]. Errors: Invalid for a malformed id;
// Unavailable when the Catalog cannot be reached.
func (s *Service) Cart(ctx context.Context, id string) (bookshop.Cart, error) {
	if err := CheckID(id); err != nil {
		return bookshop.Cart{}, err
	}
	lines, err := s.store.Lines(ctx, id)
	if err != nil {
		return bookshop.Cart{}, err
	}
	books, err := s.books(ctx, lines)
	if err != nil {
		return bookshop.Cart{}, err
	}
	return Priced(id, lines, books)
}

// Lines implements [bookshop.Carts]: the lines of cart id, in the order
// their books were added, from the Store alone: each with its Book.ID and
// Quantity, without asking the Catalog. Errors: Invalid for a malformed
// id.
func (s *Service) Lines(ctx context.Context, id string) ([]bookshop.CartLine, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	return s.store.Lines(ctx, id)
}

// Count implements [bookshop.Carts] from the Store alone: it needs no
// Catalog. Errors: Invalid for a malformed id.
func (s *Service) Count(ctx context.Context, id string) (int, error) {
	if err := CheckID(id); err != nil {
		return 0, err
	}
	return s.store.Count(ctx, id)
}

// Add implements [bookshop.Carts].
//
// With a key (not ""), the addition happens at most once: the key is
// recorded with the book and the quantity in the transaction that adds,
// and for KeyTTL after, an Add of the same key on the same cart writes
// nothing. If it asks for the same book and quantity, it is a retry and
// returns the cart as it is now; if not, it fails with Conflict. An Add
// that fails records no key, so its retry is judged anew. The key is
// checked after the Catalog is asked for the books (so a retry while the
// Catalog is down fails with Unavailable, as the first call would) but
// before the book is: a retry succeeds even when the Catalog no longer
// sells the book.
//
// Errors: Invalid for a malformed id or key, a book id under 1 or a
// quantity under 1; NotFound for a book the Catalog does not have, or has
// no price for; Conflict past the limits (see Added), or for a key used
// on the cart for another book or quantity; Unavailable when the Catalog
// cannot be reached, before anything is written.
func (s *Service) Add(ctx context.Context, id string, bookID int32, quantity int, key string) (bookshop.Cart, error) {
	if err := CheckID(id); err != nil {
		return bookshop.Cart{}, err
	}
	if err := CheckAdd(bookID, quantity); err != nil {
		return bookshop.Cart{}, err
	}
	if err := CheckKey(key); err != nil {
		return bookshop.Cart{}, err
	}
	lines, err := s.store.Lines(ctx, id)
	if err != nil {
		return bookshop.Cart{}, err
	}
	books, found, err := s.fetch(ctx, lines, bookID)
	if err != nil {
		return bookshop.Cart{}, err
	}
	add := func(lines []bookshop.CartLine) ([]bookshop.CartLine, error) {
		switch {
		case !found[bookID]:
			return nil, bookshop.Errorf(bookshop.NotFound, "book %d is not in the catalog", bookID)
		case books[bookID].Price == (bookshop.Money{}):
			return nil, bookshop.Errorf(bookshop.NotFound, "book %d is not for sale: it has no price", bookID)
		}
		return Added(lines, bookID, quantity)
	}
	now := s.now()
	if key == "" {
		lines, err = s.store.Update(ctx, id, now, add)
	} else {
		var prior *bookshop.CartLine
		asked := bookshop.CartLine{Book: bookshop.Book{ID: bookID}, Quantity: quantity}
		lines, prior, err = s.store.AddOnce(ctx, id, key, asked, now, now.Add(-KeyTTL), add)
		if err == nil && prior != nil {
			if prior.Book.ID != bookID || prior.Quantity != quantity {
				return bookshop.Cart{}, bookshop.Errorf(bookshop.Conflict,
					"idempotency key %q was used on this cart to add %d of book %d: use a new key for each addition", key, prior.Quantity, prior.Book.ID)
			}
			s.metrics.replayed()
			return s.pricedAfterChange(ctx, id, lines, books)
		}
	}
	if err != nil {
		return bookshop.Cart{}, err
	}
	s.metrics.added(quantity)
	return s.pricedAfterChange(ctx, id, lines, books)
}

// SetQuantity implements [bookshop.Carts]. Errors: Invalid for a
// malformed id, a book id under 1 or a quantity outside 0 to
// bookshop.MaxQuantity; NotFound when the cart holds no line for the
// book; Unavailable when the Catalog cannot be reached, before anything
// is written.
func (s *Service) SetQuantity(ctx context.Context, id string, bookID int32, quantity int) (bookshop.Cart, error) {
	if err := CheckID(id); err != nil {
		return bookshop.Cart{}, err
	}
	if err := CheckSetQuantity(bookID, quantity); err != nil {
		return bookshop.Cart{}, err
	}
	lines, err := s.store.Lines(ctx, id)
	if err != nil {
		return bookshop.Cart{}, err
	}
	books, err := s.books(ctx, lines)
	if err != nil {
		return bookshop.Cart{}, err
	}
	lines, err = s.store.Update(ctx, id, s.now(), func(lines []bookshop.CartLine) ([]bookshop.CartLine, error) {
		return WithQuantity(lines, bookID, quantity)
	})
	if err != nil {
		return bookshop.Cart{}, err
	}
	return s.pricedAfterChange(ctx, id, lines, books)
}

// Merge implements [bookshop.Carts] (see Merged for the rules). It is
// idempotent: a Merge done leaves from empty, so that a retry moves
// nothing and returns into as it is (and reports nothing dropped or
// capped). Errors: Invalid for a malformed id, or from and into the same
// cart; Unavailable when the Catalog cannot be reached, before anything
// is written.
func (s *Service) Merge(ctx context.Context, from, into string) (bookshop.CartMerge, error) {
	if err := CheckID(from); err != nil {
		return bookshop.CartMerge{}, err
	}
	if err := CheckID(into); err != nil {
		return bookshop.CartMerge{}, err
	}
	if from == into {
		return bookshop.CartMerge{}, bookshop.Errorf(bookshop.Invalid, "cannot merge cart %s into itself", from)
	}
	fromLines, err := s.store.Lines(ctx, from)
	if err != nil {
		return bookshop.CartMerge{}, err
	}
	intoLines, err := s.store.Lines(ctx, into)
	if err != nil {
		return bookshop.CartMerge{}, err
	}
	books, err := s.books(ctx, append(slices.Clip(intoLines), fromLines...))
	if err != nil {
		return bookshop.CartMerge{}, err
	}
	var m bookshop.CartMerge
	moved := 0
	lines, err := s.store.Merge(ctx, from, into, s.now(), func(into, from []bookshop.CartLine) []bookshop.CartLine {
		// The store may call this again, should its transaction be
		// retried: each call says it all.
		var lines []bookshop.CartLine
		moved = len(from)
		lines, m.DroppedLines, m.CappedLines = Merged(into, from)
		return lines
	})
	if err != nil {
		return bookshop.CartMerge{}, err
	}
	if moved > 0 {
		s.metrics.merged()
	}
	if m.Cart, err = s.pricedAfterChange(ctx, into, lines, books); err != nil {
		return bookshop.CartMerge{}, err
	}
	return m, nil
}

// RemoveLines takes the copies of lines out of cart id, at most once for
// key (see Removed for the rules): for Checkout, which takes out what a
// shopper has bought, and leaves what was added meanwhile. It returns how
// many copies the cart holds after, and needs no Catalog.
//
// The key, required, is recorded with the lines in the transaction that
// removes, and for KeyTTL after, a RemoveLines of the same key on the same
// cart writes nothing: with the same lines it is a retry, and returns the
// count as it is now; with others it fails with Conflict.
//
// Errors: Invalid for a malformed id or key (or none), or lines that
// CheckRemove refuses; Conflict for a key used on the cart for other
// lines.
func (s *Service) RemoveLines(ctx context.Context, id string, lines []bookshop.StockLine, key string) (int, error) {
	if err := CheckID(id); err != nil {
		return 0, err
	}
	if key == "" {
		return 0, bookshop.Errorf(bookshop.Invalid, "an idempotency key is required to remove lines")
	}
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if err := CheckRemove(lines); err != nil {
		return 0, err
	}
	what := removalText(lines)
	now := s.now()
	left, prior, err := s.store.RemoveOnce(ctx, id, key, what, now, now.Add(-KeyTTL), func(have []bookshop.CartLine) ([]bookshop.CartLine, error) {
		return Removed(have, lines), nil
	})
	if err != nil {
		return 0, err
	}
	if prior != "" && prior != what {
		return 0, bookshop.Errorf(bookshop.Conflict, "idempotency key %q was used on this cart to remove other lines: use a new key for each removal", key)
	}
	n := 0
	for _, l := range left {
		n += l.Quantity
	}
	return n, nil
}

// removalText describes the lines of a removal for its key's record:
// "BOOK:QUANTITY" for each, in book order, joined by ",".
func removalText(lines []bookshop.StockLine) string {
	sorted := slices.SortedFunc(slices.Values(lines), func(a, b bookshop.StockLine) int { return cmp.Compare(a.BookID, b.BookID) })
	parts := make([]string, len(sorted))
	for i, l := range sorted {
		parts[i] = fmt.Sprintf("%d:%d", l.BookID, l.Quantity)
	}
	return strings.Join(parts, ",")
}

// SweepGuests deletes the guests' carts (GuestPrefix) that have not
// changed for the Service's guest lifetime before now, and returns how
// many.
func (s *Service) SweepGuests(ctx context.Context, now time.Time) (int, error) {
	n, err := s.store.DeleteIdle(ctx, GuestPrefix, now.Add(-s.guestTTL))
	s.metrics.swept(n)
	return n, err
}

// SweepKeys deletes the idempotency keys used more than KeyTTL before
// now, which no longer count, and returns how many: so that the keys
// kept are those of the last KeyTTL and the sweep interval at most.
func (s *Service) SweepKeys(ctx context.Context, now time.Time) (int, error) {
	return s.store.DeleteKeys(ctx, now.Add(-KeyTTL))
}

// books fetches from the Catalog the books of lines and of extra ids, by
// id; an id the Catalog has no book for maps to a Book with only that id,
// which Priced shows as unavailable. Errors: see fetch.
func (s *Service) books(ctx context.Context, lines []bookshop.CartLine, extra ...int32) (map[int32]bookshop.Book, error) {
	books, _, err := s.fetch(ctx, lines, extra...)
	return books, err
}

// fetch is books, and also returns the set of the ids the Catalog has a
// book for. Errors: ctx's own when it ends; otherwise Unavailable,
// whatever the Catalog's error (logged), for the caller can do nothing
// about it but wait.
func (s *Service) fetch(ctx context.Context, lines []bookshop.CartLine, extra ...int32) (books map[int32]bookshop.Book, found map[int32]bool, err error) {
	books = make(map[int32]bookshop.Book, len(lines)+len(extra))
	ids := make([]int32, 0, len(lines)+len(extra))
	for _, l := range lines {
		ids = append(ids, l.Book.ID)
	}
	ids = append(ids, extra...)
	slices.Sort(ids)
	if ids = slices.Compact(ids); len(ids) == 0 {
		return books, nil, nil
	}
	got, err := s.catalog.Books(ctx, ids)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		s.metrics.catalogUnavailable()
		s.logger.WarnContext(ctx, "cannot price a cart: the Catalog failed", "err", err)
		return nil, nil, &unavailableError{cause: err}
	}
	for _, id := range ids {
		books[id] = bookshop.Book{ID: id}
	}
	found = make(map[int32]bool, len(got))
	for _, b := range got {
		books[b.ID] = b
		found[b.ID] = true
	}
	return books, found, nil
}

// pricedAfterChange prices the lines of cart id that a change has
// written, from books fetched before it. A line added meanwhile by
// another call, whose book was not fetched, is fetched now; if that fails
// the line shows as unavailable rather than fail a call whose change is
// written (see Service).
func (s *Service) pricedAfterChange(ctx context.Context, id string, lines []bookshop.CartLine, books map[int32]bookshop.Book) (bookshop.Cart, error) {
	var missing []bookshop.CartLine
	for _, l := range lines {
		if _, ok := books[l.Book.ID]; !ok {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		if more, err := s.books(ctx, missing); err == nil {
			for id, b := range more {
				books[id] = b
			}
		}
	}
	return Priced(id, lines, books)
}

// unavailableError is an Unavailable error for the caller, with the
// Catalog's error kept for errors.Is and errors.As.
type unavailableError struct{ cause error }

// errCatalogUnavailable is the domain error of a Catalog that did not
// answer; Final, as the Cart's client of the Catalog retried the call.
var errCatalogUnavailable = &bookshop.Error{Code: bookshop.Unavailable, Message: "the catalog cannot be reached to price the cart: try again shortly", Final: true}

func (e *unavailableError) Error() string { return "price cart: " + e.cause.Error() }

// Unwrap returns the domain error first, so that its code is the one
// found, and then the Catalog's.
func (e *unavailableError) Unwrap() []error { return []error{errCatalogUnavailable, e.cause} }

var _ bookshop.Carts = (*Service)(nil)
