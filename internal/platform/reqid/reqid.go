// Package reqid carries a request id through a request's context and across
// the services, so that the log lines of one shopper's request can be found
// in every service: the Marketplace takes one from the X-Request-Id header
// or makes one, and gRPC clients and servers pass it on in the
// x-request-id metadata.
package reqid

import (
	"context"
	"crypto/rand"
)

// Key is the name of the request id in HTTP headers (case-insensitive)
// and gRPC metadata (lower case).
const Key = "x-request-id"

// MaxLen is the longest request id accepted from a caller.
const MaxLen = 64

type ctxKey struct{}

// New returns a new random request id (26 characters, 130 bits).
func New() string { return rand.Text() }

// With returns a copy of ctx that carries id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the request id ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
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
