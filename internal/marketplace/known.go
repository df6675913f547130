package marketplace

import (
	"sync"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

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

// The bounds of a recommendedBooks: a number of books, and the bytes of
// their titles and authors, which come from a Recommendations server that
// may not be ours (the tutorial's, or any that speaks its contract) and
// so are not trusted to be short. At most a few megabytes in all.
const (
	maxRecommendedBooks = 10_000
	maxRecommendedBytes = 2 << 20
)

// recommendedBooks remembers what Recommendations said of the books it
// recommended (id, title, author and year when it sends them, and the
// category asked for), so that a book's page can still say which book it
// is when the Catalog cannot give its details: the Catalog is down or
// slow, or, behind the tutorial's Python Recommendations, there is none
// (its server has no CatalogService), and every link of the homepage
// would otherwise lead to a 503. Prices are not kept: a book is sold only
// at the Catalog's price of the moment. A book without a title, or whose
// title or author is longer than a book's may be (bookshop.MaxTitleLen,
// MaxAuthorLen), is not kept. Past maxRecommendedBooks books or
// maxRecommendedBytes, it forgets a tenth of them, arbitrary ones, to
// make room. The memory is each Marketplace replica's own, and lost when
// it restarts. It is safe for concurrent use; the zero value is empty.
type recommendedBooks struct {
	mu    sync.RWMutex
	books map[int32]bookshop.Book
	bytes int // of the titles and authors in books
}

// add remembers books, recommended from category c.
func (k *recommendedBooks) add(c bookshop.Category, books []bookshop.Book) {
	k.mu.RLock()
	fresh := true
	for _, b := range books {
		if !rememberable(b) {
			continue
		}
		if old, ok := k.books[b.ID]; !ok || old != remembered(c, b) {
			fresh = false
			break
		}
	}
	k.mu.RUnlock()
	if fresh { // the usual case: the same few books, over and over
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.books == nil {
		k.books = make(map[int32]bookshop.Book)
	}
	for _, b := range books {
		if !rememberable(b) {
			continue
		}
		if old, ok := k.books[b.ID]; ok {
			delete(k.books, b.ID)
			k.bytes -= textBytes(old)
		}
		r := remembered(c, b)
		k.makeRoom(textBytes(r))
		k.books[b.ID] = r
		k.bytes += textBytes(r)
	}
}

// makeRoom forgets books, a tenth of those kept at a time, until one
// more, with n bytes of text, fits in the bounds. Which ones is left to
// the map's order: what matters is that the memory stays bounded and that
// most books stay known, not which ones. Call it with k.mu held.
func (k *recommendedBooks) makeRoom(n int) {
	full := func() bool { return len(k.books) >= maxRecommendedBooks || k.bytes+n > maxRecommendedBytes }
	for full() && len(k.books) > 0 {
		forget := max(len(k.books)/10, 1)
		for id, b := range k.books {
			if forget == 0 {
				break
			}
			delete(k.books, id)
			k.bytes -= textBytes(b)
			forget--
		}
	}
}

// get returns what Recommendations said of book id, if it recommended it.
func (k *recommendedBooks) get(id int32) (bookshop.Book, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	b, ok := k.books[id]
	return b, ok
}

// rememberable reports whether recommendedBooks keeps b: it has a title,
// and its title and author are no longer than a book's may be.
func rememberable(b bookshop.Book) bool {
	return b.Title != "" &&
		len(b.Title) <= utf8.UTFMax*bookshop.MaxTitleLen && utf8.RuneCountInString(b.Title) <= bookshop.MaxTitleLen &&
		len(b.Author) <= utf8.UTFMax*bookshop.MaxAuthorLen && utf8.RuneCountInString(b.Author) <= bookshop.MaxAuthorLen
}

// textBytes is what b's title and author take.
func textBytes(b bookshop.Book) int { return len(b.Title) + len(b.Author) }

// remembered is what recommendedBooks keeps of b, recommended from c.
func remembered(c bookshop.Category, b bookshop.Book) bookshop.Book {
	return bookshop.Book{ID: b.ID, Title: b.Title, Author: b.Author, Year: b.Year, Category: c}
}
