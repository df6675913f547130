// Package payments is the Payments service: a fake card processor with
// the rules of a real one. It moves no money, but it checks a card as a
// processor does (the Luhn check, the brand and its length, the expiry,
// the CVC), charges it once for each idempotency key, records declines,
// and refunds.
//
// The slice: the rules of a charge (card.go; a card's are
// paymentsclient's, which forms check a card by too) and the [Service]
// here; the gRPC server of bookshop.payments.v1.PaymentsService
// (server.go), with its request rules and its authorization entries
// ([Policy]); its metrics; [Config] and [Run]; its storage in package
// sqlite, or in package postgres, which replicas share; the Store's
// contract as tests, run on both, in package storetest; and, for callers,
// package paymentsclient, which also holds the rules of a card, the test
// cards and the names of a card's fields in the error messages.
//
// Card data. A card's number and CVC reach the Service, which checks them
// and decides, and go no further: the Store is given a charge with the
// card's brand and last four digits only, and no log line, error message
// or trace attribute holds them.
//
// Idempotency. A charge is made in one transaction with the record of its
// key, the fake processor's decision being made just before, in memory:
// so a charge is taken exactly when it is recorded, and a process killed
// at any moment either took and recorded it, or did neither.
package payments

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/fault"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The ids of charges: chargeIDPrefix and chargeIDRandLen characters of
// unpadded base64url, of 16 random bytes.
const (
	chargeIDPrefix  = "ch_"
	chargeIDBytes   = 16
	chargeIDRandLen = 22
)

// MaxLatency bounds Options.Latency, and the -latency setting.
const MaxLatency = time.Minute

// Store is where the Service keeps the charges; *sqlite.DB and
// *postgres.DB are two. A charge it keeps has no card number and no CVC:
// only the brand and the last four digits. A nil charge means none. Its
// changes hold against every other handle on the same database (another
// replica's) at once: a key makes one charge at most, is never both
// charged and cancelled, and a charge is refunded once.
type Store interface {
	// ChargeByID returns charge id, or nil.
	ChargeByID(ctx context.Context, id string) (*bookshop.Charge, error)
	// ChargeByKey returns the charge made with idempotency key key; or
	// nil, and whether the key was cancelled (see CancelKey).
	ChargeByKey(ctx context.Context, key string) (c *bookshop.Charge, cancelled bool, err error)
	// AddCharge records c, a new charge, in one transaction that first
	// looks its key up: when the key made a charge, it records nothing and
	// returns that one as prior; when the key was cancelled, it records
	// nothing and returns cancelled.
	AddCharge(ctx context.Context, c bookshop.Charge) (prior *bookshop.Charge, cancelled bool, err error)
	// CancelKey records idempotency key key as cancelled at now, so that
	// AddCharge refuses it, in one transaction that first looks it up:
	// when the key made a charge, it records nothing and returns it.
	CancelKey(ctx context.Context, key string, now time.Time) (*bookshop.Charge, error)
	// Refund marks charge id refunded at now if it is approved, in one
	// transaction, and returns it as it is then; nil when there is no
	// charge id.
	Refund(ctx context.Context, id string, now time.Time) (*bookshop.Charge, error)
}

// Options are what a Service is made with besides its Store. The zero
// value of each field means its default.
type Options struct {
	// Logger receives a line for each charge, decline and refund, with the
	// card's brand and last four digits only; discarded when nil.
	Logger *slog.Logger
	// Metrics is where the Service counts; nothing is counted when nil.
	Metrics *telemetry.Metrics
	// Latency is how long the fake processor takes to answer a new charge
	// or a refund, 0 to MaxLatency: a slow processor, for fault tests.
	// 0, the default, answers at once.
	Latency time.Duration
	// Now is the clock, for the dates of the charges and the expiries of
	// the cards; time.Now. For tests.
	Now func() time.Time
	// Rand is the source of the charges' ids; crypto/rand.Reader.
	Rand io.Reader
}

