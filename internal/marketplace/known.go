package marketplace

import "sync"

// maxKnownBooks bounds the ids a knownBooks keeps: a few megabytes at
// most.
const maxKnownBooks = 100_000

// knownBooks remembers the ids the catalog has confirmed as books, so that
// a live event about one of them does not ask the catalog again: asking
// was a gRPC call on the path of every event, a fifth of the cost of an
// update and its slowest step. The catalog never removes a book (imports
// only add), so what it once confirmed stays true. Past maxKnownBooks ids
// it starts again empty. It is safe for concurrent use; the zero value is
// empty.
type knownBooks struct {
	mu  sync.RWMutex
	ids map[int32]struct{}
}

// has reports whether the catalog has confirmed id.
func (k *knownBooks) has(id int32) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	_, ok := k.ids[id]
	return ok
}

// add remembers that the catalog confirmed id.
func (k *knownBooks) add(id int32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ids == nil || len(k.ids) >= maxKnownBooks {
		k.ids = make(map[int32]struct{})
	}
	k.ids[id] = struct{}{}
}
