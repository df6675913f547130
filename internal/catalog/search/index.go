// Package search finds the Catalog's books by the words of their titles
// and authors: an inverted index in memory, kept in step with the
// catalog's imports.
//
// # What matches
//
// Titles, authors and queries are cut into words and folded (see [Fold]):
// case and accents do not count, so "bronte", "Brontë" and "BRONTË" are
// one word. A book matches when every word of the query is a word of its
// title or of its author, in any order, in either field. The last word of
// the query may also be the start of a word ("agat" finds Agatha), so
// that a shopper finds books while still typing; a whole word ranks above
// a word it starts.
//
// # Ranking
//
// Results come best first, by these, each deciding only between books the
// ones before leave level:
//
//  1. the title is the query, word for word;
//  2. the query is in the title, its words together and in order (a
//     phrase);
//  3. every word of the query is in the title;
//  4. the query is a phrase of the author;
//  5. every word of the query is in the author;
//  6. more words of the query whole in the title, then more only begun
//     in the title (the last word, as a prefix), then the same for the
//     author;
//  7. the lower book id, so that every order is stable.
//
// So a title match ranks above an author match, a phrase above the same
// words apart, a book that matches in both fields above one that matches
// in one, and, other things equal, a whole word above a word begun.
//
// # How it is kept
//
// The index is a few immutable segments, each an index of some of the
// books: a sorted dictionary of words, for each word the books that have
// it (and whether in the title, the author, or as the whole title), and
// each book's words in order, for phrases. Searches read the segments
// without locks. Each import adds a segment of its own books, then merges
// the newest segments, in one pass, as far back as a segment holds at
// most twice the books of those after it: segments more than halve from
// oldest to newest, so there are at most about log2 of the books of them,
// and a book is indexed again only when its segment merges into one at
// least half as large again, a few dozen times in all. An import of k
// books costs about the time of indexing k books, whatever the catalog's
// size, never a rebuild of the whole index. 100,000 books take about 66
// bytes each (BenchmarkIndex100k).
package search

