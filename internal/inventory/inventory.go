// Package inventory is the Inventory service: it keeps the stock of every
// book, and the reservations that hold copies for the checkouts in
// progress.
//
// The slice: the rules of the stock and of a reservation, and the
// [Service], here; the gRPC server of bookshop.inventory.v1.InventoryService
// (server.go), with its request rules and its authorization entries
// ([Policy]); its metrics; [Config] and [Run]; the stock it starts with
// (seed.go); its storage, in package sqlite (the default, a file) or
// package postgres (a database that replicas share), both held to one
// contract by package storetest; and, for callers, package
// inventoryclient.
//
// A book has copies on hand. A reservation holds some of them for a
// checkout, until it is committed (the copies leave the stock for good),
// released (they are given back) or expires (they are given back by
// themselves, at its expiry time, whether or not anything has swept it
// yet). The copies available are those on hand less those the live
// reservations hold, and every check of them and every change is made in
// one transaction that no other change interleaves with: so that a book
// is never oversold, its stock never goes below zero, and no copy is
// counted twice, under any concurrency, across processes and replicas.
package inventory

import (
	"context"
	"crypto/rand"
	"log/slog"
	"slices"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/fault"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The states of a reservation (bookshop.Reservation.State).
const (
	Held      = inventoryclient.Held
	Committed = inventoryclient.Committed
	Released  = inventoryclient.Released
	Expired   = inventoryclient.Expired
)

// The limits of the requests.
const (
	// MaxLines is the most lines of a reservation: the books a cart may
	// hold.
	MaxLines = bookshop.MaxCartLines
	// MaxLineQuantity is the most copies of one book a reservation may
	// hold: the copies a cart may hold.
	MaxLineQuantity = bookshop.MaxQuantity
	// MaxStockIDs is the most books one Levels call asks about.
	MaxStockIDs = inventoryclient.MaxStockIDs
	// MaxOnHand is the most copies on hand a book may have.
	MaxOnHand = inventoryclient.MaxOnHand
	// MinTTL and MaxTTL bound how long a reservation may hold its copies.
	MinTTL = time.Second
	MaxTTL = time.Hour
	// DefaultTTL is how long a reservation holds its copies when its
	// caller does not say: the default of -reservation-ttl.
	DefaultTTL = 10 * time.Minute
	// RecordTTL is how long the record of a reservation that ended
	// (committed, released or expired) is kept: for so long, Commit and
	// Release answer for it and its key makes no new one. The sweeper
	// deletes the older ones, which bounds the database to the
	// reservations of a week.
	RecordTTL = 7 * 24 * time.Hour
)

// CheckKey returns an Invalid error unless key is an idempotency key (see
// bookshop.CheckKey).
func CheckKey(key string) error { return bookshop.CheckKey("idempotency key", key) }

// CheckReservationID returns an Invalid error unless id could name a
// reservation: an id of the form of an idempotency key (see
// bookshop.CheckKey), as NewReservationID makes them.
func CheckReservationID(id string) error { return bookshop.CheckKey("reservation id", id) }

// checkBookID returns an Invalid error for a book id under 1.
func checkBookID(id int32) error {
	if id < 1 {
		return bookshop.Errorf(bookshop.Invalid, "book id %d: want 1 or more", id)
	}
	return nil
}

// CheckLines returns an Invalid error unless lines could be reserved: 1
// to MaxLines lines, each of a book id from 1, given once, and 1 to
// MaxLineQuantity copies.
func CheckLines(lines []bookshop.StockLine) error {
	if len(lines) == 0 || len(lines) > MaxLines {
		return bookshop.Errorf(bookshop.Invalid, "%d lines: reserve 1 to %d books at once", len(lines), MaxLines)
	}
	for i, l := range lines {
		if err := checkBookID(l.BookID); err != nil {
			return err
		}
		if l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			return bookshop.Errorf(bookshop.Invalid, "book %d: quantity %d: want 1 to %d", l.BookID, l.Quantity, MaxLineQuantity)
		}
		if slices.ContainsFunc(lines[:i], func(o bookshop.StockLine) bool { return o.BookID == l.BookID }) {
			return bookshop.Errorf(bookshop.Invalid, "book %d is on two lines: give each book once, with all its copies", l.BookID)
		}
	}
	return nil
}

