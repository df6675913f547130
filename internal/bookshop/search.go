package bookshop

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Validate returns an [Invalid] error, with a message a shopper can read,
// for the first rule q breaks, or nil: Text valid UTF-8, of 1 to
// MaxSearchLen characters once leading and trailing spaces are trimmed,
// with at least one letter or digit; Offset from 0 to MaxSearchOffset;
// Limit from 1 to MaxSearchLimit.
func (q SearchQuery) Validate() error {
	if msg := CheckSearchText(q.Text); msg != "" {
		return Errorf(Invalid, "%s", msg)
	}
	if q.Offset < 0 || q.Offset > MaxSearchOffset {
		return Errorf(Invalid, "offset %d is out of range: a search pages through at most %d results, from offset 0", q.Offset, MaxSearchOffset)
	}
	if q.Limit < 1 || q.Limit > MaxSearchLimit {
		return Errorf(Invalid, "limit %d is out of range: ask for 1 to %d results at once", q.Limit, MaxSearchLimit)
	}
	return nil
}

// CheckSearchText says, in words for a shopper, what is wrong with the
// text of a search, or returns "" when it is one the Catalog takes (see
// [SearchQuery.Validate]).
func CheckSearchText(text string) string {
	if !utf8.ValidString(text) {
		return "Your search is not valid text. Type words of a title or an author."
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return "Type words of a title or an author to search for."
	}
	if n := utf8.RuneCountInString(text); n > MaxSearchLen {
		return fmt.Sprintf("Your search is %d characters long: use at most %d.", n, MaxSearchLen)
	}
	if strings.IndexFunc(text, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) < 0 {
		return "Search with letters or digits: words of a title or an author."
	}
	return ""
}
