package accounts

import (
	"bufio"
	"context"
	"errors"
	"regexp"
	rtmetrics "runtime/metrics"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
)

// cheap are argon2id parameters that cost little, for tests of what does
// not depend on the cost.
var cheap = HashParams{Memory: 64, Time: 1, Threads: 1}

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func newTestHasher(tb testing.TB, p HashParams, n int) *hasher {
	tb.Helper()
	h, err := newHasher(p, n)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// phc is the shape of a hash as this package writes it.
var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)

// TestHashRoundTrip hashes with the real parameters, once, and checks the
// PHC string, that the password verifies and that another does not.
func TestHashRoundTrip(t *testing.T) {
	h := newTestHasher(t, DefaultHashParams, 1)
	const pw = "correct-zebra-staple"
	enc, err := h.hash(testContext(t), pw)
	if err != nil {
		t.Fatal(err)
	}
	m := phc.FindStringSubmatch(enc)
	if m == nil {
		t.Fatalf("hash = %q, want $argon2id$v=19$m=...,t=...,p=...$salt$key", enc)
	}
	if m[1] != "19456" || m[2] != "2" || m[3] != "1" {
		t.Errorf("hash parameters m=%s,t=%s,p=%s, want OWASP's m=19456,t=2,p=1", m[1], m[2], m[3])
	}
	if strings.Contains(enc, pw) {
		t.Errorf("hash %q holds the password", enc)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{
		{pw, true},
		{"correct-zebra-staplE", false},
		{"correct-zebra-staple ", false},
		{"", false},
	} {
		match, stale, err := h.verify(testContext(t), enc, tt.password)
		if err != nil || match != tt.want || stale {
			t.Errorf("verify(%q) = %v, stale %v, %v; want %v, fresh", tt.password, match, stale, err, tt.want)
		}
	}
}

// TestHashSalted checks that the same password hashes differently each
// time, and that each hash verifies it.
func TestHashSalted(t *testing.T) {
	h := newTestHasher(t, cheap, 1)
	a, _ := h.hash(testContext(t), "the same password")
	b, _ := h.hash(testContext(t), "the same password")
	if a == b {
		t.Fatalf("two hashes of one password are both %q: want a new salt each time", a)
	}
	for _, enc := range []string{a, b} {
		if ok, _, err := h.verify(testContext(t), enc, "the same password"); !ok || err != nil {
			t.Errorf("verify(%q) = %v, %v; want true", enc, ok, err)
		}
	}
}

// TestHashParametersChange checks that a hash made with other parameters
// still verifies, and is reported stale so that it is made anew.
func TestHashParametersChange(t *testing.T) {
	old := newTestHasher(t, HashParams{Memory: 128, Time: 3, Threads: 2}, 1)
	enc, _ := old.hash(testContext(t), "a password of old")
	h := newTestHasher(t, cheap, 1)
	match, stale, err := h.verify(testContext(t), enc, "a password of old")
	if !match || !stale || err != nil {
		t.Errorf("verify of a hash with m=128,t=3,p=2 by a hasher of m=64,t=1,p=1 = %v, stale %v, %v; want true, stale", match, stale, err)
	}
}

// TestDecodeHashRefuses checks that a stored hash that is not one this
// package made, or that asks for more than the bounds, is refused before
// any work.
func TestDecodeHashRefuses(t *testing.T) {
	h := newTestHasher(t, cheap, 1)
	good, _ := h.hash(testContext(t), "whatever it is")
	salt, key := strings.Split(good, "$")[4], strings.Split(good, "$")[5]
	for _, enc := range []string{
		"",
		"correct-zebra-staple", // a password stored in the clear
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=-1,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key, // 4 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=255$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "=$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$c2hvcnQ",
	} {
		if match, _, err := h.verify(testContext(t), enc, "whatever it is"); !errors.Is(err, errMalformedHash) || match {
			t.Errorf("verify(%q) = %v, %v; want errMalformedHash", enc, match, err)
		}
	}
}

// TestHasherBoundsConcurrency checks that no more hashes run than the
// hasher's slots, and that a caller waiting for one gives up when its
// context ends.
func TestHasherBoundsConcurrency(t *testing.T) {
	h := newTestHasher(t, cheap, 2)
	ctx := testContext(t)
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := h.hash(short, "waits for a slot"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hash with both slots taken = %v, want the context's deadline", err)
	}
	if _, _, err := h.verify(short, h.dummy, "waits for a slot"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("verify with both slots taken = %v, want the context's deadline", err)
	}
	h.release()
	if _, err := h.hash(ctx, "a slot is free"); err != nil {
		t.Errorf("hash with a slot free = %v", err)
	}
}

// TestHashesMemory checks what password hashes take, against the budget
// of docs/capacity.md: a Service runs DefaultMaxHashes at once, however
// many sign-ins and sign-ups arrive together (TestHasherBoundsConcurrency),
// and each allocates what it holds as it starts (argon2id's memory of
// DefaultHashParams and a few small buffers) and holds it until it ends.
func TestHashesMemory(t *testing.T) {
	memtest.Budgets(t)
	h := newTestHasher(t, DefaultHashParams, DefaultMaxHashes)
	allocs := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	rtmetrics.Read(allocs)
	before := allocs[0].Value.Uint64()
	if _, err := h.hash(testContext(t), "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	rtmetrics.Read(allocs)
	each := allocs[0].Value.Uint64() - before
	t.Logf("a hash with %d KiB of memory allocates %d bytes; %d run at once", DefaultHashParams.Memory, each, cap(h.slots))
	count, budget := memtest.Documented(t, "Accounts", "password hashes")
	if count != DefaultMaxHashes || cap(h.slots) != DefaultMaxHashes {
		t.Errorf("docs/capacity.md budgets %d password hashes at once, and a hasher runs %d; want DefaultMaxHashes, %d", count, cap(h.slots), DefaultMaxHashes)
	}
	if each > budget {
		t.Errorf("a hash allocates %d bytes, more than the %d docs/capacity.md budgets", each, budget)
	}
}

// TestHashParamsValidate checks the parameters a hasher accepts.
func TestHashParamsValidate(t *testing.T) {
	for _, tt := range []struct {
		p  HashParams
		ok bool
	}{
		{DefaultHashParams, true},
		{cheap, true},
		{HashParams{Memory: 8, Time: 1, Threads: 1}, true},
		{HashParams{Memory: 7, Time: 1, Threads: 1}, false},
		{HashParams{Memory: 64, Time: 0, Threads: 1}, false},
		{HashParams{Memory: 64, Time: 1, Threads: 0}, false},
		{HashParams{Memory: 512 * 1024, Time: 1, Threads: 1}, false},
	} {
		if err := tt.p.validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.validate() = %v, want ok %v", tt.p, err, tt.ok)
		}
	}
}

// TestCommonPasswordList checks the embedded list: every entry long
// enough to pass the length rule (a shorter one would never be looked
// up), in lower case, once; and the well-known ones are in it.
func TestCommonPasswordList(t *testing.T) {
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case utf8.RuneCountInString(line) < MinPasswordLen:
			t.Errorf("line %d: %q is shorter than %d characters: the length rule refuses it already", n, line, MinPasswordLen)
		case line != strings.ToLower(line) || line != strings.TrimSpace(line):
			t.Errorf("line %d: %q is not trimmed and in lower case", n, line)
		case seen[line]:
			t.Errorf("line %d: %q again", n, line)
		}
		seen[line] = true
	}
	if len(seen) < 300 {
		t.Errorf("the list holds %d passwords, want a few hundred", len(seen))
	}
	for _, p := range []string{"password123", "1234567890", "qwertyuiop", "1q2w3e4r5t", "iloveyou123", "bookshop123"} {
		if !commonPassword(p) {
			t.Errorf("commonPassword(%q) = false, want true", p)
		}
	}
	if commonPassword("correct-zebra-staple") {
		t.Error(`commonPassword("correct-zebra-staple") = true, want false`)
	}
}

