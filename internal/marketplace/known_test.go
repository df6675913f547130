package marketplace

import (
	"strconv"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func TestKnownBooks(t *testing.T) {
	var k knownBooks
	if k.has(1) {
		t.Fatal("an empty knownBooks has book 1")
	}
	k.add(1)
	k.add(7)
	if !k.has(1) || !k.has(7) || k.has(2) {
		t.Fatalf("after add(1), add(7): has(1), has(7), has(2) = %v, %v, %v; want true, true, false", k.has(1), k.has(7), k.has(2))
	}
	for id := range int32(maxKnownBooks) {
		k.add(100 + id)
	}
	if len(k.ids) > maxKnownBooks {
		t.Errorf("knownBooks holds %d ids, want at most %d", len(k.ids), maxKnownBooks)
	}
}

// TestRecommendedBooksBounds checks what recommendedBooks keeps of what a
// Recommendations server, perhaps not ours, says: no book whose title or
// author is longer than a book's may be, or without a title; at most
// maxRecommendedBooks books and maxRecommendedBytes of text, however many
// or long the books; and, once full, most of what it knew rather than
// nothing.
func TestRecommendedBooksBounds(t *testing.T) {
	var k recommendedBooks
	long := strings.Repeat("é", bookshop.MaxTitleLen+1)
	k.add(bookshop.Mystery, []bookshop.Book{
		{ID: 1, Title: "The Maltese Falcon"},
		{ID: 2, Title: long},
		{ID: 3, Title: "Rebecca", Author: strings.Repeat("x", bookshop.MaxAuthorLen+1)},
		{ID: 4, Title: strings.Repeat("é", bookshop.MaxTitleLen), Author: strings.Repeat("é", bookshop.MaxAuthorLen)},
		{ID: 5},
		{ID: 6, Title: strings.Repeat("x", 4<<20)}, // as much as a gRPC message may hold
	})
	for _, tc := range []struct {
		id   int32
		want bool
	}{{1, true}, {2, false}, {3, false}, {4, true}, {5, false}, {6, false}} {
		if _, ok := k.get(tc.id); ok != tc.want {
			t.Errorf("get(%d) after add: found %v, want %v", tc.id, ok, tc.want)
		}
	}

	t.Run("many books", func(t *testing.T) {
		var k recommendedBooks
		for id := range int32(3 * maxRecommendedBooks) {
			k.add(bookshop.Mystery, []bookshop.Book{{ID: id, Title: "Book " + strconv.Itoa(int(id))}})
			if len(k.books) > maxRecommendedBooks {
				t.Fatalf("after %d books, recommendedBooks holds %d, want at most %d", id+1, len(k.books), maxRecommendedBooks)
			}
		}
		if len(k.books) < maxRecommendedBooks*8/10 {
			t.Errorf("full, recommendedBooks holds %d books, want most of %d", len(k.books), maxRecommendedBooks)
		}
		last := int32(3*maxRecommendedBooks - 1)
		if b, ok := k.get(last); !ok || b.Title != "Book "+strconv.Itoa(int(last)) {
			t.Errorf("get(%d), the last book added = %v, %v; want it", last, b, ok)
		}
	})

	t.Run("long books", func(t *testing.T) {
		var k recommendedBooks
		title := strings.Repeat("\U0001F4DA", bookshop.MaxTitleLen) // 4 bytes each
		author := strings.Repeat("\U0001F4DA", bookshop.MaxAuthorLen)
		for id := range int32(maxRecommendedBooks) {
			k.add(bookshop.Mystery, []bookshop.Book{{ID: id, Title: title, Author: author}})
			if k.bytes > maxRecommendedBytes {
				t.Fatalf("after %d books, recommendedBooks holds %d bytes of text, want at most %d", id+1, k.bytes, maxRecommendedBytes)
			}
		}
		sum := 0
		for _, b := range k.books {
			sum += len(b.Title) + len(b.Author)
		}
		if sum != k.bytes {
			t.Errorf("recommendedBooks counts %d bytes of text, holds %d", k.bytes, sum)
		}
		if per := len(title) + len(author); sum < maxRecommendedBytes*8/10 {
			t.Errorf("full, recommendedBooks holds %d bytes of text (%d books), want most of %d (about %d books)", sum, len(k.books), maxRecommendedBytes, maxRecommendedBytes/per)
		}
	})

	t.Run("a book said again", func(t *testing.T) {
		var k recommendedBooks
		k.add(bookshop.Mystery, []bookshop.Book{{ID: 1, Title: "Rebecca", Author: "Daphne du Maurier"}})
		k.add(bookshop.Mystery, []bookshop.Book{{ID: 1, Title: "Rebecca"}})
		if b, _ := k.get(1); b.Author != "" || k.bytes != len("Rebecca") || len(k.books) != 1 {
			t.Errorf("after a book is said again without its author: get(1) = %+v, %d bytes counted, %d books; want no author, %d bytes, 1 book", b, k.bytes, len(k.books), len("Rebecca"))
		}
	})
}
