package bookshop_test

import (
	"context"
	"slices"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func book(id int32, c bookshop.Category) bookshop.Book {
	return bookshop.Book{ID: id, Category: c, Title: "T", Author: "A", Year: 2000}
}

func ids(books []bookshop.Book) []int32 {
	var out []int32
	for _, b := range books {
		out = append(out, b.ID)
	}
	return out
}

func inCategory(tb testing.TB, s *bookshop.Shelf, c bookshop.Category) []bookshop.Book {
	tb.Helper()
	books, err := s.BooksInCategory(context.Background(), c)
	if err != nil {
		tb.Fatalf("BooksInCategory(%v): %v", c, err)
	}
	return books
}

func TestNewShelfCopiesAndSorts(t *testing.T) {
	in := []bookshop.Book{book(3, bookshop.Mystery), book(1, bookshop.Mystery), book(2, bookshop.SelfHelp)}
	s := bookshop.NewShelf(in)
	in[0].Title, in[1] = "changed", bookshop.Book{}
	if got := ids(s.Books()); !slices.Equal(got, []int32{1, 2, 3}) {
		t.Errorf("NewShelf(books).Books() = %v, want ids 1 2 3", got)
	}
	if got := ids(inCategory(t, s, bookshop.Mystery)); !slices.Equal(got, []int32{1, 3}) {
		t.Errorf("BooksInCategory(mystery) = %v, want 1 3", got)
	}
	if b, err := s.Book(context.Background(), 3); err != nil || b.Title != "T" {
		t.Errorf("Book(3) = %v, %v; want the book as given, unchanged by the caller", b, err)
	}
	if _, err := s.Book(context.Background(), 9); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Book(9) error = %v, want not_found", err)
	}
	if got := inCategory(t, s, 7); len(got) != 0 {
		t.Errorf("BooksInCategory(7) = %v, want none", got)
	}
}

func TestNewShelfKeepsTheLaterOfOneID(t *testing.T) {
	later := book(2, bookshop.SelfHelp)
	s := bookshop.NewShelf([]bookshop.Book{book(2, bookshop.Mystery), book(1, bookshop.Mystery), later})
	if got := ids(s.Books()); !slices.Equal(got, []int32{1, 2}) {
		t.Errorf("NewShelf with id 2 twice: Books() = %v, want 1 2", got)
	}
	if got := ids(inCategory(t, s, bookshop.Mystery)); !slices.Equal(got, []int32{1}) {
		t.Errorf("NewShelf with id 2 twice: mysteries %v, want 1 (the later book 2 is self_help)", got)
	}
}

func TestShelfWith(t *testing.T) {
	old := bookshop.NewShelf([]bookshop.Book{book(1, bookshop.Mystery), book(2, bookshop.SelfHelp), book(5, bookshop.Mystery)})
	tests := []struct {
		name           string
		added          []bookshop.Book
		all, mysteries []int32
	}{
		{"new ids after the others", []bookshop.Book{book(6, bookshop.Mystery), book(7, bookshop.ScienceFiction)}, []int32{1, 2, 5, 6, 7}, []int32{1, 5, 6}},
		{"an id below the others", []bookshop.Book{book(3, bookshop.Mystery)}, []int32{1, 2, 3, 5}, []int32{1, 3, 5}},
		{"an id it has: replaced", []bookshop.Book{book(2, bookshop.Mystery)}, []int32{1, 2, 5}, []int32{1, 2, 5}},
		{"one new id twice: the later kept", []bookshop.Book{book(6, bookshop.SelfHelp), book(6, bookshop.Mystery)}, []int32{1, 2, 5, 6}, []int32{1, 5, 6}},
		{"nothing", nil, []int32{1, 2, 5}, []int32{1, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := old.With(tt.added)
			if got := ids(n.Books()); !slices.Equal(got, tt.all) {
				t.Errorf("With(%v).Books() = %v, want %v", ids(tt.added), got, tt.all)
			}
			if got := ids(inCategory(t, n, bookshop.Mystery)); !slices.Equal(got, tt.mysteries) {
				t.Errorf("With(%v): mysteries %v, want %v", ids(tt.added), got, tt.mysteries)
			}
			if n.Len() != len(tt.all) {
				t.Errorf("With(%v).Len() = %d, want %d", ids(tt.added), n.Len(), len(tt.all))
			}
			// The old shelf is as it was.
			if got := ids(old.Books()); !slices.Equal(got, []int32{1, 2, 5}) {
				t.Errorf("after With, the old shelf holds %v, want 1 2 5", got)
			}
			if got := ids(inCategory(t, old, bookshop.Mystery)); !slices.Equal(got, []int32{1, 5}) {
				t.Errorf("after With, the old shelf's mysteries are %v, want 1 5", got)
			}
			if b, _ := old.Book(context.Background(), 2); b.Category != bookshop.SelfHelp {
				t.Errorf("after With, the old shelf's book 2 is a %v, want self_help", b.Category)
			}
			// Every book is in the list of its own category, and only there.
			total := 0
			for _, c := range bookshop.Categories() {
				for _, b := range inCategory(t, n, c) {
					total++
					if got, _ := n.Book(context.Background(), b.ID); got.Category != c {
						t.Errorf("With(%v): book %d is listed under %v but is a %v", ids(tt.added), b.ID, c, got.Category)
					}
				}
			}
			if total != n.Len() {
				t.Errorf("With(%v): the categories list %d books, the shelf holds %d", ids(tt.added), total, n.Len())
			}
		})
	}
}

// TestShelfListsAreClipped checks that a caller's append to a list the
// shelf gives never writes into the shelf, nor into another caller's.
func TestShelfListsAreClipped(t *testing.T) {
	s := bookshop.NewShelf([]bookshop.Book{book(1, bookshop.Mystery), book(2, bookshop.Mystery)}).With([]bookshop.Book{book(3, bookshop.Mystery)})
	first := append(inCategory(t, s, bookshop.Mystery), book(100, bookshop.Mystery))
	second := append(inCategory(t, s, bookshop.Mystery), book(200, bookshop.Mystery))
	if first[3].ID != 100 || second[3].ID != 200 {
		t.Errorf("two callers' appends share memory: %v and %v", ids(first), ids(second))
	}
	if got := ids(inCategory(t, s, bookshop.Mystery)); !slices.Equal(got, []int32{1, 2, 3}) {
		t.Errorf("after callers' appends the shelf holds %v, want 1 2 3", got)
	}
	all := append(s.Books(), book(300, bookshop.Mystery))
	if all[3].ID != 300 || s.Len() != 3 {
		t.Errorf("an append to Books() changed the shelf: %v", ids(s.Books()))
	}
}