// Service is the Payments service: a fake card processor over a Store.
// It implements [bookshop.Payments], with lookups and refunds by key
// besides, and is safe for concurrent use.
type Service struct {
	store   Store
	logger  *slog.Logger
	metrics *metrics
	latency time.Duration
	now     func() time.Time
	rand    io.Reader
}

var _ bookshop.Payments = (*Service)(nil)

// NewService returns the Payments service over store, made as opts say.
// A Latency out of its range is brought into it.
func NewService(store Store, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	return &Service{
		store:   store,
		logger:  opts.Logger,
		metrics: newMetrics(opts.Metrics),
		latency: min(max(opts.Latency, 0), MaxLatency),
		now:     opts.Now,
		rand:    opts.Rand,
	}
}

// Charge implements [bookshop.Payments]: it takes amount from card, once
// for key.
//
// A new key's charge is decided by the fake processor: approved, unless
// the card is one of the test cards paymentsclient.TestCardDeclined
// (declined: insufficient funds) or TestCardUnavailable (the processor
// cannot be reached). The charge, approved or declined, is recorded with
// its key; a processor that cannot be reached records nothing.
//
// A key already recorded does no work: with the same amount and card
// (brand and last four digits) it returns the charge recorded (refunded
// since, perhaps), or the decline again; with another, Conflict. So a
// retry is never charged twice, even across a restart. A card whose
// expiry has passed since the first call is not refused on its retry.
//
// Errors: Invalid for a malformed key or amount (see CheckKey,
// CheckAmount), or a card that fails its checks
// (paymentsclient.CheckCard, CheckExpiry), with every problem of the card in one message that names
// the fields (paymentsclient.CardErrors reads it), and nothing recorded;
// Conflict for a declined card ("card declined: insufficient funds"), a
// key used with another amount or card, or a key cancelled (RefundKey);
// Unavailable when the processor cannot be reached, and nothing was
// charged; ctx's error when it ends while the processor works, and
// nothing was charged.
func (s *Service) Charge(ctx context.Context, key string, amount bookshop.Money, c bookshop.Card) (bookshop.Charge, error) {
	if err := CheckKey(key); err != nil {
		return bookshop.Charge{}, err
	}
	if err := CheckAmount(amount); err != nil {
		return bookshop.Charge{}, err
	}
	now := s.now()
	info, problems := paymentsclient.CardProblems(c, time.Time{})
	if len(problems) > 0 {
		// Every problem at once, for the shopper, the date's included.
		return bookshop.Charge{}, paymentsclient.CheckCard(c, now)
	}
	prior, cancelled, err := s.store.ChargeByKey(ctx, key)
	switch {
	case err != nil:
		return bookshop.Charge{}, err
	case prior != nil:
		return s.replay(ctx, *prior, amount, info)
	case cancelled:
		return bookshop.Charge{}, s.cancelledKey(ctx, key)
	}
	if err := paymentsclient.CheckExpiry(c.ExpMonth, c.ExpYear, now); err != nil {
		return bookshop.Charge{}, err
	}

	// The processor.
	s.logger.DebugContext(ctx, "charge sent to the processor", "key", key, "amount", amount.String(), "card", info.String())
	if err := s.wait(ctx); err != nil {
		return bookshop.Charge{}, err
	}
	state, reason := paymentsclient.StateApproved, ""
	switch info.Digits {
	case unavailableDigits:
		s.metrics.charged(resultUnavailable)
		s.logger.WarnContext(ctx, "the card processor cannot be reached: nothing charged", "key", key, "amount", amount.String(), "card", info.String())
		return bookshop.Charge{}, errProcessorUnavailable
	case declinedDigits:
		state, reason = paymentsclient.StateDeclined, DeclineInsufficientFunds
	}
	id, err := s.newID()
	if err != nil {
		return bookshop.Charge{}, err
	}
	ch := bookshop.Charge{
		ID: id, Key: key, Amount: amount, Brand: info.Brand, Last4: info.Last4,
		State: state, DeclineReason: reason, Created: s.now().UTC().Truncate(time.Millisecond),
	}
	prior, cancelled, err = s.store.AddCharge(ctx, ch)
	switch {
	case err != nil:
		return bookshop.Charge{}, err
	case prior != nil: // the same key, a moment earlier
		return s.replay(ctx, *prior, amount, info)
	case cancelled:
		return bookshop.Charge{}, s.cancelledKey(ctx, key)
	}
	if state == paymentsclient.StateDeclined {
		s.metrics.charged(resultDeclined)
		s.logger.InfoContext(ctx, "charge declined", "charge", ch.ID, "key", key, "amount", amount.String(), "card", info.String(), "reason", reason)
		return bookshop.Charge{}, declined(reason)
	}
	fault.Point("payments/after-charge") // recorded, not yet answered
	s.metrics.charged(resultApproved)
	s.logger.InfoContext(ctx, "charge approved", "charge", ch.ID, "key", key, "amount", amount.String(), "card", info.String())
	return ch, nil
}