import (
	"bytes"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Index finds books by words of their titles and authors. Books are only
// ever added: a book given to Add again, with an id already indexed, is
// indexed twice, so callers add each book once (the Catalog adds the books
// each import writes, which never reuse an id). It is safe for concurrent
// use: searches run while books are added, and see them once Add returns.
type Index struct {
	mu    sync.Mutex // one Add at a time
	state atomic.Pointer[state]
	// general ranks every query from the books' words: see matcher.
	general bool
}

// state is the index at one moment: searches take it whole.
type state struct {
	segs  []*segment // oldest (largest) first
	books int
}

// New returns an index of books.
func New(books []bookshop.Book) *Index {
	x := &Index{}
	x.state.Store(&state{})
	x.Add(books)
	return x
}

// Len returns the number of books indexed.
func (x *Index) Len() int { return x.state.Load().books }

// Add indexes books. It costs about the time of indexing them alone, and
// from time to time that of merging segments (see the package
// documentation).
func (x *Index) Add(books []bookshop.Book) {
	if len(books) == 0 {
		return
	}
	seg := build(books)
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.state.Load()
	segs := append(slices.Clip(old.segs), seg) // a copy: readers hold old.segs
	// Merge the newest segments, in one pass, as far back as a segment is
	// at most twice the books of those after it.
	first, newer := len(segs)-1, segs[len(segs)-1].len()
	for first > 0 && segs[first-1].len() <= 2*newer {
		first--
		newer += segs[first].len()
	}
	if first < len(segs)-1 {
		segs = append(segs[:first:first], merge(segs[first:]))
	}
	x.state.Store(&state{segs: segs, books: old.books + len(books)})
}

// Result is a page of a search: the ids of its books, best first, and how
// many books match in all.
type Result struct {
	IDs   []int32
	Total int
}

// Search returns the page of books q asks for, best first (see the
// package documentation). Errors: Invalid, as [bookshop.SearchQuery.Validate]
// says. A query whose words fold to nothing (a lone mark) matches nothing.
// An offset past the end gives no ids, and the Total.
func (x *Index) Search(q bookshop.SearchQuery) (Result, error) {
	if err := q.Validate(); err != nil {
		return Result{}, err
	}
	words := strings.Fields(Fold(q.Text))
	if len(words) == 0 {
		return Result{}, nil
	}
	top := topHits{keep: q.Offset + q.Limit}
	m := matcher{general: x.general}
	for _, seg := range x.state.Load().segs {
		m.search(seg, words, &top)
	}
	hits := top.sorted()
	res := Result{Total: top.total}
	if q.Offset < len(hits) {
		hits = hits[q.Offset:]
		res.IDs = make([]int32, len(hits))
		for i, h := range hits {
			res.IDs[i] = h.id
		}
	}
	return res, nil
}

// maxFieldWords is the most words of a title or of an author the index
// keeps; words past it are not found. A title of 300 characters has at
// most 150.
const maxFieldWords = 255

// segment indexes some of the books. Within it a book is a doc, numbered
// from 0 in the order the books came; a word is a term, numbered in
// sorted order, so that the words a prefix starts are a range of numbers.
// It never changes once built.
type segment struct {
	ids      []int32  // doc -> book id
	starts   []uint32 // doc d's words are words[starts[d]:starts[d+1]]
	titleLen []uint8  // doc -> how many of its words are its title's
	words    []uint32 // each doc's title's terms, then its author's, in order
	terms    []string // term -> word, sorted
	postAt   []uint32 // term t's docs are docs[postAt[t]:postAt[t+1]]
	docs     []uint32 // the docs of each term, each once, in order
	// where says where each doc of docs has the term: postTitle,
	// postAuthor, postAlone. A query of one word is ranked from it alone.
	where []uint8
}

// Where a doc has a term, as bits of segment.where.
const (
	postTitle  uint8 = 1 << iota // in the title
	postAuthor                   // in the author
	postAlone                    // the title is this word alone
)

func (s *segment) len() int { return len(s.ids) }

// build indexes books as one segment.
func build(books []bookshop.Book) *segment {
	s := &segment{
		ids:      make([]int32, len(books)),
		starts:   make([]uint32, len(books)+1),
		titleLen: make([]uint8, len(books)),
	}
	dict := make(map[string]uint32) // word -> term number, in order of first use
	var (
		buf   []byte // the folded words of a field, reused
		terms []string
	)
	// field appends the terms of text to s.words and returns how many.
	field := func(text string) uint8 {
		buf = appendWords(buf[:0], text)
		n := 0
		for rest := buf; len(rest) > 0 && n < maxFieldWords; n++ {
			i := bytes.IndexByte(rest, ' ')
			t, ok := dict[string(rest[:i])] // no allocation for a word seen before
			if !ok {
				t = uint32(len(terms))
				w := string(rest[:i])
				dict[w] = t
				terms = append(terms, w)
			}
			s.words = append(s.words, t)
			rest = rest[i+1:]
		}
		return uint8(n)
	}
	for d, b := range books {
		s.ids[d] = b.ID
		s.starts[d] = uint32(len(s.words))
		s.titleLen[d] = field(b.Title)
		field(b.Author)
	}
	s.starts[len(books)] = uint32(len(s.words))
	// Number the terms in sorted order.
	order := make([]uint32, len(terms)) // sorted position -> first-use number
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(terms[a], terms[b]) })
	renumber := make([]uint32, len(terms)) // first-use number -> sorted
	s.terms = make([]string, len(terms))
	for sorted, t := range order {
		renumber[t] = uint32(sorted)
		s.terms[sorted] = terms[t]
	}
	for i, t := range s.words {
		s.words[i] = renumber[t]
	}
	s.words = slices.Clip(s.words)
	s.post()
	return s
}

