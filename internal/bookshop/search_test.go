package bookshop_test

import (
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func TestSearchQueryValidate(t *testing.T) {
	tests := []struct {
		name string
		q    bookshop.SearchQuery
		want string // a part of the message; "" for valid
	}{
		{"a word", bookshop.SearchQuery{Text: "christie", Limit: 20}, ""},
		{"words and spaces around", bookshop.SearchQuery{Text: "  agatha christie ", Limit: 1}, ""},
		{"accents", bookshop.SearchQuery{Text: "Brontë", Limit: 20}, ""},
		{"a digit", bookshop.SearchQuery{Text: "1984", Limit: 20}, ""},
		{"a letter among marks", bookshop.SearchQuery{Text: "?!x", Limit: 20}, ""},
		{"the longest text", bookshop.SearchQuery{Text: strings.Repeat("é", bookshop.MaxSearchLen), Limit: 20}, ""},
		{"long with spaces around", bookshop.SearchQuery{Text: " " + strings.Repeat("a", bookshop.MaxSearchLen) + " ", Limit: 20}, ""},
		{"the deepest page", bookshop.SearchQuery{Text: "a", Offset: bookshop.MaxSearchOffset, Limit: bookshop.MaxSearchLimit}, ""},

		{"empty", bookshop.SearchQuery{Limit: 20}, "Type words"},
		{"blank", bookshop.SearchQuery{Text: " \t\n", Limit: 20}, "Type words"},
		{"too long", bookshop.SearchQuery{Text: strings.Repeat("é", bookshop.MaxSearchLen+1), Limit: 20}, "201 characters long: use at most 200"},
		{"no letter or digit", bookshop.SearchQuery{Text: "?! -- ’", Limit: 20}, "letters or digits"},
		{"combining marks alone", bookshop.SearchQuery{Text: "\u0301\u0308", Limit: 20}, "letters or digits"},
		{"not UTF-8", bookshop.SearchQuery{Text: "a\xff", Limit: 20}, "not valid text"},
		{"negative offset", bookshop.SearchQuery{Text: "a", Offset: -1, Limit: 20}, "offset -1"},
		{"offset too deep", bookshop.SearchQuery{Text: "a", Offset: bookshop.MaxSearchOffset + 1, Limit: 20}, "offset 10001"},
		{"no limit", bookshop.SearchQuery{Text: "a"}, "limit 0"},
		{"limit too high", bookshop.SearchQuery{Text: "a", Limit: bookshop.MaxSearchLimit + 1}, "limit 101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.q.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%+v.Validate() = %v, want nil", tt.q, err)
				}
				return
			}
			if bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tt.want) {
				t.Fatalf("%+v.Validate() = %v, want an Invalid error saying %q", tt.q, err, tt.want)
			}
		})
	}
}