// TestHasherKeepsASlotForSignIns checks that sign-ups take at most all
// the slots but one: with one sign-up's hash running in a hasher of two
// slots, another sign-up waits (and gives up when its context ends),
// while a sign-in's verify and renewal still find a slot. With one slot,
// sign-ups may take it.
func TestHasherKeepsASlotForSignIns(t *testing.T) {
	h := newTestHasher(t, cheap, 2)
	ctx := testContext(t)
	// A sign-up's hash, running: as hashSignUp holds it.
	h.signUps <- struct{}{}
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := h.hashSignUp(short, "a second sign-up"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hashSignUp with a sign-up running in a hasher of 2 = %v, want the context's deadline", err)
	}
	if match, _, err := h.verify(ctx, h.dummy, "a sign-in"); err != nil || match {
		t.Errorf("verify (a sign-in) with a sign-up running = %v, %v; want no match, no error", match, err)
	}
	if _, err := h.hash(ctx, "a sign-in's renewal"); err != nil {
		t.Errorf("hash (a sign-in's renewal) with a sign-up running = %v", err)
	}
	h.release()
	<-h.signUps
	if _, err := h.hashSignUp(ctx, "a sign-up, once the first is done"); err != nil {
		t.Errorf("hashSignUp once no sign-up runs = %v", err)
	}

	one := newTestHasher(t, cheap, 1)
	if _, err := one.hashSignUp(ctx, "the only slot"); err != nil {
		t.Errorf("hashSignUp in a hasher of 1 = %v: with one slot, sign-ups must share it", err)
	}
}

// TestServiceSignUpsLeaveASlot checks that the Service hashes sign-ups
// through the slots of sign-ups and sign-ins through all: while sign-ups
// hold all they may (MaxHashes-1), a sign-up waits past its deadline, and
// a sign-in goes through.
func TestServiceSignUpsLeaveASlot(t *testing.T) {
	ctx := testContext(t)
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := NewService(ctx, db, Options{Hash: cheap, MaxHashes: 3})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "analytical-engine-1843"
	if _, err := s.SignUp(ctx, bookshop.NewAccount{Email: "ada@example.com", Name: "Ada", Password: pw}, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	// Two sign-ups' hashes running, of the three slots.
	for range 2 {
		s.hasher.signUps <- struct{}{}
		if err := s.hasher.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.SignUp(short, bookshop.NewAccount{Email: "bob@example.com", Name: "Bob", Password: pw}, "192.0.2.1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SignUp while sign-ups hold 2 slots of 3 = %v, want the context's deadline", err)
	}
	if _, err := s.SignIn(ctx, "ada@example.com", pw, "192.0.2.1"); err != nil {
		t.Errorf("SignIn while sign-ups hold 2 slots of 3 = %v, want signed in: the third is kept for sign-ins", err)
	}
}
