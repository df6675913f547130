// Package accounts is the Accounts service: it keeps the shop's customers
// and their signed-in sessions. It opens accounts, checks passwords,
// starts and ends sessions, and says who holds a session.
//
// The slice: the rules of an account ([NormalizeAccount]), password
// hashing (argon2id, PHC strings), the throttling of failed sign-ins and
// of sign-ups ([Limits]) and the sessions here ([Service]); the gRPC server of
// bookshop.accounts.v1.AccountsService (server.go), with its request rules
// and its authorization entries ([Policy]); its metrics; [Config] and
// [Run]; its storage in package sqlite, or in package postgres, which
// replicas share; and, for callers, package accountsclient.
//
// Secrets: a password is kept only as its argon2id hash, and a session
// token only as its SHA-256; neither is ever logged, traced, or put in an
// error. The memory of the service is bounded: password hashes run a few
// at a time ([DefaultMaxHashes]), one of them kept for sign-ins, and the
// throttling counts a bounded number of keys ([Limits.MaxKeys]).
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// Store is where the Service keeps customers and sessions; *sqlite.DB and
// *postgres.DB are (package storetest is the contract as tests). A
// session is known by the SHA-256 of its token: the token itself is never
// stored. Every method that changes something returns once the change is
// durable.
type Store interface {
	// AddCustomer stores a new customer (its ID chosen by the store, from 1,
	// never reused) with its password hash, and its first session, which
	// starts at c.Created and ends at expires, in one transaction, and
	// returns the customer with its ID. Errors: Exists when c.Email has an
	// account.
	AddCustomer(ctx context.Context, c bookshop.Customer, passwordHash string, tokenHash [sha256.Size]byte, expires time.Time) (bookshop.Customer, error)
	// CustomerByEmail returns the customer whose email is email, and its
	// password hash. Errors: NotFound.
	CustomerByEmail(ctx context.Context, email string) (bookshop.Customer, string, error)
	// SetPasswordHash replaces the password hash of customer id.
	SetPasswordHash(ctx context.Context, id int32, passwordHash string) error
	// AddSession stores a session of customer id, from created to expires,
	// then ends the oldest sessions of the customer past the newest
	// maxPerCustomer, in one transaction; it returns how many it ended.
	AddSession(ctx context.Context, id int32, tokenHash [sha256.Size]byte, created, expires time.Time, maxPerCustomer int) (int, error)
	// Session returns the session whose token has the hash tokenHash, with
	// its customer, and no Token. Expired sessions are returned too.
	// Errors: NotFound.
	Session(ctx context.Context, tokenHash [sha256.Size]byte) (bookshop.Session, error)
	// DeleteSession deletes the session whose token has the hash
	// tokenHash, and reports whether there was one.
	DeleteSession(ctx context.Context, tokenHash [sha256.Size]byte) (bool, error)
	// DeleteExpired deletes the sessions that expire at or before t, and
	// returns how many.
	DeleteExpired(ctx context.Context, t time.Time) (int, error)
	// CountSessions returns the number of sessions that expire after t.
	CountSessions(ctx context.Context, t time.Time) (int, error)
}

// The defaults of the Options of a Service.
const (
	// DefaultSessionTTL is how long a session lasts.
	DefaultSessionTTL = 30 * 24 * time.Hour
	// DefaultMaxSessions is the most sessions one customer holds at once
	// (browsers and devices): past it, a sign-in ends the oldest.
	DefaultMaxSessions = 20
)

// tokenBytes is the size of a session's secret: 256 random bits.
const tokenBytes = 32

// tokenLen is the length of a token as it is written: unpadded base64url.
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// Options are what a Service is made with. The zero value of each field
// means its default.
type Options struct {
	// SessionTTL is how long a session lasts from sign-in; DefaultSessionTTL.
	SessionTTL time.Duration
	// MaxSessions is the most sessions per customer; DefaultMaxSessions.
	MaxSessions int
	// Hash are the argon2id parameters of new hashes; DefaultHashParams.
	Hash HashParams
	// MaxHashes is how many hashes run at once; DefaultMaxHashes. Sign-ups
	// take at most MaxHashes-1 of them (1 when MaxHashes is 1): the last is
	// kept for sign-ins.
	MaxHashes int
	// Limits bound failed sign-ins and sign-ups; DefaultLimits (each field
	// on its own).
	Limits Limits
	// Now is the clock; time.Now. For tests.
	Now func() time.Time
	// Logger receives what goes wrong that the caller is not told: a hash
	// that could not be renewed. Never a password or a token. Optional.
	Logger *slog.Logger
	// Metrics is where the Service counts sign-ups, sign-ins and sessions.
	// Optional.
	Metrics *telemetry.Metrics
}

