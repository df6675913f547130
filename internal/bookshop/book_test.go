package bookshop_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func TestBookValidate(t *testing.T) {
	good := bookshop.Book{ID: 1, Title: "Dune", Author: "Frank Herbert", Year: 1965, Category: bookshop.ScienceFiction}
	tests := []struct {
		name  string
		edit  func(*bookshop.Book)
		field string // "" for valid
	}{
		{"good", func(*bookshop.Book) {}, ""},
		{"id 0 asks for a new id", func(b *bookshop.Book) { b.ID = 0 }, ""},
		{"negative id", func(b *bookshop.Book) { b.ID = -1 }, "id"},
		{"unknown category", func(b *bookshop.Book) { b.Category = 7 }, "category"},
		{"empty title", func(b *bookshop.Book) { b.Title = "" }, "title"},
		{"long title", func(b *bookshop.Book) { b.Title = strings.Repeat("é", bookshop.MaxTitleLen+1) }, "title"},
		{"control character", func(b *bookshop.Book) { b.Author = "Frank\x07Herbert" }, "author"},
		{"invalid UTF-8", func(b *bookshop.Book) { b.Author = "\xff" }, "author"},
		{"year 0", func(b *bookshop.Book) { b.Year = 0 }, "year"},
		{"year 10000", func(b *bookshop.Book) { b.Year = 10000 }, "year"},
	}
	for _, tt := range tests {
		b := good
		tt.edit(&b)
		err := b.Validate()
		var fe *bookshop.FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: Validate(%+v) = %v, want nil", tt.name, b, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: Validate(%+v) = %v, want a FieldError of %s", tt.name, b, err, tt.field)
		}
	}
}

func TestMatchKeyFoldsCase(t *testing.T) {
	a := bookshop.Book{Title: "ΣΊΣΥΦΟΣ", Author: "Camus"}
	b := bookshop.Book{Title: "σίσυφος", Author: "CAMUS"}
	if a.MatchKey() != b.MatchKey() {
		t.Errorf("MatchKey(%q) != MatchKey(%q); want equal, as strings.EqualFold finds them", a.Title, b.Title)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := bookshop.NewID()
		if !bookshop.ValidID(id) || seen[id] {
			t.Fatalf("NewID() = %q: valid %v, seen before %v", id, bookshop.ValidID(id), seen[id])
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 26), strings.Repeat("a", 27)} {
		if bookshop.ValidID(bad) {
			t.Errorf("ValidID(%q) = true, want false", bad)
		}
	}
}
