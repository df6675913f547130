package recommendations

import (
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// TestBookMessagesBounded checks that a server keeps the messages of at
// most maxBookMessages books, and that the books past them still get
// theirs, right.
func TestBookMessagesBounded(t *testing.T) {
	var c bookMessages
	for i := range maxBookMessages + 100 {
		b := bookshop.Book{ID: int32(i + 1), Title: "Book", Year: 2000 + i%20}
		for range 2 {
			if m := c.message(b); m.GetId() != b.ID || m.GetYear() != int32(b.Year) {
				t.Fatalf("message(%v) = %v", b, m)
			}
		}
	}
	n := 0
	c.m.Range(func(any, any) bool { n++; return true })
	if n != maxBookMessages || c.n.Load() != maxBookMessages {
		t.Errorf("kept %d messages (counted %d), want %d", n, c.n.Load(), maxBookMessages)
	}
}