// CheckTTL returns an Invalid error unless ttl is 0 (the service's own) or
// from MinTTL to MaxTTL.
func CheckTTL(ttl time.Duration) error {
	if ttl != 0 && (ttl < MinTTL || ttl > MaxTTL) {
		return bookshop.Errorf(bookshop.Invalid, "ttl %v: want %v to %v, or none for the service's own", ttl, MinTTL, MaxTTL)
	}
	return nil
}

// CheckStockIDs returns an Invalid error unless ids could be asked about
// in one call: 1 to MaxStockIDs ids, each 1 or more.
func CheckStockIDs(ids []int32) error {
	if len(ids) == 0 || len(ids) > MaxStockIDs {
		return bookshop.Errorf(bookshop.Invalid, "%d ids: ask for 1 to %d books at once", len(ids), MaxStockIDs)
	}
	for _, id := range ids {
		if err := checkBookID(id); err != nil {
			return err
		}
	}
	return nil
}

// CheckSetStock returns an Invalid error unless a book's copies on hand
// could be set to onHand: a book id from 1, and 0 to MaxOnHand copies.
func CheckSetStock(bookID int32, onHand int) error {
	if err := checkBookID(bookID); err != nil {
		return err
	}
	if onHand < 0 || onHand > MaxOnHand {
		return bookshop.Errorf(bookshop.Invalid, "book %d: %d copies on hand: want 0 to %d", bookID, onHand, MaxOnHand)
	}
	return nil
}

// Shortages returns the lines that available (the copies each book has
// available, by id; a book missing has none) cannot hold, in the order of
// lines, each with the copies its book has left; none when every line can
// be held.
func Shortages(lines []bookshop.StockLine, available map[int32]int) []bookshop.SoldOut {
	var short []bookshop.SoldOut
	for _, l := range lines {
		if n := available[l.BookID]; n < l.Quantity {
			short = append(short, bookshop.SoldOut{BookID: l.BookID, Available: max(n, 0)})
		}
	}
	return short
}

// SameLines reports whether a and b hold the same copies of the same
// books, in any order: whether a Reserve of b is a retry of one of a.
func SameLines(a, b []bookshop.StockLine) bool {
	if len(a) != len(b) {
		return false
	}
	for _, l := range a {
		if !slices.Contains(b, l) {
			return false
		}
	}
	return true
}

// StateAt returns the state of r at now: Expired for a reservation held
// whose expiry time has come, whether or not the sweeper has recorded it;
// its recorded state otherwise.
func StateAt(r bookshop.Reservation, now time.Time) string {
	if r.State == Held && !now.Before(r.Expires) {
		return Expired
	}
	return r.State
}

// Committing returns the state that Commit at now takes r to: Committed,
// for a held reservation or a committed one (which it leaves as it is).
// Errors: Conflict for a reservation released or expired, whose copies
// may have been sold since.
func Committing(r bookshop.Reservation, now time.Time) (string, error) {
	switch s := StateAt(r, now); s {
	case Held, Committed:
		return Committed, nil
	case Expired:
		return "", bookshop.Errorf(bookshop.Conflict, "reservation %s expired at %s: its copies may have been sold since; reserve them again",
			r.ID, r.Expires.UTC().Format(time.RFC3339))
	default:
		return "", bookshop.Errorf(bookshop.Conflict, "reservation %s was %s: its copies may have been sold since; reserve them again", r.ID, s)
	}
}