// merge returns one segment of the books of segs, in order.
func merge(segs []*segment) *segment {
	docs, words := 0, 0
	for _, s := range segs {
		docs += s.len()
		words += len(s.words)
	}
	m := &segment{
		ids:      make([]int32, 0, docs),
		starts:   make([]uint32, 0, docs+1),
		titleLen: make([]uint8, 0, docs),
		words:    make([]uint32, 0, words),
	}
	// Merge the sorted dictionaries, noting where each term goes.
	renumber := make([][]uint32, len(segs))
	next := make([]int, len(segs)) // the next term of each segment to place
	for i, s := range segs {
		renumber[i] = make([]uint32, len(s.terms))
	}
	for {
		least := -1
		for i, s := range segs {
			if next[i] < len(s.terms) && (least < 0 || s.terms[next[i]] < segs[least].terms[next[least]]) {
				least = i
			}
		}
		if least < 0 {
			break
		}
		w := segs[least].terms[next[least]]
		t := uint32(len(m.terms))
		m.terms = append(m.terms, w)
		for i, s := range segs {
			if next[i] < len(s.terms) && s.terms[next[i]] == w {
				renumber[i][next[i]] = t
				next[i]++
			}
		}
	}
	m.terms = slices.Clip(m.terms)
	for i, s := range segs {
		base := uint32(len(m.words))
		m.ids = append(m.ids, s.ids...)
		m.titleLen = append(m.titleLen, s.titleLen...)
		for _, at := range s.starts[:s.len()] {
			m.starts = append(m.starts, base+at)
		}
		for _, t := range s.words {
			m.words = append(m.words, renumber[i][t])
		}
	}
	m.starts = append(m.starts, uint32(len(m.words)))
	m.post()
	return m
}

// post builds the lists of docs of each term from the docs' words, in two
// passes: count, then fill.
func (s *segment) post() {
	last := make([]int32, len(s.terms)) // the doc a term was last seen in
	for i := range last {
		last[i] = -1
	}
	s.postAt = make([]uint32, len(s.terms)+1)
	for d := range s.ids {
		for _, t := range s.words[s.starts[d]:s.starts[d+1]] {
			if last[t] != int32(d) {
				last[t] = int32(d)
				s.postAt[t+1]++
			}
		}
	}
	for t := range s.terms {
		s.postAt[t+1] += s.postAt[t]
	}
	s.docs = make([]uint32, s.postAt[len(s.terms)])
	s.where = make([]uint8, len(s.docs))
	fill := slices.Clone(s.postAt[:len(s.terms)]) // where each term's next doc goes
	for i := range last {
		last[i] = -1
	}
	for d := range s.ids {
		words := s.words[s.starts[d]:s.starts[d+1]]
		tl := int(s.titleLen[d])
		for p, t := range words {
			if last[t] != int32(d) {
				last[t] = int32(d)
				s.docs[fill[t]] = uint32(d)
				fill[t]++
			}
			// fill[t]-1 is this doc's entry for t.
			if p < tl {
				s.where[fill[t]-1] |= postTitle
			} else {
				s.where[fill[t]-1] |= postAuthor
			}
		}
		if tl == 1 {
			s.where[fill[words[0]]-1] |= postAlone
		}
	}
}

// term returns the number of word, and whether the segment has it.
func (s *segment) term(word string) (uint32, bool) {
	i := sort.SearchStrings(s.terms, word)
	return uint32(i), i < len(s.terms) && s.terms[i] == word
}

// prefixRange returns the terms that start with prefix: [lo, hi).
func (s *segment) prefixRange(prefix string) (lo, hi uint32) {
	i := sort.SearchStrings(s.terms, prefix)
	j := i + sort.Search(len(s.terms)-i, func(k int) bool { return !strings.HasPrefix(s.terms[i+k], prefix) })
	return uint32(i), uint32(j)
}

// postings returns the docs of term t.
func (s *segment) postings(t uint32) []uint32 { return s.docs[s.postAt[t]:s.postAt[t+1]] }
