// Package paymentstest holds what the tests of Payments and of its card
// rules share: the check that no card number or CVC reached a text (a
// log, a database's rows, an error message).
package paymentstest

import (
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// CheckNoCardData fails the test if s holds c's number (as typed, or its
// digits alone) or its CVC (of 3 or more characters) as a value of its
// own: not inside a longer run of digits, where a timestamp or an id
// holds any three digits by chance (1796178265534 holds "826").
func CheckNoCardData(tb testing.TB, s string, c bookshop.Card) {
	tb.Helper()
	digits := strings.ReplaceAll(c.Number, " ", "")
	if len(digits) >= 8 && (strings.Contains(s, digits) || strings.Contains(s, c.Number)) {
		tb.Errorf("%q holds the card number", s)
	}
	if len(c.CVC) >= 3 && HoldsValue(s, c.CVC) {
		tb.Errorf("%q holds the CVC", s)
	}
}

// HoldsValue reports whether s holds v as a value of its own: with no
// digit or decimal point just before or just after it (so not in
// "1796178265534", nor in a duration of "826.4µs").
func HoldsValue(s, v string) bool {
	isDigit := func(b byte) bool { return '0' <= b && b <= '9' || b == '.' }
	for i := 0; ; {
		j := strings.Index(s[i:], v)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(v)
		if (start == 0 || !isDigit(s[start-1])) && (end == len(s) || !isDigit(s[end])) {
			return true
		}
		i = start + 1
	}
}
