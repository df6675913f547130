// Package reqid carries a request id through a request's context and across
// the services, so that the log lines of one shopper's request can be found
// in every service: the Marketplace takes one from the X-Request-Id header
// or makes one, and gRPC clients and servers pass it on in the
// x-request-id metadata.
package reqid

import (
	"context"
	"fmt"
	"math/rand/v2"
)

// Key is the name of the request id in HTTP headers (case-insensitive)
// and gRPC metadata (lower case).
const Key = "x-request-id"

// MaxLen is the longest request id accepted from a caller.
const MaxLen = 64

type ctxKey struct{}

// idLen is the length of the ids New makes: 26 characters of base32, 130
// bits, as crypto/rand.Text makes them.
const idLen = 26

// alphabet is the standard base32 alphabet of RFC 4648, crypto/rand.Text's.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// New returns a new random request id: 26 characters of the base32
// alphabet (A-Z, 2-7), 130 random bits, the shape of crypto/rand.Text's.
//
// The bits come from math/rand/v2's global generator, the runtime's
// ChaCha8, seeded by the operating system and kept per thread: no system
// call and no lock per id, where crypto/rand asks the kernel (getrandom)
// for each one on kernels older than Linux 6.11, and the services make an
// id for every call and page they serve that arrives without one. A
// request id is a name to find log lines by, not a secret: a caller may
// choose its own.
func New() string {
	var b [idLen]byte
	// Three 64-bit numbers, 5 bits a character: 12 characters from each of
	// the first two, the last 2 from the third.
	r := rand.Uint64()
	for i := range 12 {
		b[i] = alphabet[r&31]
		r >>= 5
	}
	r = rand.Uint64()
	for i := 12; i < 24; i++ {
		b[i] = alphabet[r&31]
		r >>= 5
	}
	r = rand.Uint64()
	b[24], b[25] = alphabet[r&31], alphabet[r>>5&31]
	return string(b[:])
}

// With returns a copy of ctx that carries id.
func With(ctx context.Context, id string) context.Context {
	return &idContext{Context: ctx, id: id}
}

// From returns the request id ctx carries, or "".
func From(ctx context.Context) string {
	if c, ok := ctx.Value(ctxKey{}).(*idContext); ok {
		return c.id
	}
	return ""
}

// idContext is a context that carries a request id. The services make one
// for every call and page, so it is one allocation of 32 bytes, where
// context.WithValue made two of 64 (the context, and the id's string
// boxed in an interface): its Value gives the context itself, a pointer,
// which an interface holds without allocating. Everything else it
// passes to the context it wraps, so that contexts made from it
// (context.WithCancel, WithTimeout) find their parent's cancellation as
// they would through context.WithValue, without a goroutine.
type idContext struct {
	context.Context
	id string
}

// Value implements context.Context.
func (c *idContext) Value(key any) any {
	if key == (ctxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// String describes the context, as the standard library's contexts
// describe themselves.
func (c *idContext) String() string {
	return fmt.Sprintf("%v.WithRequestID(%q)", c.Context, c.id)
}

// Valid reports whether id, received from a caller, is safe to log and pass
// on: 1 to MaxLen characters from A-Z, a-z, 0-9, '-', '_' and '.'.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