// The messages of the errors that must not differ with the email: one for
// a wrong email or password, one for a token that names no live session.
const (
	msgWrongCredentials = "wrong email or password"
	msgNoSession        = "no such session: the token is unknown, or its session has expired or has ended"
)

// Service is the Accounts service: it implements [bookshop.Accounts] over
// a Store. It is safe for concurrent use.
type Service struct {
	store       Store
	hasher      *hasher
	pairs       *limiter // failed sign-ins, by email and client
	accounts    *limiter // failed sign-ins, by email: the ceiling
	clients     *limiter // failures, by client
	signUps     *limiter // sign-ups, by client
	ttl         time.Duration
	maxSessions int
	now         func() time.Time
	logger      *slog.Logger
	metrics     *metrics
}

// NewService returns the Accounts service over store, made as opts say.
// It computes one password hash before it returns (see hasher.dummy), and
// counts the sessions in store for its gauge. Errors: invalid hash
// parameters; a failure of the store.
func NewService(ctx context.Context, store Store, opts Options) (*Service, error) {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.Hash == (HashParams{}) {
		opts.Hash = DefaultHashParams
	}
	if opts.MaxHashes <= 0 {
		opts.MaxHashes = DefaultMaxHashes
	}
	l := opts.Limits
	if l.Window <= 0 {
		l.Window = DefaultLimits.Window
	}
	if l.PerAccountClient <= 0 {
		l.PerAccountClient = DefaultLimits.PerAccountClient
	}
	if l.PerAccount <= 0 {
		l.PerAccount = DefaultLimits.PerAccount
	}
	if l.PerClient <= 0 {
		l.PerClient = DefaultLimits.PerClient
	}
	if l.SignUpWindow <= 0 {
		l.SignUpWindow = DefaultLimits.SignUpWindow
	}
	if l.SignUpsPerClient <= 0 {
		l.SignUpsPerClient = DefaultLimits.SignUpsPerClient
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = DefaultLimits.MaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h, err := newHasher(opts.Hash, opts.MaxHashes)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:       store,
		hasher:      h,
		pairs:       newLimiter(l.PerAccountClient, l.Window, l.MaxKeys),
		accounts:    newLimiter(l.PerAccount, l.Window, l.MaxKeys),
		clients:     newLimiter(l.PerClient, l.Window, l.MaxKeys),
		signUps:     newLimiter(l.SignUpsPerClient, l.SignUpWindow, l.MaxKeys),
		ttl:         opts.SessionTTL,
		maxSessions: opts.MaxSessions,
		// To the millisecond, in UTC: as a Store keeps times, so that a
		// session returned at sign-in is the one read back later.
		now:     func() time.Time { return opts.Now().UTC().Truncate(time.Millisecond) },
		logger:  opts.Logger,
		metrics: newMetrics(opts.Metrics),
	}
	n, err := store.CountSessions(ctx, s.now())
	if err != nil {
		return nil, fmt.Errorf("count sessions: %w", err)
	}
	s.metrics.setSessions(n)
	return s, nil
}

// newToken returns a new session token and its hash.
func newToken() (string, [sha256.Size]byte) {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails (crypto/rand, Go 1.24 and later)
	token := base64.RawURLEncoding.EncodeToString(b)
	return token, sha256.Sum256([]byte(token))
}