// Releasing returns the state that Release at now takes r to: Released
// for a held reservation; its state as it is, for one released or
// expired (an expired one stays expired, as it gave its copies back by
// itself). Errors: Conflict for a committed reservation, whose copies are
// sold.
func Releasing(r bookshop.Reservation, now time.Time) (string, error) {
	switch s := StateAt(r, now); s {
	case Held:
		return Released, nil
	case Released, Expired:
		return s, nil
	default:
		return "", bookshop.Errorf(bookshop.Conflict, "reservation %s was committed: its copies are sold, and cannot be given back", r.ID)
	}
}

// Store is where the Service keeps the stock and the reservations;
// *sqlite.DB and *postgres.DB are two (package storetest is the contract
// both pass). Each method is one transaction, which no other change
// interleaves with, in this process or another on the same database;
// the copies a book has available at a time are those on hand less those
// that the reservations held then, and not expired, hold. Nothing is
// written when a method fails. A Store may run a transaction again (when
// its database gave it up for another's sake), and so call its check or
// decide function more than once: they must only compute their result.
type Store interface {
	// Levels returns the stock of each of ids at now, in the order of ids,
	// each once; a book without a record has every number 0.
	Levels(ctx context.Context, ids []int32, now time.Time) ([]inventoryclient.Level, error)
	// Reserve records r (held, with its ID, Lines and Expires) under key,
	// unless key has a record: then it writes nothing and returns the
	// reservation the key made, and replayed true. Otherwise it calls
	// check with the copies available at now of each book of r's lines
	// (by id), and records r only when check returns nil; it returns
	// check's error, having written nothing, otherwise.
	Reserve(ctx context.Context, key string, r bookshop.Reservation, now time.Time, check func(available map[int32]int) error) (got bookshop.Reservation, replayed bool, err error)
	// Finish ends reservation id: it calls decide with it, as recorded,
	// and takes it to the state decide returns, at now: Committed takes
	// its copies off the stock, and every state but Held gives up its
	// hold. It writes nothing when decide fails (and returns its error)
	// or returns the state recorded. It returns the reservation in the
	// state it leaves it in. Errors: NotFound for an unknown id.
	Finish(ctx context.Context, id string, now time.Time, decide func(bookshop.Reservation) (string, error)) (bookshop.Reservation, error)
	// SetStock sets the copies on hand of book bookID to onHand at now,
	// after check accepts the copies that its live reservations hold; it
	// returns the book's stock as set. It writes nothing, and returns
	// check's error, when check fails.
	SetStock(ctx context.Context, bookID int32, onHand int, now time.Time, check func(held int) error) (inventoryclient.Level, error)
	// Expire records as expired, at their expiry time, the reservations
	// held whose expiry time is at or before now, and returns how many.
	Expire(ctx context.Context, now time.Time) (int, error)
	// DeleteEnded deletes the records of the reservations that ended
	// before before, and returns how many.
	DeleteEnded(ctx context.Context, before time.Time) (int, error)
}

// Service is the Inventory: the stock and the reservations kept in a
// Store. It implements [bookshop.Inventory] and is safe for concurrent
// use.
type Service struct {
	store   Store
	logger  *slog.Logger
	metrics *metrics
	ttl     time.Duration
	now     func() time.Time
	newID   func() string
}

// Options are what a Service is made with besides its Store. The zero
// value of each field means its default.
type Options struct {
	// Logger receives what the sweeper does and the failures it meets;
	// discarded when nil.
	Logger *slog.Logger
	// Metrics is where the Service counts; nothing is counted when nil.
	Metrics *telemetry.Metrics
	// TTL is how long a reservation holds its copies when its caller does
	// not say; DefaultTTL.
	TTL time.Duration
	// Now is the clock; time.Now. For tests.
	Now func() time.Time
	// NewID returns a new reservation id, 1 to bookshop.MaxKeyLen
	// characters of A-Z, a-z, 0-9, '-' and '_', never the same twice and
	// not guessable;
	// NewReservationID. For tests.
	NewID func() string
}

