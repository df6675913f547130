// Package promotions is the Promotions service: it runs the shop's
// promotion campaign ([Current]; the first was "buy two books, get the
// third free"), once per customer: a customer may use each campaign once,
// the next as well as the one before.
//
// The slice: the campaigns themselves, each its code, words and rule
// ([Promotion]; every one the shop ran in [Campaigns]), in campaign.go;
// the rules of a request and of a claim, and the [Service], here; the gRPC server of
// bookshop.promotions.v1.PromotionsService (server.go), with its request
// rules and its authorization entries ([Policy]); its metrics; [Config]
// and [Run]; its storage, in package sqlite (a file, the default) or
// package postgres (a database that replicas share), both keeping the
// records of package claim by the same rules (package storetest); and,
// for callers, package
// promotionsclient, which also names every promotion the shop ran
// (promotionsclient.Name), for the orders of campaigns that are over.
//
// The campaign runs between two times (settings; by default from the
// service's first start with this campaign on its database, recorded
// there by the campaign's code, and without end). Outside them there is
// no banner and no discount.
//
// A customer may use the campaign for one order. Their uses of the
// campaigns before it (the claims of other codes) count for nothing
// here: a customer who used "buy two books, get the third free" sees the
// next campaign's banner and may use it. A checkout claims the
// customer's use under a key of its own, with the discount its order
// gets; the claim holds the use until the checkout confirms it (its
// charge went through: the use is spent) or releases it (no order was
// recorded: a confirmed claim too, as the Checkout, the only caller that
// confirms, releases one only before it records the order), or until it
// expires by itself, when a checkout that died neither confirms nor
// releases. A claim confirmed late, after it expired, is confirmed
// unless another claim of the customer took the use meanwhile. Each
// claim, confirmation and release is one transaction that no other change
// of the customer's claims interleaves with (SQLite's one writer; on
// PostgreSQL, the customer's rows locked first), and a unique index lets
// at most one claim of a customer be held or confirmed for each campaign
// (by its code): of any number of checkouts of one customer claiming at
// once, one gets the discount, across processes, replicas and restarts.
// A claim refused says why (a [bookshop.ClaimOutcome]: the campaign does
// not run, the lines earn nothing, the customer has used the promotion,
// or another of their checkouts holds it), for the checkout to tell its
// shopper.
//
// # What a campaign changes
//
// Everything of a campaign is in this slice, and its callers know none of
// it. Its code, name, banner and rule are a [Promotion]; its dates are
// this service's settings. What the others need of it comes through the
// contract as data: the Offer's name and banner (the home page), its
// MinBooks (the fewest copies a cart needs to earn a discount: the
// Checkout asks about no cart of fewer, so that most carts, of one or two
// books, are quoted and placed without a call here, a claim, or the
// write of a claim to its saga log, alike whether this service is up or
// not), and each discount's amount, code and Label (the line that the
// cart, the checkout and the quote show as it is). The Checkout checks a
// confirmed total against the discount that its claim was granted, not
// against a shape of discount it would know. So the next campaign is a
// new Promotion here, added last to [Campaigns], and its code and name in
// promotionsclient so that its orders are still named once it is over;
// see docs/architecture.md, "Adding the next campaign", and the
// Marketplace's TestAnotherCampaign, which runs the whole shop with a
// campaign of another shape and no other change.
package promotions

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
	"github.com/bookshop-go/bookshop/internal/promotions/claim"
)

// The states of a claim.
const (
	Held      = claim.Held
	Confirmed = claim.Confirmed
	Released  = claim.Released
	Expired   = claim.Expired
)

// Claim is a checkout's claim of its customer's one use of a campaign.
type Claim = claim.Claim

// Usage is what a customer has done with their use of a campaign.
type Usage = claim.Usage