// hashToken returns the hash of token, and false when token cannot be one
// that newToken made: then there is nothing to look up.
func hashToken(token string) ([sha256.Size]byte, bool) {
	if len(token) != tokenLen {
		return [sha256.Size]byte{}, false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(token); err != nil {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256([]byte(token)), true
}

// The reasons of a refused attempt, as exhausted words them.
const (
	// tooManyFailures: the same whichever count refused (the email's from
	// this client, the email's from all, the client's), and whether or not
	// the email has an account.
	tooManyFailures = "too many failed attempts"
	// tooManySignUps: the client has used its sign-ups of the window,
	// which says nothing of any email.
	tooManySignUps = "too many sign-ups from this network address"
)

// exhausted is the error of an attempt refused for reason, to be tried
// again after wait. RetryAfter is rounded up to whole seconds, as an HTTP
// Retry-After header says it.
func exhausted(reason string, wait time.Duration) error {
	wait = max(time.Second, (wait + time.Second - 1).Truncate(time.Second))
	return &bookshop.Error{
		Code:       bookshop.Exhausted,
		Message:    fmt.Sprintf("%s: try again in %s", reason, wait),
		RetryAfter: wait,
	}
}

// checkClient refuses an empty or over-long client, which would make the
// throttling count nobody, or everybody, as one.
func checkClient(client string) error {
	if client == "" || len(client) > MaxClientLen {
		return bookshop.Errorf(bookshop.Invalid, "client: want the caller's network address, 1 to %d bytes", MaxClientLen)
	}
	return nil
}

// MaxClientLen is the longest client a caller may pass: an IPv6 address
// with a zone, and room to spare.
const MaxClientLen = 128

// pairKey is the key of an email and a client together. The client comes
// first with its length, so that no two pairs make one key: joined bare,
// client "10.0.0.1" with email "1a@b.co" and client "10.0.0.11" with email
// "a@b.co" would share a count.
func pairKey(email, client string) string {
	return strconv.Itoa(len(client)) + ":" + client + email
}

// SignUp implements [bookshop.Accounts]: it opens an account and starts
// its first session. Every attempt counts against the client's sign-ups
// (Limits.SignUpsPerClient), whatever its outcome, but for one that fails
// for no fault of the caller's (the store, the context). Errors: Invalid
// for a field that breaks a rule of NormalizeAccount, or a missing
// client; Exists when the email has an account, which also counts as a
// failure of the client; Exhausted, before any work, when the client has
// used its sign-ups of the window or has failed too often.
func (s *Service) SignUp(ctx context.Context, a bookshop.NewAccount, client string) (bookshop.Session, error) {
	if err := checkClient(client); err != nil {
		return bookshop.Session{}, err
	}
	now := s.now()
	// Both counted before the work, so that a burst of sign-ups at once
	// gets no more than the limits. The failure is given back unless the
	// email was taken: someone who tries many emails to learn which have
	// accounts is stopped as someone who tries many passwords is.
	waitSignUps, okSignUps := s.signUps.take(client, now)
	waitFailures, okFailures := s.clients.take(client, now)
	if !okSignUps || !okFailures {
		if okSignUps {
			s.signUps.refund(client)
		}
		if okFailures {
			s.clients.refund(client)
		}
		if !okFailures {
			return bookshop.Session{}, exhausted(tooManyFailures, max(waitSignUps, waitFailures))
		}
		return bookshop.Session{}, exhausted(tooManySignUps, waitSignUps)
	}
	sess, again, err := s.signUp(ctx, a, now)
	switch bookshop.ErrorCode(err) {
	case "", bookshop.Invalid:
		s.clients.refund(client) // a sign-up, not a failure
	case bookshop.Exists:
		// Both: a sign-up, and a failure.
	default:
		// Not the caller's doing (the store, a deadline): given back.
		s.clients.refund(client)
		s.signUps.refund(client)
	}
	if err == nil && !again { // again: startSession counted the session, and the account was
		s.metrics.signedUp()
		s.metrics.sessionsChanged(1)
	}
	return sess, err
}

// SignUpRetryWindow is how long after an account is opened a sign-up
// with its email and its password is taken as the same sign-up again,
// answered with a new session of the account rather than Exists: a client
// that retries a sign-up whose answer it lost (UNAVAILABLE, which gRPC
// clients retry by themselves), a form sent twice. After it, or with
// another password, the email is taken, and no hash is spent on it.
const SignUpRetryWindow = 10 * time.Minute

// signUp opens the account of a, or, for a sign-up again (see
// SignUpRetryWindow), starts a new session of the account it opened
// (again true).
func (s *Service) signUp(ctx context.Context, a bookshop.NewAccount, now time.Time) (_ bookshop.Session, again bool, _ error) {
	a, err := NormalizeAccount(a)
	if err != nil {
		return bookshop.Session{}, false, err
	}
	// A taken email is refused before a hash is spent on it, unless the
	// account is new enough for this to be its sign-up again; the store
	// refuses it again if another sign-up takes it meanwhile.
	switch c, hash, err := s.store.CustomerByEmail(ctx, a.Email); {
	case err == nil:
		sess, err := s.signUpAgain(ctx, c, hash, a.Password, now)
		return sess, err == nil, err
	case bookshop.ErrorCode(err) != bookshop.NotFound:
		return bookshop.Session{}, false, err
	}
	hash, err := s.hasher.hashSignUp(ctx, a.Password)
	if err != nil {
		return bookshop.Session{}, false, err
	}
	token, tokenHash := newToken()
	expires := now.Add(s.ttl)
	c, err := s.store.AddCustomer(ctx, bookshop.Customer{Email: a.Email, Name: a.Name, Created: now}, hash, tokenHash, expires)
	if err != nil {
		if bookshop.ErrorCode(err) == bookshop.Exists {
			return bookshop.Session{}, false, errEmailTaken
		}
		return bookshop.Session{}, false, err
	}
	return bookshop.Session{Token: token, Customer: c, Expires: expires}, false, nil
}

// signUpAgain answers a sign-up for c's email: a new session of c when
// the sign-up is c's own again (see SignUpRetryWindow: c opened within it,
// and password is c's, passwordHash verifying it), errEmailTaken
// otherwise. The same password opens no other door: whoever has it may
// sign in.
func (s *Service) signUpAgain(ctx context.Context, c bookshop.Customer, passwordHash, password string, now time.Time) (bookshop.Session, error) {
	if age := now.Sub(c.Created); age < 0 || age >= SignUpRetryWindow {
		return bookshop.Session{}, errEmailTaken
	}
	match, _, err := s.hasher.verify(ctx, passwordHash, password)
	switch {
	case err != nil:
		return bookshop.Session{}, fmt.Errorf("sign up again customer %d: %w", c.ID, err)
	case !match:
		return bookshop.Session{}, errEmailTaken
	}
	return s.startSession(ctx, c, now)
}

// errEmailTaken is SignUp's error for an email that has an account.
var errEmailTaken = bookshop.Errorf(bookshop.Exists, "an account with this email already exists: sign in instead")

// SignIn implements [bookshop.Accounts]: it checks the email and password
// and starts a new session, with a new token. Errors: Unauthenticated,
// with the same message and after the same work, for an email without an
// account and for a wrong password; Exhausted, before any work, when in
// the window the email has failed too often from this client or from all
// clients together, or the client has failed too often (see Limits): a
// client that has failed too often at an email is refused it even with
// the right password, and other clients are not; Invalid for a missing
// client.
func (s *Service) SignIn(ctx context.Context, email, password, client string) (bookshop.Session, error) {
	if err := checkClient(client); err != nil {
		return bookshop.Session{}, err
	}
	email = NormalizeEmail(email)
	pair := pairKey(email, client)
	now := s.now()
	// All counted before the work (see limiter); if one refuses, the
	// others give back what they took: a refused attempt is no failure.
	// The client first: a client refused counts, and adds, no email, so
	// that its attempts at ever new emails cannot fill the limiters of
	// emails and push out the counts of others (refund drops a count
	// brought to nothing, too).
	waitClient, okClient := s.clients.take(client, now)
	if !okClient {
		s.metrics.signedIn(resultThrottled)
		return bookshop.Session{}, exhausted(tooManyFailures, waitClient)
	}
	waitPair, okPair := s.pairs.take(pair, now)
	waitAccount, okAccount := s.accounts.take(email, now)
	if !okPair || !okAccount {
		if okPair {
			s.pairs.refund(pair)
		}
		if okAccount {
			s.accounts.refund(email)
		}
		s.clients.refund(client)
		s.metrics.signedIn(resultThrottled)
		return bookshop.Session{}, exhausted(tooManyFailures, max(waitPair, waitAccount))
	}
	sess, err := s.signIn(ctx, email, password, now)
	switch bookshop.ErrorCode(err) {
	case "":
		// The customer's own mistakes from this client are cleared, so
		// that who mistypes and then signs in may mistype again. The
		// failures of other clients stay on the email's count: the
		// owner's sign-in says nothing of them, and clearing them would
		// give a guess spread over many clients a fresh ceiling each time
		// the owner signs in. This attempt itself was no failure.
		s.pairs.forget(pair)
		s.accounts.refund(email)
		s.clients.refund(client)
		s.metrics.signedIn(resultOK)
	case bookshop.Unauthenticated:
		s.metrics.signedIn(resultWrong)
	default:
		// Not the caller's failure (the store, a deadline): given back.
		s.pairs.refund(pair)
		s.accounts.refund(email)
		s.clients.refund(client)
	}
	return sess, err
}

// signIn checks the credentials and starts the session; its caller counts
// the attempt.
func (s *Service) signIn(ctx context.Context, email, password string, now time.Time) (bookshop.Session, error) {
	wrong := bookshop.Errorf(bookshop.Unauthenticated, msgWrongCredentials)
	if strings.ContainsRune(email, 0) {
		// No account has it (sign-up refuses control characters), and
		// PostgreSQL cannot be asked: its text holds no NUL, and it would
		// answer an error, an internal one to the caller.
		return bookshop.Session{}, wrong
	}
	c, hash, err := s.store.CustomerByEmail(ctx, email)
	if err != nil && bookshop.ErrorCode(err) != bookshop.NotFound {
		return bookshop.Session{}, err
	}
	p, possible := normalizeSignInPassword(password)
	if !possible {
		// No account has this password (too short, too long): no hash can
		// match, and skipping it tells nothing of the email.
		return bookshop.Session{}, wrong
	}
	if err != nil { // NotFound: as long as a wrong password takes
		if err := s.hasher.spend(ctx, p); err != nil {
			return bookshop.Session{}, err
		}
		return bookshop.Session{}, wrong
	}
	match, stale, err := s.hasher.verify(ctx, hash, p)
	if err != nil {
		return bookshop.Session{}, fmt.Errorf("sign in customer %d: %w", c.ID, err)
	}
	if !match {
		return bookshop.Session{}, wrong
	}
	if stale {
		s.renewHash(ctx, c.ID, p)
	}
	return s.startSession(ctx, c, now)
}

// renewHash hashes the password of customer id anew with the current
// parameters. A failure is only logged: the old hash still verifies, and
// the next sign-in tries again.
func (s *Service) renewHash(ctx context.Context, id int32, password string) {
	hash, err := s.hasher.hash(ctx, password)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, id, hash)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "renew password hash", "customer", id, "err", err)
	}
}

