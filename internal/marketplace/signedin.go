package marketplace

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Every page a signed-in customer opens would ask the Accounts service
// whose session its cookie holds: a call, and a query of Accounts'
// database, which together cost more than the rest of the page. So the
// Marketplace keeps what Accounts answered for a few seconds
// (sessionCacheTTL), for a bounded number of sessions (maxCachedSessions).
//
// What that costs: a session signed out through another replica of the
// Marketplace is still honoured by this one for at most sessionCacheTTL.
// Signing out through this replica forgets the session here at once, and
// Accounts refuses it everywhere from then on. A session is never kept
// past its own expiry.
const (
	sessionCacheTTL = 5 * time.Second
	// Up to 750 bytes each with the longest email and name (a customer's
	// own), some 4 MiB at most (docs/capacity.md); kept 5 s, 5,000
	// hold a thousand signed-in page loads a second.
	maxCachedSessions = 5_000
)

// signedIn is the Marketplace's short memory of the sessions Accounts
// vouched for, keyed by the SHA-256 of their token, so that the tokens
// themselves are not kept. It is safe for concurrent use.
type signedIn struct {
	now func() time.Time

	mu   sync.Mutex
	byID map[[sha256.Size]byte]cachedSession
}

type cachedSession struct {
	customer bookshop.Customer
	until    time.Time // the earlier of the session's expiry and the cache's
	// signedOut marks a session signed out here, kept until until so that
	// a request that checked it just before cannot put it back.
	signedOut bool
}

func newSignedIn(now func() time.Time) *signedIn {
	return &signedIn{now: now, byID: make(map[[sha256.Size]byte]cachedSession)}
}

// get returns the customer of token's session if it was vouched for
// within the last sessionCacheTTL.
func (c *signedIn) get(token string) (bookshop.Customer, bool) {
	key := sha256.Sum256([]byte(token))
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[key]
	if !ok {
		return bookshop.Customer{}, false
	}
	if !now.Before(e.until) {
		delete(c.byID, key)
		return bookshop.Customer{}, false
	}
	return e.customer, !e.signedOut
}

// put remembers session, which Accounts just vouched for.
func (c *signedIn) put(session bookshop.Session) {
	key := sha256.Sum256([]byte(session.Token))
	until := c.now().Add(sessionCacheTTL)
	if !session.Expires.IsZero() && session.Expires.Before(until) {
		until = session.Expires
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[key]
	if ok && e.signedOut && c.now().Before(e.until) {
		return // signed out here a moment ago
	}
	if !ok {
		c.makeRoom()
	}
	c.byID[key] = cachedSession{customer: session.Customer, until: until}
}

// forget drops token's session, signed out, and for sessionCacheTTL
// refuses to take it back. Its mark counts against maxCachedSessions
// like a session: a sign-out may carry any token (while Accounts is down
// the Marketplace cannot tell a real one), so marks must not grow the
// map past its cap. A mark pushed out by the cap costs at most what a
// sign-out through another replica does.
func (c *signedIn) forget(token string) {
	key := sha256.Sum256([]byte(token))
	until := c.now().Add(sessionCacheTTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[key]; !ok {
		c.makeRoom()
	}
	c.byID[key] = cachedSession{until: until, signedOut: true}
}

// makeRoom forgets one entry when the map is full, whichever the map
// yields first (Go's map iteration starts at random): O(1) and, under
// churn, as good as the oldest. c.mu must be held.
func (c *signedIn) makeRoom() {
	if len(c.byID) < maxCachedSessions {
		return
	}
	for k := range c.byID {
		delete(c.byID, k)
		break
	}
}

// len returns how many sessions are kept.
func (c *signedIn) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}
