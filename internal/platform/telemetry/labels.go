package telemetry

import "sync"

// OtherValue is the value that CappedValues gives a label past its cap.
const OtherValue = "other"

// CappedValues keeps the values of one label of a metric to at most a
// fixed number. A label whose values come from requests (a currency, for
// one) would otherwise make a series, and keep it for the life of the
// process, for every value a caller sends. It is safe for concurrent
// use.
type CappedValues struct {
	limit int
	mu    sync.Mutex
	seen  map[string]bool
}

// NewCappedValues returns a CappedValues that lets through at most limit
// values, counting those of initial (such as the value whose series a
// metric makes at start).
func NewCappedValues(limit int, initial ...string) *CappedValues {
	c := &CappedValues{limit: limit, seen: make(map[string]bool, limit)}
	for _, v := range initial {
		c.seen[v] = true
	}
	return c
}

// Value returns v when it has been let through before or there is still
// room for it, and OtherValue when the cap is reached.
func (c *CappedValues) Value(v string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.seen[v] {
		if len(c.seen) >= c.limit {
			return OtherValue
		}
		c.seen[v] = true
	}
	return v
}