// startSession stores a new session of c, ending its oldest past
// maxSessions.
func (s *Service) startSession(ctx context.Context, c bookshop.Customer, now time.Time) (bookshop.Session, error) {
	token, tokenHash := newToken()
	expires := now.Add(s.ttl)
	ended, err := s.store.AddSession(ctx, c.ID, tokenHash, now, expires, s.maxSessions)
	if err != nil {
		return bookshop.Session{}, err
	}
	s.metrics.sessionsChanged(1 - ended)
	return bookshop.Session{Token: token, Customer: c, Expires: expires}, nil
}

// Session implements [bookshop.Accounts]. Errors: NotFound for a token
// that names no session (malformed, unknown, or whose session has expired
// or ended), with one message for all. Not Unauthenticated: the caller
// proved who it is; the token it asks about is data, and the answer that
// it names no session must not be mistaken for a refusal of the caller.
func (s *Service) Session(ctx context.Context, token string) (bookshop.Session, error) {
	noSession := bookshop.Errorf(bookshop.NotFound, msgNoSession)
	h, ok := hashToken(token)
	if !ok {
		return bookshop.Session{}, noSession
	}
	sess, err := s.store.Session(ctx, h)
	switch {
	case bookshop.ErrorCode(err) == bookshop.NotFound:
		return bookshop.Session{}, noSession
	case err != nil:
		return bookshop.Session{}, err
	case !s.now().Before(sess.Expires):
		return bookshop.Session{}, noSession
	}
	sess.Token = token
	return sess, nil
}

