package search

import (
	"math/bits"
	"slices"
)

// noTerm stands for a word the segment does not have.
const noTerm = ^uint32(0)

// What a word of the query matched in one book, as bits.
const (
	titleWhole uint8 = 1 << iota
	titlePrefix
	authorWhole
	authorPrefix
	titleAlone // the title is the word, whole, alone: for single
)

// The ranks of a match (see the package documentation), as bits of a
// hit's key above its counts of words.
const (
	rankAllAuthor uint64 = 1 << (32 + iota)
	rankAuthorPhrase
	rankAllTitle
	rankTitlePhrase
	rankExactTitle
)

// slot is a distinct word of the query, which every match must have.
type slot struct {
	term   uint32 // its term in the segment, or noTerm
	prefix bool   // the last word, which a term of [lo, hi) also matches
}

// matcher finds the books of a segment that match a query. Its slices are
// kept from one segment to the next.
type matcher struct {
	wid    []uint32 // the query's words, in order, as terms (the last noTerm when only begun)
	lo, hi uint32   // the terms the last word starts
	slots  []slot
	flags  []uint8  // what each slot matched in the book being scored
	seen   []uint64 // a set of docs, for a prefix of many terms
	// general ranks queries of one word as those of more, from each
	// book's words, for tests: they must rank alike.
	general bool
}

// search adds to top every doc of s that matches words (folded, at least
// one).
func (m *matcher) search(s *segment, words []string, top *topHits) {
	n := len(words)
	last := words[n-1]
	m.wid = m.wid[:0]
	m.slots = m.slots[:0]
	for _, w := range words[:n-1] {
		t, ok := s.term(w)
		if !ok {
			return // a word no book of s has
		}
		m.wid = append(m.wid, t)
		if !slices.Contains(m.slots, slot{term: t}) {
			m.slots = append(m.slots, slot{term: t})
		}
	}
	m.lo, m.hi = s.prefixRange(last)
	if m.lo == m.hi {
		return // no word of s is or starts with the last word
	}
	lastTerm := noTerm
	if s.terms[m.lo] == last {
		lastTerm = m.lo
	}
	m.wid = append(m.wid, lastTerm)
	if !slices.Contains(words[:n-1], last) {
		m.slots = append(m.slots, slot{term: lastTerm, prefix: true})
	}
	m.flags = slices.Grow(m.flags[:0], len(m.slots))[:len(m.slots)]
	if n == 1 && !m.general {
		m.single(s, top)
		return
	}

	// The candidates are the docs of the word with the fewest; every
	// match is among them. A prefix's are those of every term it starts.
	shortest, fewest := -1, uint32(1<<32-1)
	for i, sl := range m.slots {
		if sl.prefix {
			continue
		}
		if n := s.postAt[sl.term+1] - s.postAt[sl.term]; n < fewest {
			shortest, fewest = i, n
		}
	}
	begun := m.slots[len(m.slots)-1].prefix // the last word is a slot of its own
	switch {
	case shortest >= 0 && (!begun || fewest <= s.postAt[m.hi]-s.postAt[m.lo]):
		for _, d := range s.postings(m.slots[shortest].term) {
			m.score(s, d, top)
		}
	case m.hi-m.lo == 1:
		for _, d := range s.postings(m.lo) {
			m.score(s, d, top)
		}
	default:
		// A doc may have several of the terms: take each once.
		m.seen = slices.Grow(m.seen[:0], (s.len()+63)/64)[:(s.len()+63)/64]
		clear(m.seen)
		for t := m.lo; t < m.hi; t++ {
			for _, d := range s.postings(t) {
				m.seen[d/64] |= 1 << (d % 64)
			}
		}
		for i, w := range m.seen {
			for w != 0 {
				m.score(s, uint32(i*64+bits.TrailingZeros64(w)), top)
				w &= w - 1
			}
		}
	}
}

// single adds to top every doc of s that matches a query of one word,
// ranked from the lists of docs alone (segment.where), as score ranks it
// from the docs' words: a phrase of one word is the word. A doc may have
// several of the terms the word starts: their bits are joined first.
func (m *matcher) single(s *segment, top *topHits) {
	// matched converts the bits of where of term t.
	matched := func(t uint32, where uint8) uint8 {
		var f uint8
		if where&postTitle != 0 {
			f |= titlePrefix
		}
		if where&postAuthor != 0 {
			f |= authorPrefix
		}
		if t == m.wid[0] {
			f >>= 1 // the prefix bits, made whole
			if where&postAlone != 0 {
				f |= titleAlone
			}
		}
		return f
	}
	if m.hi-m.lo == 1 {
		at := s.postAt[m.lo]
		for i, d := range s.postings(m.lo) {
			top.add(hit{key: singleKey(matched(m.lo, s.where[int(at)+i])), id: s.ids[d]})
		}
		return
	}
	joined := make([]uint8, s.len())
	for t := m.lo; t < m.hi; t++ {
		at := s.postAt[t]
		for i, d := range s.postings(t) {
			joined[d] |= matched(t, s.where[int(at)+i])
		}
	}
	for d, f := range joined {
		if f != 0 {
			top.add(hit{key: singleKey(f), id: s.ids[d]})
		}
	}
}

