package marketplace

import (
	"time"

	"golang.org/x/time/rate"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// What the tests of package marketplace_test reach inside for: the parsers
// of the query and path, for the fuzz tests, and the rate limiter with a
// clock of the test's own, to check that its table stays bounded.

// CategoryFromQuery is categoryFromQuery.
func CategoryFromQuery(rawQuery string) (bookshop.Category, string) {
	return categoryFromQuery(rawQuery)
}

// BookIDFromPath is bookIDFromPath.
func BookIDFromPath(s string) (int32, string) { return bookIDFromPath(s) }

// ClientLimiter is the limiter of the site's rate limit.
type ClientLimiter = clientLimiter

// NewClientLimiter returns a limiter that reads the time from now.
func NewClientLimiter(limit rate.Limit, burst, max int, now func() time.Time) *ClientLimiter {
	return newClientLimiter(limit, burst, max, now)
}

// Allow takes a token from the bucket of client key.
func (l *ClientLimiter) Allow(key string) (bool, time.Duration) { return l.allow(key) }

// Tracked returns the number of clients tracked.
func (l *ClientLimiter) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey)
}

// PageLinks exposes pageLinks: the links between the pages of a search's
// results.
var PageLinks = pageLinks