// The limits of the requests and of the claims.
const (
	// MaxKeyLen is the longest idempotency key.
	MaxKeyLen = bookshop.MaxKeyLen
	// MaxLines is the most lines a cart to price has: the books a cart
	// may hold.
	MaxLines = bookshop.MaxCartLines
	// MaxLineQuantity is the most copies of one book on a line: the
	// copies a cart may hold.
	MaxLineQuantity = bookshop.MaxQuantity
	// MinClaimTTL and MaxClaimTTL bound how long a claim holds a
	// customer's use before it expires.
	MinClaimTTL = time.Second
	MaxClaimTTL = 24 * time.Hour
	// DefaultClaimTTL is how long a claim holds a customer's use when the
	// setting does not say: the default of -claim-ttl.
	DefaultClaimTTL = 15 * time.Minute
	// RecordTTL is how long the record of a claim released or expired is
	// kept: for so long, Confirm answers for it. The sweeper deletes the
	// older ones, which bounds the database to the customers' uses and
	// the claims of a week. Confirmed claims are kept for good.
	RecordTTL = 7 * 24 * time.Hour
)

// CheckKey returns an Invalid error unless key is an idempotency key: 1
// to MaxKeyLen characters of A-Z, a-z, 0-9, '-' and '_', the shop's one
// rule of keys (bookshop.CheckKey), so that a checkout's own key passes.
func CheckKey(key string) error { return bookshop.CheckKey("idempotency key", key) }

// CheckShopper returns an Invalid error for a negative customer id: a
// shopper is a customer (1 or more) or a guest (0).
func CheckShopper(id int32) error {
	if id < 0 {
		return bookshop.Errorf(bookshop.Invalid, "customer id %d: want 1 or more, or 0 for a guest", id)
	}
	return nil
}

// CheckCustomer returns an Invalid error for a customer id under 1: only
// a customer may claim the promotion, not a guest.
func CheckCustomer(id int32) error {
	if id < 1 {
		return bookshop.Errorf(bookshop.Invalid, "customer id %d: want 1 or more (a guest cannot claim the promotion: sign in first)", id)
	}
	return nil
}

// CheckLines returns an Invalid error unless lines could be a cart: at
// most MaxLines lines, each of a book id from 1, given once, 1 to
// MaxLineQuantity copies, a unit price that is either none (the zero
// Money) or 0 or more in an ISO 4217 currency, and a title of at most
// bookshop.MaxTitleLen characters, none a control character.
func CheckLines(lines []bookshop.PromoLine) error {
	if len(lines) > MaxLines {
		return bookshop.Errorf(bookshop.Invalid, "%d lines: a cart holds at most %d books", len(lines), MaxLines)
	}
	for i, l := range lines {
		if l.BookID < 1 {
			return bookshop.Errorf(bookshop.Invalid, "book id %d: want 1 or more", l.BookID)
		}
		if l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			return bookshop.Errorf(bookshop.Invalid, "book %d: quantity %d: want 1 to %d", l.BookID, l.Quantity, MaxLineQuantity)
		}
		if l.UnitPrice != (bookshop.Money{}) {
			if err := bookshop.CheckCurrency(l.UnitPrice.Currency); err != nil {
				return bookshop.Errorf(bookshop.Invalid, "book %d: unit price: %s", l.BookID, bookshop.ErrorMessage(err))
			}
			if l.UnitPrice.Units < 0 {
				return bookshop.Errorf(bookshop.Invalid, "book %d: unit price %s: want 0 or more", l.BookID, l.UnitPrice)
			}
		}
		if n := utf8.RuneCountInString(l.Title); n > bookshop.MaxTitleLen {
			return bookshop.Errorf(bookshop.Invalid, "book %d: a title of %d characters: want at most %d", l.BookID, n, bookshop.MaxTitleLen)
		}
		// The title goes into the discount's label, which pages show as it
		// is: no control characters, as the Catalog's titles have none.
		if i := strings.IndexFunc(l.Title, unicode.IsControl); i >= 0 {
			r, _ := utf8.DecodeRuneInString(l.Title[i:])
			return bookshop.Errorf(bookshop.Invalid, "book %d: the title holds the control character %U", l.BookID, r)
		}
		if slices.ContainsFunc(lines[:i], func(o bookshop.PromoLine) bool { return o.BookID == l.BookID }) {
			return bookshop.Errorf(bookshop.Invalid, "book %d is on two lines: give each book once, with all its copies", l.BookID)
		}
	}
	return nil
}

