package marketplace

import (
	"container/list"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The defaults of the rate limit. A page load is a request or two (static
// files are not limited), and a shopper browses at a few a second at most,
// so even a few shoppers behind one address rarely come near these; a
// script that floods the site gets 429 after a burst of 50 and is then held
// to 10 a second. Each client tracked costs about 250 to 300 bytes, so the
// cap holds the table to about 30 MB under a flood from many addresses.
const (
	DefaultRateLimit      = rate.Limit(10)
	DefaultRateBurst      = 50
	DefaultMaxRateClients = 100_000
)

// messageTooManyRequests tells a client it is past its rate.
const messageTooManyRequests = "You are sending requests too fast. Please wait a moment and try again."

// clientLimiter gives each client, by key, a token bucket of rate.Limit
// tokens a second, up to burst; each request takes one token. It is safe
// for concurrent use.
//
// Its memory is bounded in two ways. A client whose bucket has filled up
// again (one idle for burst/limit seconds) is forgotten: a new bucket would
// be just the same, so forgetting it loses nothing. And at most max clients
// are tracked: past that, the least recently seen is forgotten, and starts
// again with a full bucket if it comes back. Both are O(1) per request: the
// clients are kept in a list, most recently seen first.
type clientLimiter struct {
	limit rate.Limit
	burst int
	max   int
	idle  time.Duration // how long an empty bucket takes to fill up
	now   func() time.Time

	mu    sync.Mutex
	byKey map[string]*list.Element // of *rateClient
	lru   list.List                // of *rateClient, most recently seen first
}

// rateClient is one tracked client.
type rateClient struct {
	key     string
	limiter *rate.Limiter
	seen    time.Time
}

func newClientLimiter(limit rate.Limit, burst, max int, now func() time.Time) *clientLimiter {
	// Capped at about 31 years, so that a tiny rate cannot overflow.
	idle := time.Duration(math.Min(float64(burst)/float64(limit)*float64(time.Second), 1e18))
	return &clientLimiter{
		limit: limit,
		burst: burst,
		max:   max,
		idle:  idle + time.Millisecond, // past rounding
		now:   now,
		byKey: make(map[string]*list.Element),
	}
}

// allow takes a token from the bucket of client key. When the bucket is
// empty it returns false, and how long until it holds a token again.
func (l *clientLimiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	e, ok := l.byKey[key]
	if ok {
		l.lru.MoveToFront(e)
	} else {
		if len(l.byKey) >= l.max {
			l.forget(l.lru.Back())
		}
		e = l.lru.PushFront(&rateClient{key: key, limiter: rate.NewLimiter(l.limit, l.burst)})
		l.byKey[key] = e
	}
	c := e.Value.(*rateClient)
	c.seen = now
	if c.limiter.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - c.limiter.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// forgetIdle forgets the clients not seen for l.idle, from the least
// recently seen on.
func (l *clientLimiter) forgetIdle(now time.Time) {
	for e := l.lru.Back(); e != nil && now.Sub(e.Value.(*rateClient).seen) >= l.idle; e = l.lru.Back() {
		l.forget(e)
	}
}

func (l *clientLimiter) forget(e *list.Element) {
	delete(l.byKey, e.Value.(*rateClient).key)
	l.lru.Remove(e)
}

// limitPage limits h to each client's rate, with a 429 page for a client
// past it.
func (s *server) limitPage(h http.Handler) http.Handler {
	return s.limit(h, func(w http.ResponseWriter, r *http.Request) {
		if wantsJSON(r) {
			// The add-to-cart script, which shows the message beside its
			// button, and would send the shopper away to a page it cannot
			// read.
			writeJSON(w, http.StatusTooManyRequests, cartChange{Count: -1, Message: messageTooManyRequests})
			return
		}
		s.renderError(w, r, http.StatusTooManyRequests, messageTooManyRequests)
	})
}

// limitScript limits h, a route of the site's scripts, to each client's
// rate, with a plain-text 429 for a client past it.
func (s *server) limitScript(h http.Handler) http.Handler {
	return s.limit(h, func(w http.ResponseWriter, _ *http.Request) {
		writePlain(w, http.StatusTooManyRequests, messageTooManyRequests)
	})
}

// limit serves a request with h while its client keeps to its rate, and
// with tooMany, after a Retry-After header, when it does not. Without a
// limiter (the rate is rate.Inf), it is h.
func (s *server) limit(h http.Handler, tooMany http.HandlerFunc) http.Handler {
	if s.limiter == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := clientKey(r, s.trustedProxies)
		ok, wait := s.limiter.allow(key)
		if !ok {
			s.logger.DebugContext(r.Context(), "rate limit: too many requests", "client", key, "path", loggedPath(r))
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			tooMany(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// clientKey returns the key under which r's client is rate limited: its
// IPv4 address, or the /64 network of its IPv6 address (one host commonly
// has a whole /64, and could otherwise take a fresh bucket with each of its
// addresses).
//
// The client is r.RemoteAddr, unless trustedProxies reverse proxies stand
// in front of the Marketplace. Each proxy adds the address it got the
// request from to the end of X-Forwarded-For, so the client is the
// trustedProxies-th address from the end; anything before it was written
// by the client, who could write anything there. That is why the header
// counts only when the Marketplace is configured to be behind proxies:
// without them, any client could name a fresh address in each request and
// never be limited. A header that is missing or does not hold an address
// there leaves r.RemoteAddr, the nearest proxy, as the client.
func clientKey(r *http.Request, trustedProxies int) string {
	remote := r.RemoteAddr
	if trustedProxies > 0 {
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for hop := range strings.SplitSeq(v, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		if len(hops) > 0 {
			// Fewer addresses than proxies: every one was added by a
			// proxy, and the first is the farthest.
			hop := hops[max(0, len(hops)-trustedProxies)]
			if addr, ok := parseAddr(hop); ok {
				return keyOf(addr)
			}
		}
	}
	if addr, ok := parseAddr(remote); ok {
		return keyOf(addr)
	}
	return remote
}

// clientKeys returns the key of r's client, as clientKey does, and that of
// its network: for IPv4 its /24, for IPv6 its /48, a site's usual share
// (a /48 holds 65,536 of the /64s that clientKey tells apart), so that a
// cap on a network's sessions bounds what one site can take. A client
// that is not an address is its own network.
func clientKeys(r *http.Request, trustedProxies int) (client, network string) {
	client = clientKey(r, trustedProxies)
	if p, err := netip.ParsePrefix(client); err == nil {
		return client, netip.PrefixFrom(p.Addr(), 48).Masked().String()
	}
	if a, err := netip.ParseAddr(client); err == nil && a.Is4() {
		return client, netip.PrefixFrom(a, 24).Masked().String()
	}
	return client, client
}

// parseAddr reads an IP address, with or without a port.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a, true
	}
	return netip.Addr{}, false
}

// keyOf is the rate-limit key of an address: IPv4 as it is, IPv6 as its
// /64 network.
func keyOf(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
