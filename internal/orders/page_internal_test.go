package orders

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func TestPageTokenRoundTrip(t *testing.T) {
	id := NewOrderID()
	for _, c := range []struct {
		customer int32
		cursor   Cursor
	}{
		{7, Cursor{Created: time.UnixMilli(1_900_000_000_123).UTC(), ID: id}},
		{0, Cursor{Created: time.UnixMilli(0).UTC(), ID: id}},
		{2147483647, Cursor{Created: time.UnixMilli(253402300799999).UTC(), ID: id}},
	} {
		token := encodePage(c.customer, c.cursor)
		got, err := decodePage(c.customer, token)
		if err != nil || got != c.cursor {
			t.Errorf("decodePage(%d, encodePage(%d, %v)) = %v, %v; want it back", c.customer, c.customer, c.cursor, got, err)
		}
		if strings.ContainsAny(token, "+/=") {
			t.Errorf("token %q: want unpadded base64url, safe in a URL", token)
		}
	}
	if got, err := decodePage(7, ""); err != nil || got != (Cursor{}) {
		t.Errorf(`decodePage(7, "") = %v, %v; want the first page`, got, err)
	}
}

// TestPageTokenRefusesOthers checks that a token changed by hand, or
// made for another listing, is refused with Invalid.
func TestPageTokenRefusesOthers(t *testing.T) {
	cursor := Cursor{Created: time.UnixMilli(1_900_000_000_000).UTC(), ID: NewOrderID()}
	good := encodePage(7, cursor)
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	encode := func(change func(b []byte) []byte) string {
		return base64.RawURLEncoding.EncodeToString(change(append([]byte(nil), raw...)))
	}
	for name, tc := range map[string]struct {
		customer int32
		token    string
	}{
		"another customer's":       {8, good},
		"a customer's, for all":    {0, good},
		"all's, for a customer":    {7, encodePage(0, cursor)},
		"not base64":               {7, good[:20] + "!" + good[21:]},
		"padded":                   {7, base64.URLEncoding.EncodeToString(raw)},
		"short":                    {7, good[:len(good)-4]},
		"long":                     {7, good + "AAAA"},
		"another version":          {7, encode(func(b []byte) []byte { b[0] = 2; return b })},
		"a negative time":          {7, encode(func(b []byte) []byte { b[5] = 0x80; return b })},
		"an id without its prefix": {7, encode(func(b []byte) []byte { b[13] = 'x'; return b })},
		"an id with a capital":     {7, encode(func(b []byte) []byte { b[20] = 'A'; return b })},
		"an id with a quote":       {7, encode(func(b []byte) []byte { b[20] = '\''; return b })},
	} {
		_, err := decodePage(tc.customer, tc.token)
		if bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), "page token: not one this listing gave") {
			t.Errorf("decodePage(%s) = %v, want Invalid", name, err)
		}
	}
}

// FuzzDecodePage feeds decodePage any text: it never panics, and what it
// takes it gives back unchanged by encodePage.
func FuzzDecodePage(f *testing.F) {
	f.Add(int32(7), encodePage(7, Cursor{Created: time.UnixMilli(1_900_000_000_000).UTC(), ID: NewOrderID()}))
	f.Add(int32(0), encodePage(0, Cursor{Created: time.UnixMilli(1).UTC(), ID: "o_" + strings.Repeat("a", 26)}))
	f.Add(int32(7), "")
	f.Add(int32(-1), "AQAAAAc")
	f.Add(int32(7), strings.Repeat("A", 56))
	f.Fuzz(func(t *testing.T, customer int32, token string) {
		c, err := decodePage(customer, token)
		if err != nil {
			if bookshop.ErrorCode(err) != bookshop.Invalid {
				t.Fatalf("decodePage(%d, %q) = %v, want Invalid", customer, token, err)
			}
			return
		}
		if token == "" {
			return
		}
		if again := encodePage(customer, c); again != token {
			t.Fatalf("decodePage(%d, %q) = %v, which encodes as %q", customer, token, c, again)
		}
	})
}
