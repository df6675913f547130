package accounts

import (
	"container/list"
	"hash/maphash"
	"sync"
	"time"
)

// Limits bound the attempts that a Service accepts before it refuses
// more for a while: failed sign-ins of one email (whether or not it has an
// account) from one client, and of one email from all clients together;
// failures per client (the network address the caller passes); and
// sign-ups per client, failed or not.
//
// The count of an email and a client together is the one that stops
// someone guessing at an account, and the one a customer who mistypes
// meets; it is not the email's alone, or anyone could lock a customer out
// by failing a few times from anywhere. The email's own count is a
// ceiling, much higher, on a guess spread over many clients.
//
// Each limiter counts in fixed windows: the first attempt of a key opens
// a window, and past the limit the key is refused until the window
// closes. The counts live in memory, in this process: with several
// replicas each counts alone, and a restart forgets them.
type Limits struct {
	// Window is how long a count of failures lasts.
	Window time.Duration
	// PerAccountClient is the most failed sign-ins of one email from one
	// client in a Window. Past it that client is refused that email until
	// the window closes, even with the right password (refused before the
	// password is checked, or a guess past the limit would still be
	// answered), while the same email from another client is not.
	PerAccountClient int
	// PerAccount is the most failed sign-ins of one email in a Window,
	// from all clients together. Past it the email is refused to every
	// client, its owner's included, until the window closes: set well
	// above PerAccountClient, so that it bounds a guess spread over many
	// addresses without being what a customer meets.
	PerAccount int
	// PerClient is the most failures of one client in a Window: sign-ins
	// that fail, and sign-ups for an email that has an account.
	PerClient int
	// SignUpWindow is how long a count of sign-ups lasts.
	SignUpWindow time.Duration
	// SignUpsPerClient is the most sign-ups one client may attempt in a
	// SignUpWindow, whether they open an account or are refused: each that
	// succeeds costs a password hash and a row that stays, so a client
	// cannot open accounts without end, nor keep the hashes busy that
	// sign-ins wait for. Shoppers behind one address (an office, a
	// carrier's NAT) share it.
	SignUpsPerClient int
	// MaxKeys is the most keys each of the four limiters counts at once
	// (emails; pairs of an email and a client; clients, for failures;
	// clients, for sign-ups): past it the oldest window is forgotten. An
	// entry takes about 130 bytes (a 64-bit hash of the key, not the key
	// itself: TestLimiterMemory, 128 at 75,000, 120 at 100,000, as the
	// map's table is fuller or emptier), so the default, 75,000 of each,
	// bounds the four limiters to some 38 MB (docs/capacity.md budgets
	// 300,000 keys at 150 B, 43 MiB). The four share what three limiters of
	// 100,000 had: a limiter is full only when that many keys fail within
	// a window (75,000 pairs take 3,750 clients at their 20 failures), and
	// then the oldest are forgotten while the other counts still hold.
	MaxKeys int
}

// DefaultLimits are 5 failures of one email from one client and 20 of one
// client in 15 minutes, those of OWASP's Authentication Cheat Sheet, more
// or less; 10 sign-ups per client in an hour, plenty for the people of one
// household or office, and a bound on what one address costs the service.
//
// And 100 failures of one email in 15 minutes, from all clients. No
// customer comes near it: their own mistakes stop at 5 an address. It
// bounds a guess at one account spread over many addresses to 100 a
// window, 9,600 a day, against passwords of 10 characters or more and
// none of the most common (NormalizeAccount); NIST SP 800-63B (5.2.2)
// allows a verifier no more than 100 consecutive failures on one account.
// Lower, it would make locking a customer out cheaper again: reaching it
// takes 20 addresses each window (at 5 each), where the limit of the
// email alone, 5, took one.
var DefaultLimits = Limits{
	Window: 15 * time.Minute, PerAccountClient: 5, PerAccount: 100, PerClient: 20,
	SignUpWindow: time.Hour, SignUpsPerClient: 10,
	MaxKeys: 75_000,
}

// limiter counts the attempts of keys in fixed windows, for at most
// maxKeys keys at once. It is safe for concurrent use.
//
// An attempt is counted when it is allowed (take), before the work it
// guards, so that a burst of concurrent attempts cannot all pass before
// the first fails; a success gives it back (refund) or clears the key
// (forget).
type limiter struct {
	limit   int
	window  time.Duration
	maxKeys int
	seed    maphash.Seed

	mu      sync.Mutex
	entries map[uint64]*list.Element // of *window, by hashed key
	// order holds the entries oldest window first: the first to close,
	// and the first to go when the limiter is full.
	order list.List
}

// window is the count of one key.
type window struct {
	key   uint64
	start time.Time
	n     int
}

func newLimiter(limit int, window time.Duration, maxKeys int) *limiter {
	return &limiter{limit: limit, window: window, maxKeys: max(maxKeys, 1), seed: maphash.MakeSeed(), entries: make(map[uint64]*list.Element)}
}

// hash returns the key as the limiter keeps it: 64 bits, whatever the
// length of the key, and not the email itself. Two keys that share a hash
// share a count, with odds of about one in 2^64 per pair.
func (l *limiter) hash(key string) uint64 { return maphash.String(l.seed, key) }

// take counts an attempt of key at now, unless key has used its limit in
// its current window: then it returns false and how long until the
// window closes.
func (l *limiter) take(key string, now time.Time) (wait time.Duration, ok bool) {
	h := l.hash(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, found := l.entries[h]; found {
		w := e.Value.(*window)
		if now.Sub(w.start) >= l.window || now.Before(w.start) {
			// The window has closed (or the clock went back): a new one.
			w.start, w.n = now, 0
			l.order.MoveToBack(e)
		}
		if w.n >= l.limit {
			return w.start.Add(l.window).Sub(now), false
		}
		w.n++
		return 0, true
	}
	l.evict(now)
	l.entries[h] = l.order.PushBack(&window{key: h, start: now, n: 1})
	return 0, l.limit >= 1
}

// evict makes room for one more key: it drops the windows that have
// closed, oldest first, and then, if the limiter is still full, the
// oldest window still open.
func (l *limiter) evict(now time.Time) {
	for e := l.order.Front(); e != nil; e = l.order.Front() {
		w := e.Value.(*window)
		if now.Sub(w.start) < l.window && len(l.entries) < l.maxKeys {
			return
		}
		l.order.Remove(e)
		delete(l.entries, w.key)
	}
}

// refund gives back one attempt of key, for an attempt that succeeded or
// was refused. A key whose count it brings to nothing is dropped: it
// holds no failure, and kept it would take the place of one that does,
// so that a client refused again and again, at a new email each time,
// could otherwise fill the limiter and have the counts that hold it back
// forgotten.
func (l *limiter) refund(key string) {
	h := l.hash(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[h]; ok {
		w := e.Value.(*window)
		if w.n > 0 {
			w.n--
		}
		if w.n == 0 {
			l.order.Remove(e)
			delete(l.entries, h)
		}
	}
}

// forget clears the count of key.
func (l *limiter) forget(key string) {
	h := l.hash(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[h]; ok {
		l.order.Remove(e)
		delete(l.entries, h)
	}
}

// len returns the number of keys counted.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