// Store is where the Service keeps the claims; *sqlite.DB and
// *postgres.DB are two. A campaign is named by its code (Promotion.Code,
// the code of its claims' discounts), and a customer has a use of each.
type Store interface {
	// FirstStart returns when the service first ran the campaign of code
	// on the store: now, recorded, the first time; what was recorded,
	// ever after. Each campaign has its own.
	FirstStart(ctx context.Context, code string, now time.Time) (time.Time, error)
	// Usage returns what a customer has done with their use of the
	// campaign of code at now.
	Usage(ctx context.Context, customerID int32, code string, now time.Time) (Usage, error)
	// Update changes the claim of a customer's key in one transaction,
	// which no other change interleaves with: it records the customer's
	// claims held past their expiry at now as expired, and writes the
	// claim that decide returns given the key's claim (of whichever
	// campaign) and the customer's live one of the campaign of code (see
	// claim.Decide); the store refuses a second claim of a customer held
	// or confirmed for one campaign. It returns the claim as it leaves it
	// and how many it expired; it writes nothing when decide fails. It
	// may call decide more than once (when it runs its transaction
	// again), and returns what the last call decided.
	Update(ctx context.Context, customerID int32, code, key string, now time.Time, decide claim.Decide) (Claim, int, error)
	// Expire records as expired the claims held past their expiry at now,
	// and returns how many.
	Expire(ctx context.Context, now time.Time) (int, error)
	// DeleteEnded deletes the claims released or expired before before,
	// and returns how many.
	DeleteEnded(ctx context.Context, before time.Time) (int, error)
}

// Service is the Promotions service: the campaign, and the claims kept in
// a Store. It implements [bookshop.Promotions] and is safe for concurrent
// use.
type Service struct {
	store    Store
	logger   *slog.Logger
	metrics  *metrics
	promo    Promotion
	campaign bookshop.Campaign
	ttl      time.Duration
	now      func() time.Time
}

// Options are what a Service is made with besides its Store. The zero
// value of each field means its default.
type Options struct {
	// Logger receives what the sweeper does and the failures it meets;
	// discarded when nil.
	Logger *slog.Logger
	// Metrics is where the Service counts; nothing is counted when nil.
	Metrics *telemetry.Metrics
	// Promotion is the campaign the Service runs; the zero Promotion
	// means the current one, Current().
	Promotion Promotion
	// Campaign is when the promotion runs. A zero Starts is the store's
	// first start with this Promotion (FirstStart of its code, at the
	// first NewService that needs it); a zero Ends never ends.
	Campaign bookshop.Campaign
	// ClaimTTL is how long a claim holds a customer's use; DefaultClaimTTL.
	ClaimTTL time.Duration
	// Now is the clock; time.Now. For tests.
	Now func() time.Time
}