// SignOut implements [bookshop.Accounts]: the session of token ends, and
// its token is refused from then on. A token that names no session is not
// an error.
func (s *Service) SignOut(ctx context.Context, token string) error {
	h, ok := hashToken(token)
	if !ok {
		return nil
	}
	deleted, err := s.store.DeleteSession(ctx, h)
	if err != nil {
		return err
	}
	if deleted {
		s.metrics.sessionsChanged(-1)
	}
	return nil
}

// SweepInterval is how often Run deletes the sessions that have expired.
// They are refused from the moment they expire; the sweep only frees
// their rows.
const SweepInterval = 10 * time.Minute

// Sweep deletes the sessions that have expired, and returns how many. It
// also sets the gauge of live sessions from the store's count.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	n, err := s.store.DeleteExpired(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	live, err := s.store.CountSessions(ctx, now)
	if err != nil {
		return n, fmt.Errorf("count sessions: %w", err)
	}
	s.metrics.setSessions(live)
	return n, nil
}

// RunSweeper calls Sweep at once and then every interval until ctx ends
// (process.Every), logging failures; it returns nil then. The sweep at
// start frees at once the rows of the sessions that expired while the
// service was stopped; it is one indexed DELETE, and a sweep that several
// replicas make at the same time deletes each row once.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) error {
	return process.Every(ctx, interval, func(ctx context.Context) {
		n, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled):
			s.logger.WarnContext(ctx, "sweep sessions", "err", err)
		case n > 0:
			s.logger.InfoContext(ctx, "expired sessions deleted", "sessions", n)
		}
	})
}
