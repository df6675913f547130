package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// HashParams are the parameters of argon2id (RFC 9106) with which new
// password hashes are made. Each hash records its own, so that they can
// change: a hash made with other parameters still verifies, and is made
// anew with these at the customer's next sign-in.
type HashParams struct {
	// Memory is the memory one hash takes, in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism.
	Threads uint8
}

// DefaultHashParams are OWASP's first recommendation for argon2id (the
// Password Storage Cheat Sheet): 19 MiB, two passes, one thread. A hash
// takes some 30 to 60 ms of one core, and its 19 MiB for that long.
var DefaultHashParams = HashParams{Memory: 19 * 1024, Time: 2, Threads: 1}

// DefaultMaxHashes is how many password hashes a Service computes at once
// by default: with DefaultHashParams, 38 MiB at most, however many
// sign-ins and sign-ups arrive together. The others wait their turn
// (within their deadline). Sign-ups may take all of them but one, which
// is kept for sign-ins (see hasher.hashSignUp).
const DefaultMaxHashes = 2

// The sizes of a hash, and the bounds of the parameters a hash may have:
// a hash read from the database is checked before it is computed, so that
// a damaged row cannot make one sign-in take a gigabyte. 64 MiB leaves
// room to raise the parameters (OWASP's strongest, 46 MiB) while
// DefaultMaxHashes of them fit the memory limit of the deployments (256
// MiB).
const (
	saltLen          = 16
	keyLen           = 32
	maxStoredMemory  = 64 * 1024 // KiB
	maxStoredTime    = 16
	maxStoredThreads = 16
)

// phcPrefix starts every hash this package makes: the PHC string format
// (github.com/P-H-C/phc-string-format) of argon2id, version 0x13.
const phcPrefix = "$argon2id$v=19$"

// errMalformedHash is the error of a stored hash that is not one this
// package made.
var errMalformedHash = errors.New("the stored password hash is not an argon2id PHC string")

// validate checks p for making hashes.
func (p HashParams) validate() error {
	if p.Threads < 1 || p.Time < 1 || p.Memory < 8*uint32(p.Threads) || p.Memory > maxStoredMemory || p.Time > maxStoredTime || p.Threads > maxStoredThreads {
		return fmt.Errorf("argon2id parameters m=%d,t=%d,p=%d: want p 1 to %d, t 1 to %d, m from 8*p to %d KiB", p.Memory, p.Time, p.Threads, maxStoredThreads, maxStoredTime, maxStoredMemory)
	}
	return nil
}

// encodeHash returns the PHC string of a hash: its parameters, its salt
// and its key, the last two in unpadded standard base64, as the format
// says.
func encodeHash(p HashParams, salt, key []byte) string {
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", phcPrefix, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// decodeHash parses a PHC string that encodeHash made, and checks its
// parameters against the bounds above.
func decodeHash(encoded string) (p HashParams, salt, key []byte, err error) {
	rest, ok := strings.CutPrefix(encoded, phcPrefix)
	if !ok {
		return p, nil, nil, errMalformedHash
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return p, nil, nil, errMalformedHash
	}
	// The parameters, in the order the format gives them: m, t, p.
	var vals [3]uint64
	fields := strings.Split(parts[0], ",")
	if len(fields) != len(vals) {
		return p, nil, nil, errMalformedHash
	}
	for i, name := range []string{"m", "t", "p"} {
		value, ok := strings.CutPrefix(fields[i], name+"=")
		n, err := strconv.ParseUint(value, 10, 32)
		if !ok || err != nil {
			return p, nil, nil, errMalformedHash
		}
		vals[i] = n
	}
	if vals[2] > maxStoredThreads {
		return p, nil, nil, errMalformedHash
	}
	p = HashParams{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if err := p.validate(); err != nil {
		return p, nil, nil, fmt.Errorf("%w: %v", errMalformedHash, err)
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[1])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errMalformedHash
	}
	return p, salt, key, nil
}

// hasher computes argon2id hashes, a few at a time: each holds
// HashParams.Memory for as long as it runs, so the number at once bounds
// the memory of a burst of sign-ins.
//
// Sign-ups take at most all the slots but one (when there are two or
// more): however many sign-ups arrive, one slot is always free for a
// sign-in, or held by one, so that a sign-in waits for other sign-ins at
// most, never for a queue of sign-ups past its deadline.
type hasher struct {
	params HashParams
	slots  chan struct{} // one token per hash running
	// signUps holds one token per sign-up's hash running or about to run:
	// it has room for one fewer than slots (at least one).
	signUps chan struct{}
	// dummy is the hash of a random password, which a sign-in for an
	// email without an account verifies against, so that it takes as long
	// as one with an account.
	dummy string
}

// newHasher returns a hasher that makes hashes with params, at most
// concurrency at once. It computes its dummy hash at once.
func newHasher(params HashParams, concurrency int) (*hasher, error) {
	if err := params.validate(); err != nil {
		return nil, err
	}
	concurrency = max(concurrency, 1)
	h := &hasher{params: params, slots: make(chan struct{}, concurrency), signUps: make(chan struct{}, max(concurrency-1, 1))}
	h.dummy = h.compute(rand.Text())
	return h, nil
}

// acquire waits for a slot, or for ctx to end.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.slots }

// compute hashes password with a new random salt.
func (h *hasher) compute(password string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24 and later)
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, keyLen)
	return encodeHash(h.params, salt, key)
}

// hash returns the PHC string of password's hash, with a new salt, once a
// slot is free. Errors: ctx's, if it ends first.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.compute(password), nil
}

// hashSignUp is hash for a sign-up: it waits first for one of the slots
// that sign-ups may take, then for a slot, so that one slot stays for
// sign-ins. Errors: ctx's, if it ends first.
func (h *hasher) hashSignUp(ctx context.Context, password string) (string, error) {
	select {
	case h.signUps <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-h.signUps }()
	return h.hash(ctx, password)
}

// verify reports whether password is the one encoded hashes, comparing in
// constant time, and whether the hash was made with other parameters than
// h's (and should be made anew). Errors: ctx's; a malformed hash.
func (h *hasher) verify(ctx context.Context, encoded, password string) (match, stale bool, err error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	match = subtle.ConstantTimeCompare(got, key) == 1
	return match, p != h.params || len(salt) != saltLen || len(key) != keyLen, nil
}

// spend verifies password against the dummy hash, for the time it takes:
// the answer is always no.
func (h *hasher) spend(ctx context.Context, password string) error {
	_, _, err := h.verify(ctx, h.dummy, password)
	return err
}
