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
