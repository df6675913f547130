package bookshop

import (
	"cmp"
	"context"
	"maps"
	"slices"
)

// Shelf is an immutable set of books in memory, indexed by id and by
// category: the Catalog's snapshot of its database, and Recommendations'
// copy of the catalog. Readers share it without locks; a change makes a
// new Shelf (With), which readers of the old one never see. It is safe
// for concurrent use.
type Shelf struct {
	books      []Book              // every book, in id order
	byID       map[int32]int32     // id -> index in books
	byCategory map[Category][]Book // each in id order
}

// The Shelf's promises, checked by the compiler.
var (
	_ BookStore = (*Shelf)(nil)
	_ Catalog   = (*Shelf)(nil)
)

// NewShelf returns a shelf of the given books, which must be valid; of
// two with one id, the later is kept. It keeps its own copy.
func NewShelf(books []Book) *Shelf {
	latest := make(map[int32]int, len(books)) // id -> index in books of its last
	for i, b := range books {
		latest[b.ID] = i
	}
	s := &Shelf{books: make([]Book, 0, len(latest)), byCategory: make(map[Category][]Book)}
	for i, b := range books {
		if latest[b.ID] == i {
			s.books = append(s.books, b)
		}
	}
	slices.SortFunc(s.books, byID)
	s.index()
	for _, b := range s.books {
		s.byCategory[b.Category] = append(s.byCategory[b.Category], b)
	}
	s.clip()
	return s
}

// index builds byID from books.
func (s *Shelf) index() {
	s.byID = make(map[int32]int32, len(s.books))
	for i, b := range s.books {
		s.byID[b.ID] = int32(i)
	}
}

func byID(a, b Book) int { return cmp.Compare(a.ID, b.ID) }

// clip caps every list's capacity at its length, so that no append, by a
// caller or by With, can write into a list a reader holds.
func (s *Shelf) clip() {
	s.books = slices.Clip(s.books)
	for c, list := range s.byCategory {
		s.byCategory[c] = slices.Clip(list)
	}
}

// With returns a shelf of s's books and added; s itself is unchanged. A
// book of added with the id of one of s's, or of an earlier one of added,
// replaces it. It costs a copy of the index by id, of the list of all
// books and of the lists added to, and a sort only of a list an id
// arrives below the end of: an import, whose new ids follow the others,
// costs about one copy of the shelf.
func (s *Shelf) With(added []Book) *Shelf {
	seen := make(map[int32]bool, len(added))
	for _, b := range added {
		if _, ok := s.byID[b.ID]; ok || seen[b.ID] {
			// Rare (a whole snapshot comes through NewShelf): rebuild.
			return NewShelf(slices.Concat(s.books, added))
		}
		seen[b.ID] = true
	}
	n := &Shelf{books: s.books, byID: maps.Clone(s.byID), byCategory: maps.Clone(s.byCategory)}
	if n.byID == nil {
		n.byID = make(map[int32]int32, len(added))
	}
	if n.byCategory == nil {
		n.byCategory = make(map[Category][]Book)
	}
	unsorted := make(map[Category]bool)
	allUnsorted := false
	for _, b := range added {
		if k := len(n.books); k > 0 && n.books[k-1].ID > b.ID {
			allUnsorted = true
		}
		n.books = append(n.books, b) // s's lists are clipped: this copies
		if list := n.byCategory[b.Category]; len(list) > 0 && list[len(list)-1].ID > b.ID {
			unsorted[b.Category] = true
		}
		n.byCategory[b.Category] = append(n.byCategory[b.Category], b)
		n.byID[b.ID] = int32(len(n.books) - 1)
	}
	if allUnsorted {
		slices.SortFunc(n.books, byID)
		n.index()
	}
	for c := range unsorted {
		slices.SortFunc(n.byCategory[c], byID)
	}
	n.clip()
	return n
}

// Len returns the number of books.
func (s *Shelf) Len() int { return len(s.books) }

// Books returns every book, in id order. The slice is shared: callers
// must not modify it.
func (s *Shelf) Books() []Book { return s.books }

// BooksInCategory implements [BookStore]. It never fails.
func (s *Shelf) BooksInCategory(_ context.Context, c Category) ([]Book, error) {
	return s.byCategory[c], nil
}

// Book implements [Catalog]: the book with the given id, or a NotFound
// error.
func (s *Shelf) Book(_ context.Context, id int32) (Book, error) {
	i, ok := s.byID[id]
	if !ok {
		return Book{}, Errorf(NotFound, "no book has id %d", id)
	}
	return s.books[i], nil
}

// ExportBooks implements [Catalog]. It stops early when ctx ends or yield
// fails. The batches are slices of the shelf: yield must not modify or
// keep them.
func (s *Shelf) ExportBooks(ctx context.Context, c Category, batchSize int, yield func([]Book) error) error {
	books := s.books
	if c != AllCategories {
		if !c.Valid() {
			return Errorf(Invalid, "unknown category %d", int32(c))
		}
		books = s.byCategory[c]
	}
	batchSize = max(batchSize, 1)
	for len(books) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := min(batchSize, len(books))
		if err := yield(books[:k:k]); err != nil {
			return err
		}
		books = books[k:]
	}
	return nil
}