// replay answers a Charge whose key made prior: as prior was answered,
// when the request is the same; Conflict, when it is another.
func (s *Service) replay(ctx context.Context, prior bookshop.Charge, amount bookshop.Money, c paymentsclient.CardNumber) (bookshop.Charge, error) {
	if prior.Amount != amount || prior.Brand != c.Brand || prior.Last4 != c.Last4 {
		s.metrics.charged(resultConflict)
		s.logger.WarnContext(ctx, "idempotency key used again for another charge: refused", "key", prior.Key, "charge", prior.ID,
			"amount", amount.String(), "card", c.String())
		return bookshop.Charge{}, bookshop.Errorf(bookshop.Conflict,
			"idempotency key: used for a charge of %s on a %s card ending %s: use a new key for each payment",
			prior.Amount, prior.Brand, prior.Last4)
	}
	s.metrics.charged(resultRetry)
	s.logger.InfoContext(ctx, "charge retried: answered as before", "charge", prior.ID, "key", prior.Key, "state", prior.State)
	if prior.State == paymentsclient.StateDeclined {
		return bookshop.Charge{}, declined(prior.DeclineReason)
	}
	return prior, nil
}

// cancelledKey returns the error of a Charge whose key was cancelled.
func (s *Service) cancelledKey(ctx context.Context, key string) error {
	s.metrics.charged(resultConflict)
	s.logger.WarnContext(ctx, "charge with a cancelled idempotency key: refused", "key", key)
	return bookshop.Errorf(bookshop.Conflict, "idempotency key: cancelled by a refund before any charge: nothing was charged; use a new key")
}

// declined returns the error of a declined charge.
func declined(reason string) error {
	return bookshop.Errorf(bookshop.Conflict, "card declined: %s", reason)
}

var errKeyCancelled = bookshop.Errorf(bookshop.NotFound, "no charge was made with this idempotency key: the key is cancelled, and will charge nothing")

var errProcessorUnavailable = bookshop.Errorf(bookshop.Unavailable, "the card processor cannot be reached: nothing was charged; try again shortly")

// Refund implements [bookshop.Payments]: it gives charge id back, whole.
// Refunding again returns the same refunded charge; a declined charge,
// which took nothing, is returned as it is. Errors: Invalid for a
// malformed id (CheckChargeID); NotFound; ctx's error when it ends while
// the processor works, and nothing was refunded.
func (s *Service) Refund(ctx context.Context, id string) (bookshop.Charge, error) {
	if err := CheckChargeID(id); err != nil {
		return bookshop.Charge{}, err
	}
	c, err := s.store.ChargeByID(ctx, id)
	if err != nil {
		return bookshop.Charge{}, err
	}
	if c == nil {
		return bookshop.Charge{}, bookshop.Errorf(bookshop.NotFound, "no charge %s", id)
	}
	return s.refund(ctx, *c)
}

