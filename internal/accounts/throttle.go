package accounts

import (
	"container/list"
	"hash/maphash"
	"sync"
	"time"
)

// Limits bound the attempts that a Service accepts before it refuses
// more for a while: failed sign-ins per account (the email, whether or
// not it has an account) and per client (the network address the caller
// passes), and sign-ups per client, failed or not.
//
// Each limiter counts in fixed windows: the first attempt of a key opens
// a window, and past the limit the key is refused until the window
// closes. The counts live in memory, in this process: with several
// replicas each counts alone, and a restart forgets them.
type Limits struct {
	// Window is how long a count of failures lasts.
	Window time.Duration
	// PerAccount is the most failed sign-ins of one email in a Window.
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
	// MaxKeys is the most emails, and the most clients, each limiter
	// counts at once: past it the oldest window is forgotten. An entry
	// takes about 120 bytes (a 64-bit hash of the key, not the key
	// itself: TestLimiterMemory), so the default, 100,000 of each, bounds
	// the three limiters to some 36 MB (docs/capacity.md budgets 43 MiB).
	MaxKeys int
}

// DefaultLimits are those of OWASP's Authentication Cheat Sheet, more or
// less: 5 failures per account and 20 per client in 15 minutes; and 10
// sign-ups per client in an hour, plenty for the people of one household
// or office, and a bound on what one address costs the service.
var DefaultLimits = Limits{
	Window: 15 * time.Minute, PerAccount: 5, PerClient: 20,
	SignUpWindow: time.Hour, SignUpsPerClient: 10,
	MaxKeys: 100_000,
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

// refund gives back one attempt of key, for an attempt that succeeded.
func (l *limiter) refund(key string) {
	h := l.hash(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[h]; ok {
		if w := e.Value.(*window); w.n > 0 {
			w.n--
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