// singleKey ranks a match of a query of one word, from what it matched.
func singleKey(f uint8) uint64 {
	var key uint64
	switch {
	case f&titleWhole != 0:
		key |= 1 << 24
	case f&titlePrefix != 0:
		key |= 1 << 16
	}
	switch {
	case f&authorWhole != 0:
		key |= 1 << 8
	case f&authorPrefix != 0:
		key |= 1
	}
	if f&(titleWhole|titlePrefix) != 0 {
		key |= rankAllTitle | rankTitlePhrase
		if f&titleAlone != 0 {
			key |= rankExactTitle
		}
	}
	if f&(authorWhole|authorPrefix) != 0 {
		key |= rankAllAuthor | rankAuthorPhrase
	}
	return key
}

// score adds doc d of s to top, ranked, if it has every word of the query.
func (m *matcher) score(s *segment, d uint32, top *topHits) {
	words := s.words[s.starts[d]:s.starts[d+1]]
	tl := int(s.titleLen[d])
	clear(m.flags)
	for p, t := range words {
		for i, sl := range m.slots {
			var f uint8
			switch {
			case t == sl.term:
				f = titleWhole
			case sl.prefix && m.lo <= t && t < m.hi:
				f = titlePrefix
			default:
				continue
			}
			if p >= tl {
				f <<= 2 // the author's
			}
			m.flags[i] |= f
		}
	}
	allTitle, allAuthor := true, true
	var tw, tp, aw, ap uint64
	for _, f := range m.flags {
		if f == 0 {
			return // a word of the query the book lacks
		}
		allTitle = allTitle && f&(titleWhole|titlePrefix) != 0
		allAuthor = allAuthor && f&(authorWhole|authorPrefix) != 0
		switch {
		case f&titleWhole != 0:
			tw++
		case f&titlePrefix != 0:
			tp++
		}
		switch {
		case f&authorWhole != 0:
			aw++
		case f&authorPrefix != 0:
			ap++
		}
	}
	key := tw<<24 | tp<<16 | aw<<8 | ap
	if allTitle {
		key |= rankAllTitle
		if m.phrase(words[:tl]) {
			key |= rankTitlePhrase
			if tl == len(m.wid) && slices.Equal(words[:tl], m.wid) {
				key |= rankExactTitle
			}
		}
	}
	if allAuthor {
		key |= rankAllAuthor
		if m.phrase(words[tl:]) {
			key |= rankAuthorPhrase
		}
	}
	top.add(hit{key: key, id: s.ids[d]})
}

// phrase reports whether field has the query's words together and in
// order, the last one whole or begun.
func (m *matcher) phrase(field []uint32) bool {
	n := len(m.wid)
next:
	for p := 0; p+n <= len(field); p++ {
		for j, t := range field[p : p+n] {
			if j == n-1 {
				if t < m.lo || t >= m.hi {
					continue next
				}
			} else if t != m.wid[j] {
				continue next
			}
		}
		return true
	}
	return false
}

// hit is a book that matches, and its rank.
type hit struct {
	key uint64 // the higher ranks first
	id  int32  // then the lower
}

// better reports whether h ranks before o.
func (h hit) better(o hit) bool { return h.key > o.key || h.key == o.key && h.id < o.id }

// topHits keeps the best hits it is given, up to keep of them, and counts
// them all.
type topHits struct {
	keep  int
	heap  []hit // the worst kept hit at the root
	total int
}

// add counts h, and keeps it if it is among the best keep so far.
func (t *topHits) add(h hit) {
	t.total++
	if len(t.heap) < t.keep {
		t.heap = append(t.heap, h)
		for i := len(t.heap) - 1; i > 0; {
			p := (i - 1) / 2
			if !t.heap[p].better(t.heap[i]) {
				break
			}
			t.heap[p], t.heap[i] = t.heap[i], t.heap[p]
			i = p
		}
		return
	}
	if !h.better(t.heap[0]) {
		return
	}
	t.heap[0] = h
	for i := 0; ; {
		worst := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(t.heap) && t.heap[worst].better(t.heap[c]) {
				worst = c
			}
		}
		if worst == i {
			return
		}
		t.heap[i], t.heap[worst] = t.heap[worst], t.heap[i]
		i = worst
	}
}

// sorted returns the hits kept, best first.
func (t *topHits) sorted() []hit {
	slices.SortFunc(t.heap, func(a, b hit) int {
		switch {
		case a.better(b):
			return -1
		case b.better(a):
			return 1
		}
		return 0
	})
	return t.heap
}
