package marketplace

import (
	"sync"

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

// maxRecommendedBooks bounds the books a recommendedBooks keeps: a title
// has at most 300 characters, so a few megabytes at most.
const maxRecommendedBooks = 10_000

// recommendedBooks remembers what Recommendations said of the books it
// recommended (id, title, author and year when it sends them, and the
// category asked for), so that a book's page can still say which book it
// is when the Catalog cannot give its details: the Catalog is down or
// slow, or, behind the tutorial's Python Recommendations, there is none
// (its server has no CatalogService), and every link of the homepage
// would otherwise lead to a 503. Prices are not kept: a book is sold only
// at the Catalog's price of the moment. Past maxRecommendedBooks books it
// starts again empty. It is safe for concurrent use; the zero value is
// empty.
type recommendedBooks struct {
	mu    sync.RWMutex
	books map[int32]bookshop.Book
}

// add remembers books, recommended from category c.
func (k *recommendedBooks) add(c bookshop.Category, books []bookshop.Book) {
	k.mu.RLock()
	fresh := true
	for _, b := range books {
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
	if k.books == nil || len(k.books)+len(books) > maxRecommendedBooks {
		k.books = make(map[int32]bookshop.Book)
	}
	for _, b := range books {
		k.books[b.ID] = remembered(c, b)
	}
}

// get returns what Recommendations said of book id, if it recommended it.
func (k *recommendedBooks) get(id int32) (bookshop.Book, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	b, ok := k.books[id]
	return b, ok
}

// remembered is what recommendedBooks keeps of b, recommended from c.
func remembered(c bookshop.Category, b bookshop.Book) bookshop.Book {
	return bookshop.Book{ID: b.ID, Title: b.Title, Author: b.Author, Year: b.Year, Category: c}
}
