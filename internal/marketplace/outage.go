package marketplace

import (
	"sync/atomic"
	"time"
)

// outageMemory is how long the Marketplace stops asking a service for
// what a page only decorates itself with (the header's count, the
// session of a cookie) once the service has failed to answer: without
// it, while the service is down, every page would wait for a call's
// deadline first. The pages that need the service (the cart page, adding
// to the cart, signing in) still ask it every time.
const outageMemory = 5 * time.Second

// outage remembers when a service last failed to answer. It is safe for
// concurrent use; the zero outage has seen no failure.
type outage struct {
	until atomic.Int64 // unix nanoseconds until which the service counts as down
}

// down reports whether the service failed within the last outageMemory.
func (o *outage) down(now time.Time) bool { return now.UnixNano() < o.until.Load() }

// failed records that the service failed to answer at now.
func (o *outage) failed(now time.Time) { o.until.Store(now.Add(outageMemory).UnixNano()) }

// began records that the service failed to answer at now, as failed does,
// and reports whether that began an outage: whether the service had not
// failed within the last outageMemory. A failure that many requests see
// is logged as a warning once per outage, not once per request.
func (o *outage) began(now time.Time) bool {
	return o.until.Swap(now.Add(outageMemory).UnixNano()) <= now.UnixNano()
}
