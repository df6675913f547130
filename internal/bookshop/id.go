package bookshop

import (
	"crypto/rand"
	"encoding/base32"
)

// idEncoding writes ids in lower-case letters and digits, without
// padding: they go into URLs and logs unescaped.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a new random id of 26 characters (128 random bits), for
// things whose ids must not be guessable or collide across replicas, such
// as orders and sessions.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24 and later)
	return idEncoding.EncodeToString(b[:])
}

// ValidID reports whether s could be an id NewID returned, so that a
// malformed id is refused before any lookup.
func ValidID(s string) bool {
	if len(s) != 26 {
		return false
	}
	_, err := idEncoding.DecodeString(s)
	return err == nil
}

// MaxKeyLen is the longest idempotency key, and the longest id that a
// caller chooses in the same form (a cart's, a reservation's).
const MaxKeyLen = 64

// CheckKey returns an Invalid error, whose message starts with what,
// unless key is an idempotency key: 1 to MaxKeyLen characters of A-Z,
// a-z, 0-9, '-' and '_'. Every service takes its keys by this one rule,
// and the ids that callers choose ("cart id", "reservation id") too, so
// that a key one service makes can be passed to another as it is.
func CheckKey(what, key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return Errorf(Invalid, "%s %q: want 1 to %d characters", what, shorten(key), MaxKeyLen)
	}
	for i := range len(key) {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return Errorf(Invalid, "%s %q: only letters A to Z, digits, '-' and '_' are allowed", what, shorten(key))
		}
	}
	return nil
}

// shorten cuts a key too long to be one down to MaxKeyLen bytes and
// "...", for an error message.
func shorten(s string) string {
	if len(s) > MaxKeyLen+8 {
		return s[:MaxKeyLen] + "..."
	}
	return s
}