// NewService returns the Inventory over store, made as opts say.
func NewService(store Store, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = NewReservationID
	}
	return &Service{store: store, logger: opts.Logger, metrics: newMetrics(opts.Metrics), ttl: opts.TTL, now: opts.Now, newID: opts.NewID}
}

// NewReservationID returns a new reservation id: "r-" and 26 characters
// of base32 (130 random bits from crypto/rand), which nobody can guess.
func NewReservationID() string { return "r-" + rand.Text() }

// Stock implements [bookshop.Inventory]: the copies of each of ids that
// can be bought now; 0 for a book without a record. No ids give an empty
// map. Errors: Invalid for more than MaxStockIDs ids or an id under 1.
func (s *Service) Stock(ctx context.Context, ids []int32) (map[int32]int, error) {
	stock := make(map[int32]int, len(ids))
	if len(ids) == 0 {
		return stock, nil
	}
	levels, err := s.Levels(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, l := range levels {
		stock[l.BookID] = l.Available
	}
	return stock, nil
}

// Levels returns the stock of each of ids now, in the order of ids, each
// once: on hand, held and available. Errors: Invalid (see CheckStockIDs).
func (s *Service) Levels(ctx context.Context, ids []int32) ([]inventoryclient.Level, error) {
	if err := CheckStockIDs(ids); err != nil {
		return nil, err
	}
	return s.store.Levels(ctx, ids, s.now())
}

// Reserve implements [bookshop.Inventory]: it holds lines for ttl (0 for
// the Service's own), all or none.
//
// The key is recorded with the reservation, in the transaction that
// holds: a Reserve of the same key and the same lines returns the
// reservation it made, in its state now (Expired, say), and holds nothing
// more, even after a restart. A Reserve refused as sold out records no
// key, so that its retry is judged anew.
//
// Errors: Invalid for a malformed key, lines (see CheckLines) or ttl;
// Conflict, a *inventoryclient.SoldOutError, when a book has fewer copies
// available than its line asks for (nothing is held); Conflict for a key
// that made a reservation of other lines.
func (s *Service) Reserve(ctx context.Context, key string, lines []bookshop.StockLine, ttl time.Duration) (bookshop.Reservation, error) {
	if err := CheckKey(key); err != nil {
		return bookshop.Reservation{}, err
	}
	if err := CheckLines(lines); err != nil {
		return bookshop.Reservation{}, err
	}
	if err := CheckTTL(ttl); err != nil {
		return bookshop.Reservation{}, err
	}
	if ttl == 0 {
		ttl = s.ttl
	}
	now := s.now()
	r := bookshop.Reservation{
		ID:    s.newID(),
		Lines: slices.Clone(lines),
		// To the millisecond, as the Store keeps it: a retry returns the
		// same time.
		Expires: now.Add(ttl).Truncate(time.Millisecond).UTC(),
		State:   Held,
	}
	var stockOuts int
	got, replayed, err := s.store.Reserve(ctx, key, r, now, func(available map[int32]int) error {
		stockOuts = 0 // a Store may run its transaction, and so this, again
		if short := Shortages(lines, available); len(short) > 0 {
			return inventoryclient.NewSoldOutError(short)
		}
		for _, l := range lines {
			if available[l.BookID] == l.Quantity {
				stockOuts++
			}
		}
		return nil
	})
	switch {
	case bookshop.ErrorCode(err) == bookshop.Conflict:
		s.metrics.reserved(outcomeSoldOut)
		return bookshop.Reservation{}, err
	case err != nil:
		return bookshop.Reservation{}, err
	case replayed:
		if !SameLines(got.Lines, lines) {
			return bookshop.Reservation{}, bookshop.Errorf(bookshop.Conflict,
				"idempotency key %q made reservation %s of other books or quantities: use a new key for each checkout", key, got.ID)
		}
		s.metrics.reserved(outcomeReplayed)
		got.State = StateAt(got, now)
		return got, nil
	}
	fault.Point("inventory/after-reserve") // recorded, not yet answered
	s.metrics.reserved(Held)
	s.metrics.stockOuts(stockOuts)
	return got, nil
}

// Commit implements [bookshop.Inventory]: it takes a held reservation's
// copies off the stock for good. A committed reservation is returned as
// it is. Errors: Invalid for a malformed id; NotFound for an unknown one
// (or one whose record is gone, RecordTTL after it ended); Conflict for a
// reservation released or expired (see Committing).
func (s *Service) Commit(ctx context.Context, id string) (bookshop.Reservation, error) {
	return s.finish(ctx, id, Committing)
}

// Release implements [bookshop.Inventory]: it gives a held reservation's
// copies back. A reservation released or expired is returned as it is.
// Errors: Invalid for a malformed id; NotFound for an unknown one (or one
// whose record is gone, RecordTTL after it ended); Conflict for a
// committed reservation.
func (s *Service) Release(ctx context.Context, id string) (bookshop.Reservation, error) {
	return s.finish(ctx, id, Releasing)
}

// finish is Commit and Release, whose rule is decide.
func (s *Service) finish(ctx context.Context, id string, decide func(bookshop.Reservation, time.Time) (string, error)) (bookshop.Reservation, error) {
	if err := CheckReservationID(id); err != nil {
		return bookshop.Reservation{}, err
	}
	now := s.now()
	var recorded string
	r, err := s.store.Finish(ctx, id, now, func(r bookshop.Reservation) (string, error) {
		recorded = r.State
		return decide(r, now)
	})
	if err != nil {
		return bookshop.Reservation{}, err
	}
	if recorded == Held && r.State != Held {
		// This call ended it: recorded, not yet answered.
		switch r.State {
		case Committed:
			fault.Point("inventory/after-commit")
		case Released, Expired:
			fault.Point("inventory/after-release")
		}
		s.metrics.reserved(r.State) // committed, released, or expired as it was released
	}
	return r, nil
}

// SetStock implements [bookshop.Inventory]. Errors: see SetStockLevel.
func (s *Service) SetStock(ctx context.Context, bookID int32, onHand int) error {
	_, err := s.SetStockLevel(ctx, bookID, onHand)
	return err
}

// SetStockLevel sets the copies on hand of a book and returns its stock as
// set. Errors: Invalid (see CheckSetStock); Conflict for fewer copies than
// its live reservations hold.
func (s *Service) SetStockLevel(ctx context.Context, bookID int32, onHand int) (inventoryclient.Level, error) {
	if err := CheckSetStock(bookID, onHand); err != nil {
		return inventoryclient.Level{}, err
	}
	return s.store.SetStock(ctx, bookID, onHand, s.now(), func(held int) error {
		if onHand < held {
			return bookshop.Errorf(bookshop.Conflict,
				"book %d: checkouts in progress hold %d copies: set %d or more, or wait for them to end (at most %v)", bookID, held, held, s.ttl)
		}
		return nil
	})
}

// Sweep records as expired the reservations whose expiry time has passed
// (they hold nothing from that time, swept or not: this keeps the records
// true), and deletes the records of those that ended more than RecordTTL
// ago. It returns how many it expired and how many it deleted.
func (s *Service) Sweep(ctx context.Context) (expired, deleted int, err error) {
	now := s.now()
	expired, err = s.store.Expire(ctx, now)
	s.metrics.expired(expired)
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
			s.logger.WarnContext(ctx, "sweep reservations", "err", err)
		case expired > 0 || deleted > 0:
			s.logger.InfoContext(ctx, "reservations swept", "expired", expired, "records_deleted", deleted)
		}
	})
}

var _ bookshop.Inventory = (*Service)(nil)