// RefundKey refunds the charge made with idempotency key key, as Refund
// does. When key made none, it cancels the key, so that a Charge with it,
// even one that the processor is deciding now, is refused and charges
// nothing; and it answers NotFound. It is for a caller that lost track of
// a charge, and must make sure that no money stays taken. Errors: Invalid
// for a malformed key; NotFound (nothing was, or will be, charged with
// key); ctx's error when it ends while the processor works.
func (s *Service) RefundKey(ctx context.Context, key string) (bookshop.Charge, error) {
	if err := CheckKey(key); err != nil {
		return bookshop.Charge{}, err
	}
	c, cancelled, err := s.store.ChargeByKey(ctx, key)
	if err == nil && c == nil && !cancelled {
		if c, err = s.store.CancelKey(ctx, key, s.now().UTC()); err == nil && c == nil {
			fault.Point("payments/after-refund") // the key cancelled, not yet answered
			s.metrics.cancelled()
			s.logger.InfoContext(ctx, "idempotency key cancelled before any charge", "key", key)
		}
	}
	switch {
	case err != nil:
		return bookshop.Charge{}, err
	case c == nil:
		return bookshop.Charge{}, errKeyCancelled
	}
	return s.refund(ctx, *c)
}

// refund refunds c, found in the Store, if it is approved.
func (s *Service) refund(ctx context.Context, c bookshop.Charge) (bookshop.Charge, error) {
	if c.State != paymentsclient.StateApproved {
		return c, nil
	}
	if err := s.wait(ctx); err != nil {
		return bookshop.Charge{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	after, err := s.store.Refund(ctx, c.ID, now)
	if err != nil {
		return bookshop.Charge{}, err
	}
	if after == nil { // never: charges are not deleted
		return bookshop.Charge{}, fmt.Errorf("refund charge %s: gone from the database", c.ID)
	}
	if after.State == paymentsclient.StateRefunded && after.Refunded.Equal(now) {
		fault.Point("payments/after-refund") // recorded, not yet answered
		s.metrics.refunded()
		s.logger.InfoContext(ctx, "charge refunded", "charge", c.ID, "key", c.Key, "amount", c.Amount.String())
	}
	return *after, nil
}

// ChargeByID returns charge id: approved, refunded or declined. Errors:
// Invalid for a malformed id; NotFound.
func (s *Service) ChargeByID(ctx context.Context, id string) (bookshop.Charge, error) {
	if err := CheckChargeID(id); err != nil {
		return bookshop.Charge{}, err
	}
	c, err := s.store.ChargeByID(ctx, id)
	if err != nil {
		return bookshop.Charge{}, err
	}
	if c == nil {
		return bookshop.Charge{}, bookshop.Errorf(bookshop.NotFound, "no charge %s", id)
	}
	return *c, nil
}

// ChargeByKey returns the charge made with idempotency key key: approved,
// refunded or declined. Errors: Invalid for a malformed key; NotFound when
// the key made none (never used, or cancelled).
func (s *Service) ChargeByKey(ctx context.Context, key string) (bookshop.Charge, error) {
	if err := CheckKey(key); err != nil {
		return bookshop.Charge{}, err
	}
	c, cancelled, err := s.store.ChargeByKey(ctx, key)
	switch {
	case err != nil:
		return bookshop.Charge{}, err
	case cancelled:
		return bookshop.Charge{}, bookshop.Errorf(bookshop.NotFound, "no charge was made with this idempotency key: it was cancelled")
	case c == nil:
		return bookshop.Charge{}, bookshop.Errorf(bookshop.NotFound, "no charge was made with this idempotency key")
	}
	return *c, nil
}

// wait is the processor at work: Options.Latency, or until ctx ends.
func (s *Service) wait(ctx context.Context) error {
	if s.latency <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(s.latency)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// newID returns a new charge id: chargeIDPrefix and 16 random bytes in
// unpadded base64url.
func (s *Service) newID() (string, error) {
	b := make([]byte, chargeIDBytes)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("new charge id: %w", err)
	}
	return chargeIDPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}