// NewService returns the Promotions service over store, made as opts say.
// When opts.Campaign has no start, it reads (or records) the store's first
// start with the Promotion: the campaign before has a start of its own,
// not this one's. Errors: a Promotion without a code, a name or a rule; the
// store's.
func NewService(ctx context.Context, store Store, opts Options) (*Service, error) {
	if opts.Promotion.Code == "" && opts.Promotion.Rule == nil {
		opts.Promotion = Current()
	}
	if p := opts.Promotion; p.Code == "" || p.Name == "" || p.Rule == nil || p.MinBooks < 0 {
		return nil, fmt.Errorf("promotion %q: want a code, a name, a rule and a MinBooks of 0 or more", p.Code)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ClaimTTL <= 0 {
		opts.ClaimTTL = DefaultClaimTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Campaign.Starts.IsZero() {
		start, err := store.FirstStart(ctx, opts.Promotion.Code, opts.Now())
		if err != nil {
			return nil, err
		}
		opts.Campaign.Starts = start
	}
	return &Service{
		store: store, logger: opts.Logger, metrics: newMetrics(opts.Metrics), promo: opts.Promotion,
		campaign: opts.Campaign, ttl: opts.ClaimTTL, now: opts.Now,
	}, nil
}

var _ bookshop.Promotions = (*Service)(nil)

// Campaign returns when the promotion runs.
func (s *Service) Campaign() bookshop.Campaign { return s.campaign }

// Promotion returns the campaign the Service runs.
func (s *Service) Promotion() Promotion { return s.promo }

// earns returns the discount that lines earn by the promotion's rule,
// with its code, and true; or false. A discount that breaks the rule's
// contract (see Promotion.Rule, and CheckDiscount) is a bug of the
// campaign, not the shopper's: it is logged as an error, and not given.
func (s *Service) earns(ctx context.Context, lines []bookshop.PromoLine) (bookshop.Discount, bool) {
	d, ok := s.promo.Rule(lines)
	if !ok {
		return bookshop.Discount{}, false
	}
	if err := CheckDiscount(d, lines); err != nil {
		s.logger.ErrorContext(ctx, "the promotion's rule gave a discount that breaks its contract: no discount given", "promotion", s.promo.Code, "err", err)
		return bookshop.Discount{}, false
	}
	d.Code = s.promo.Code
	return d, true
}

// CheckDiscount returns an error, which says what is wrong, unless d can
// be a discount that lines earn, as Promotion.Rule promises: an amount
// more than zero and less than the subtotal of the lines with a price, in
// their one currency, and a BookID that is 0 or the book of one of those
// lines.
func CheckDiscount(d bookshop.Discount, lines []bookshop.PromoLine) error {
	var (
		subtotal bookshop.Money
		books    = make(map[int32]bool, len(lines))
	)
	for _, l := range lines {
		if l.Quantity < 1 || l.UnitPrice.Units <= 0 || l.UnitPrice.Currency == "" {
			continue
		}
		if subtotal.Currency != "" && l.UnitPrice.Currency != subtotal.Currency {
			return fmt.Errorf("a discount of %s for lines in %s and %s: lines in more than one currency earn none", d.Amount, subtotal.Currency, l.UnitPrice.Currency)
		}
		subtotal.Currency = l.UnitPrice.Currency
		books[l.BookID] = true
		if l.UnitPrice.Units > (math.MaxInt64-subtotal.Units)/int64(l.Quantity) {
			subtotal.Units = math.MaxInt64 // past any amount
			continue
		}
		subtotal.Units += l.UnitPrice.Units * int64(l.Quantity)
	}
	switch {
	case subtotal.Currency == "":
		return fmt.Errorf("a discount of %s for lines without a price", d.Amount)
	case d.Amount.Currency != subtotal.Currency:
		return fmt.Errorf("a discount of %s for lines in %s: want it in their currency", d.Amount, subtotal.Currency)
	case d.Amount.Units <= 0:
		return fmt.Errorf("a discount of %s: want more than zero", d.Amount)
	case d.Amount.Units >= subtotal.Units:
		return fmt.Errorf("a discount of %s for lines of %s: want less than their subtotal", d.Amount, subtotal)
	case d.BookID != 0 && !books[d.BookID]:
		return fmt.Errorf("a discount that makes a copy of book %d free, which no line with a price holds", d.BookID)
	}
	return nil
}

// Offer implements [bookshop.Promotions]: the offer as customerID (0 for
// a guest) is shown it now. A guest is always eligible; a customer until
// a claim of theirs of this campaign is confirmed (a claim held by a
// checkout in progress does not hide the banner; one of a campaign before
// hides nothing). Errors: Invalid for a negative customer id.
func (s *Service) Offer(ctx context.Context, customerID int32) (bookshop.Offer, error) {
	if err := CheckShopper(customerID); err != nil {
		return bookshop.Offer{}, err
	}
	now := s.now()
	o := bookshop.Offer{
		Code: s.promo.Code, Name: s.promo.Name, Banner: s.promo.Banner,
		Active: s.campaign.Active(now), Eligible: true,
		Starts: s.campaign.Starts, Ends: s.campaign.Ends, MinBooks: s.promo.MinBooks,
	}
	if customerID > 0 {
		u, err := s.store.Usage(ctx, customerID, s.promo.Code, now)
		if err != nil {
			return bookshop.Offer{}, err
		}
		o.Eligible = !u.Spent
	}
	switch {
	case !o.Active:
		s.metrics.offered(offerInactive)
	case !o.Eligible:
		s.metrics.offered(offerUsed)
	default:
		s.metrics.offered(offerShown)
	}
	return o, nil
}

// Price implements [bookshop.Promotions]: the discount lines would get
// now, when the campaign runs, the lines earn it and customerID may use
// it (has not, and no claim of theirs of this campaign holds it); a guest
// (0) may. It
// holds nothing. Errors: Invalid for a negative customer id or malformed
// lines (CheckLines).
func (s *Service) Price(ctx context.Context, customerID int32, lines []bookshop.PromoLine) (bookshop.Discount, bool, error) {
	if err := CheckShopper(customerID); err != nil {
		return bookshop.Discount{}, false, err
	}
	if err := CheckLines(lines); err != nil {
		return bookshop.Discount{}, false, err
	}
	now := s.now()
	d, ok := s.earns(ctx, lines)
	if !ok || !s.campaign.Active(now) {
		return bookshop.Discount{}, false, nil
	}
	if customerID > 0 {
		u, err := s.store.Usage(ctx, customerID, s.promo.Code, now)
		if err != nil {
			return bookshop.Discount{}, false, err
		}
		if u.Spent || u.Held {
			return bookshop.Discount{}, false, nil
		}
	}
	return d, true, nil
}

// Claim implements [bookshop.Promotions]: it takes customerID's use for
// the checkout of key, with the discount lines get, in one transaction.
//
// The answer, by what the transaction finds: a claim of key confirmed
// returns its discount (a retry after the order); otherwise, when the
// campaign does not run, ClaimInactive, or when lines earn nothing,
// ClaimNotEarned (and a claim of key held is released); when another
// claim of the customer of this campaign is confirmed, ClaimUsed, or
// held, ClaimHeld (their claims of the campaigns before count for
// nothing); otherwise key holds the use, with lines' discount, for the
// Service's claim TTL from now: a new claim, a claim of key held (priced
// anew, its expiry put off), or one released or expired (held again); a
// claim of key of a campaign before, not confirmed, becomes one of this
// campaign. A discount granted has its label when lines earn it as
// recorded (the record keeps no words).
//
// Errors: Invalid for a customer id under 1 (CheckCustomer), a malformed
// key (CheckKey) or malformed lines (CheckLines).
func (s *Service) Claim(ctx context.Context, customerID int32, key string, lines []bookshop.PromoLine) (bookshop.Discount, bookshop.ClaimOutcome, error) {
	if err := CheckCustomer(customerID); err != nil {
		return bookshop.Discount{}, "", err
	}
	if err := CheckKey(key); err != nil {
		return bookshop.Discount{}, "", err
	}
	if err := CheckLines(lines); err != nil {
		return bookshop.Discount{}, "", err
	}
	now := s.now()
	d, earns := s.earns(ctx, lines)
	active := s.campaign.Active(now)
	var (
		outcome  string
		answer   bookshop.ClaimOutcome
		released bool
	)
	c, expired, err := s.store.Update(ctx, customerID, s.promo.Code, key, now, func(own, live *Claim) (Claim, error) {
		// Set afresh: the store may call this again.
		outcome, answer, released = "", "", false
		var keep Claim // own as it is: nothing to write
		if own != nil {
			keep = *own
		}
		switch {
		case own != nil && own.State == Confirmed:
			outcome, answer = claimReplayed, bookshop.ClaimGranted
			return keep, nil
		case !active || !earns:
			outcome, answer = claimNoDiscount, bookshop.ClaimNotEarned
			if !active {
				outcome, answer = claimInactive, bookshop.ClaimInactive
			}
			if own != nil && own.State == Held {
				released = true
				keep.State = Released
			}
			return keep, nil
		case live != nil && live.Key != key:
			outcome, answer = claimTaken, bookshop.ClaimHeld
			if live.State == Confirmed {
				outcome, answer = claimUsed, bookshop.ClaimUsed
			}
			return keep, nil
		}
		outcome, answer = claimClaimed, bookshop.ClaimGranted
		if own != nil && own.State == Held {
			outcome = claimReplayed
		}
		return Claim{CustomerID: customerID, Key: key, State: Held, Discount: d, Expires: now.Add(s.ttl)}, nil
	})
	s.metrics.claimsExpired(expired)
	if err != nil {
		return bookshop.Discount{}, "", err
	}
	s.metrics.claimed(outcome)
	if released {
		s.metrics.claimed(Released)
	}
	if answer != bookshop.ClaimGranted {
		return bookshop.Discount{}, answer, nil
	}
	granted := c.Discount
	if earns && granted.Amount == d.Amount && granted.BookID == d.BookID && granted.Code == d.Code {
		granted.Label = d.Label
	}
	return granted, bookshop.ClaimGranted, nil
}

// Confirm implements [bookshop.Promotions]. Errors: see ConfirmClaim.
func (s *Service) Confirm(ctx context.Context, customerID int32, key string) error {
	_, err := s.ConfirmClaim(ctx, customerID, key)
	return err
}

// ConfirmClaim records that the checkout of customerID's claim under key
// was paid with its discount: the use is spent, for good unless the
// checkout releases it before it records its order (see Release). It
// returns the claim, confirmed.
// Confirming again changes nothing; a claim released or expired is
// confirmed all the same when no other claim of the customer of its
// campaign holds or spent the use. A claim of the campaign before this
// one (claimed before the service ran this one) is confirmed as one of
// that campaign. Errors: Invalid for a customer id under 1 or a malformed
// key; NotFound when key made no claim (or its record is gone, RecordTTL
// after it ended); Conflict when another claim of the customer holds or
// spent the use.
func (s *Service) ConfirmClaim(ctx context.Context, customerID int32, key string) (Claim, error) {
	if err := CheckCustomer(customerID); err != nil {
		return Claim{}, err
	}
	if err := CheckKey(key); err != nil {
		return Claim{}, err
	}
	now := s.now()
	var (
		c         Claim
		err       error
		confirmed bool
		code      = s.promo.Code // the campaign whose live claim the store reads
		other     string         // the campaign of key's claim, when not code's
	)
	decide := func(own, live *Claim) (Claim, error) {
		confirmed, other = false, "" // set afresh: the store may call this again
		switch {
		case own == nil:
			return Claim{}, bookshop.Errorf(bookshop.NotFound, "customer %d has no claim under key %q", customerID, key)
		case own.State == Confirmed:
			return *own, nil
		case own.Discount.Code != code && own.State == Held:
			live = own // held, so the live claim of its campaign
		case own.Discount.Code != code:
			// Ended, of another campaign: whether another claim took the
			// use is a question of that campaign's claims.
			other = own.Discount.Code
			return *own, nil
		}
		if live != nil && live.Key != key {
			return Claim{}, bookshop.Errorf(bookshop.Conflict,
				"the claim under key %q was %s, and another checkout of customer %d has %s the promotion since", key, own.State, customerID, map[string]string{Held: "claimed", Confirmed: "used"}[live.State])
		}
		confirmed = true
		next := *own
		next.State = Confirmed
		return next, nil
	}
	for range confirmRuns {
		var expired int
		c, expired, err = s.store.Update(ctx, customerID, code, key, now, decide)
		s.metrics.claimsExpired(expired)
		if err != nil || other == "" {
			break
		}
		code = other // and again, reading that campaign's claims
	}
	if err == nil && other != "" {
		err = bookshop.Errorf(bookshop.Unavailable, "the claim under key %q changed campaign while it was confirmed: try again", key)
	}
	if err != nil {
		if bookshop.ErrorCode(err) == bookshop.Conflict {
			s.logger.WarnContext(ctx, "promotion confirmed after its claim ended, and another checkout took it", "customer", customerID, "err", err)
		}
		return Claim{}, err
	}
	if confirmed {
		s.metrics.confirmed(c.Discount)
	}
	return c, nil
}

// confirmRuns bounds the transactions of one ConfirmClaim: the first
// reads the claims of the Service's campaign, and, when the key's claim
// is of another campaign and ended, a second reads that campaign's. A
// third is needed only if a claim under the key changed campaign between
// the two, and none more.
const confirmRuns = 3

// Release implements [bookshop.Promotions]: it gives back the use that
// customerID's claim under key holds or spent: its checkout did not
// record its order. A confirmed claim is released too: the Checkout
// confirms a claim once the order's charge went through, before it takes
// the stock and records the order, and releases it only when the
// checkout is undone before the order is recorded (the stock could not
// be taken), so that both steps can be undone; it is the only caller
// that confirms. Releasing a claim released or expired, or a key that
// made none, changes nothing. Errors: Invalid for a customer id under 1
// or a malformed key.
func (s *Service) Release(ctx context.Context, customerID int32, key string) error {
	if err := CheckCustomer(customerID); err != nil {
		return err
	}
	if err := CheckKey(key); err != nil {
		return err
	}
	var was string
	_, expired, err := s.store.Update(ctx, customerID, s.promo.Code, key, s.now(), func(own, _ *Claim) (Claim, error) {
		was = "" // set afresh: the store may call this again
		switch {
		case own == nil:
			return Claim{}, nil
		case own.State != Held && own.State != Confirmed:
			return *own, nil
		}
		was = own.State
		next := *own
		next.State = Released
		return next, nil
	})
	s.metrics.claimsExpired(expired)
	if err != nil {
		return err
	}
	switch was {
	case Held:
		s.metrics.claimed(Released)
	case Confirmed:
		s.metrics.claimed(claimUnconfirmed)
		s.logger.InfoContext(ctx, "a confirmed claim released: its checkout was undone before its order was recorded", "customer", customerID)
	}
	return nil
}

// Sweep records as expired the claims held past their expiry (they hold
// nothing from then, swept or not: this keeps the records true), and
// deletes the records of those released or expired more than RecordTTL
// ago. It returns how many it expired and how many it deleted.
func (s *Service) Sweep(ctx context.Context) (expired, deleted int, err error) {
	now := s.now()
	expired, err = s.store.Expire(ctx, now)
	s.metrics.claimsExpired(expired)
	if err != nil {
		return expired, 0, err
	}
	deleted, err = s.store.DeleteEnded(ctx, now.Add(-RecordTTL))
	return expired, deleted, err
}

// RunSweeper calls Sweep at once and then every interval until ctx ends,
// logging what it does and its failures (each tried again at the next);
// it returns nil then.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) error {
	return process.Every(ctx, interval, func(ctx context.Context) {
		expired, deleted, err := s.Sweep(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			s.logger.WarnContext(ctx, "sweep claims", "err", err)
		case expired > 0 || deleted > 0:
			s.logger.InfoContext(ctx, "claims swept", "expired", expired, "records_deleted", deleted)
		}
	})
}
