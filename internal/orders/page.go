package orders

import (
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Cursor is where a page of orders starts: after the order recorded at
// Created with id ID, in the listing's order (newest first, by Created and
// then by ID). The zero Cursor starts at the newest order.
type Cursor struct {
	Created time.Time
	ID      string
}

// pageTokenVersion starts every page token, so that a later encoding can
// tell its own from these.
const pageTokenVersion = 1

// pageTokenLen is the length of a decoded page token: the version, the
// customer (4 bytes; 0 for every customer's listing), the time (8 bytes of
// Unix milliseconds) and the order id.
const pageTokenLen = 1 + 4 + 8 + len(IDPrefix) + 26

// encodePage returns the page token of c in the listing of customerID's
// orders (0: every customer's): unpadded base64url of the version, the
// customer, c.Created in Unix milliseconds and c.ID. It is opaque to
// callers, and safe against tampering as far as it must be: a token
// changed by hand either fails to decode, or names another place in the
// same listing, which shows nothing the caller could not list anyway.
func encodePage(customerID int32, c Cursor) string {
	b := make([]byte, 0, pageTokenLen)
	b = append(b, pageTokenVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(customerID))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Created.UnixMilli()))
	b = append(b, c.ID...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodePage returns the cursor of token ("" for the first page) in the
// listing of customerID's orders (0: every customer's). Errors: Invalid
// for a token that encodePage did not make for this listing.
func decodePage(customerID int32, token string) (Cursor, error) {
	if token == "" {
		return Cursor{}, nil
	}
	bad := bookshop.Errorf(bookshop.Invalid, "page token: not one this listing gave; start again from the first page (an empty token)")
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != pageTokenLen || b[0] != pageTokenVersion {
		return Cursor{}, bad
	}
	if int32(binary.BigEndian.Uint32(b[1:5])) != customerID {
		return Cursor{}, bad
	}
	ms := int64(binary.BigEndian.Uint64(b[5:13]))
	id := string(b[13:])
	if ms < 0 || CheckOrderID(id) != nil {
		return Cursor{}, bad
	}
	return Cursor{Created: time.UnixMilli(ms).UTC(), ID: id}, nil
}
