// Package ttlcache is the short memory the services keep of what another
// service told them: a map whose entries last a TTL, with a cap on how
// many it holds. The Cart and the Checkout keep the Catalog's books in
// one, the Checkout and the Marketplace the Inventory's stock counts.
//
// A Cache never answers with an entry past its TTL. When it is full, a new
// key takes the place of an entry past its TTL if there is one, and else
// of whichever entry comes first in the map (about at random): a full
// cache makes room for what it is given, and keeps the rest.
package ttlcache

import (
	"iter"
	"slices"
	"sync"
	"time"
)

// Cache maps keys to values, each kept for the Cache's TTL from when it
// was put. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[K]entry[V]
}

type entry[V any] struct {
	value V
	until time.Time
}

// New returns a Cache that holds at most size entries (at least 1), each
// for ttl.
func New[K comparable, V any](size int, ttl time.Duration) *Cache[K, V] {
	return NewWithClock[K, V](size, ttl, time.Now)
}

// NewWithClock is New with the clock the Cache tells the time by, for
// tests.
func NewWithClock[K comparable, V any](size int, ttl time.Duration, now func() time.Time) *Cache[K, V] {
	return &Cache[K, V]{max: max(size, 1), ttl: ttl, now: now, m: make(map[K]entry[V])}
}

// Lookup calls found with each of keys that c holds within its TTL, and
// returns the others, each once, in the order of keys: those to ask
// about. found runs under c's lock: it must be quick, and must not call
// c.
func (c *Cache[K, V]) Lookup(keys []K, found func(K, V)) (missing []K) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if e, ok := c.m[k]; ok && now.Before(e.until) {
			found(k, e.value)
		} else if !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	return missing
}

// Put keeps each of entries, from now for the TTL, in place of what c
// held for its key. A full Cache makes room for each new key (see the
// package's documentation), never in the place of another of entries: of
// more entries than c holds, it keeps the first.
func (c *Cache[K, V]) Put(entries iter.Seq2[K, V]) {
	now := c.now()
	until := now.Add(c.ttl)
	var (
		swept bool
		put   []K // the keys of this Put, which no other of it replaces
	)
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range entries {
		if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
			if !swept {
				c.dropExpired(now)
				swept = true
			}
			if len(c.m) >= c.max && !c.dropOneBut(put) {
				return // more entries than the cap: the first of them are kept
			}
		}
		c.m[k] = entry[V]{value: v, until: until}
		put = append(put, k)
	}
}

// Forget drops keys from c, so that the next Lookup asks about them.
func (c *Cache[K, V]) Forget(keys ...K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.m, k)
	}
}

// Len returns how many entries c holds, some of them perhaps past their
// TTL.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// dropExpired drops the entries past their TTL at now. c.mu is held.
func (c *Cache[K, V]) dropExpired(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k)
		}
	}
}

// dropOneBut drops whichever entry comes first in the map, but for those
// of keep. It reports whether it dropped one. c.mu is held.
func (c *Cache[K, V]) dropOneBut(keep []K) bool {
	for k := range c.m {
		if !slices.Contains(keep, k) {
			delete(c.m, k)
			return true
		}
	}
	return false
}
