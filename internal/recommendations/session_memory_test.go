package recommendations_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// TestSessionMemory checks what a live session holds at its fullest,
// once it remembers recommendations.MaxSessionBooks books: at most
// recommendations.SessionBytes, which docs/capacity.md budgets with.
func TestSessionMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("applies 200,000 events")
	}
	const (
		n     = 200
		books = 3 * recommendations.MaxSessionBooks
	)
	all := make([]bookshop.Book, books)
	for i := range all {
		all[i] = bookshop.Book{ID: int32(i + 1), Category: bookshop.Category(i % 3), Title: fmt.Sprintf("Book %d", i), Author: "A", Year: 2000}
	}
	shelf := bookshop.NewShelf(all)
	ctx := context.Background()
	before := memtest.Held()
	sessions := make([]*recommendations.Session, n)
	for i := range sessions {
		s := recommendations.NewSession(shelf, nil)
		for e := range recommendations.MaxSessionBooks + 10 {
			ev := bookshop.Event{Type: bookshop.Viewed, BookID: int32((i*7+e)%books + 1)}
			if _, err := s.Apply(ctx, ev, recommendations.MaxLiveResults); err != nil {
				t.Fatal(err)
			}
		}
		sessions[i] = s
	}
	each := (memtest.Held() - before) / n
	t.Logf("a session that remembers %d books holds %d bytes", recommendations.MaxSessionBooks, each)
	if each > recommendations.SessionBytes {
		t.Errorf("a session that remembers %d books holds %d bytes, more than recommendations.SessionBytes, %d", recommendations.MaxSessionBooks, each, recommendations.SessionBytes)
	}
	for _, s := range sessions {
		if s.Events() != recommendations.MaxSessionBooks+10 {
			t.Fatalf("a session applied %d events, want %d", s.Events(), recommendations.MaxSessionBooks+10)
		}
	}
}
