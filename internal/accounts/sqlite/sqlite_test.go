package sqlite_test

import (
	"crypto/sha256"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

const hash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"

func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(rpctest.Context(tb), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func tokenHash(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

func addAda(tb testing.TB, db *sqlite.DB) bookshop.Customer {
	tb.Helper()
	c, err := db.AddCustomer(rpctest.Context(tb), bookshop.Customer{Email: "ada@example.com", Name: "Ada", Created: t0}, hash, tokenHash("first"), t0.Add(time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestCustomerRoundTrip(t *testing.T) {
	db := open(t, sqlite.Memory)
	ctx := rpctest.Context(t)
	c := addAda(t, db)
	want := bookshop.Customer{ID: 1, Email: "ada@example.com", Name: "Ada", Created: t0}
	if c != want {
		t.Errorf("AddCustomer = %+v, want %+v", c, want)
	}
	got, h, err := db.CustomerByEmail(ctx, "ada@example.com")
	if err != nil || got != want || h != hash {
		t.Errorf("CustomerByEmail = %+v, %q, %v; want %+v, its hash", got, h, err, want)
	}
	if _, _, err := db.CustomerByEmail(ctx, "nobody@example.com"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("CustomerByEmail(unknown) = %v, want NotFound", err)
	}
	if _, err := db.AddCustomer(ctx, bookshop.Customer{Email: "ada@example.com", Name: "Other", Created: t0}, hash, tokenHash("second"), t0); bookshop.ErrorCode(err) != bookshop.Exists {
		t.Errorf("AddCustomer of a taken email = %v, want Exists", err)
	}
	// The refused sign-up stored no session either.
	if _, err := db.Session(ctx, tokenHash("second")); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Session of a refused sign-up = %v, want NotFound", err)
	}
	s, err := db.Session(ctx, tokenHash("first"))
	if err != nil || s.Customer != want || !s.Expires.Equal(t0.Add(time.Hour)) || s.Token != "" {
		t.Errorf("Session(first) = %+v, %v; want Ada's, expiring at %v, no token", s, err, t0.Add(time.Hour))
	}
}

// TestConcurrentSignUps checks that of many sign-ups for one email at
// once, exactly one opens the account.
func TestConcurrentSignUps(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "accounts.db"))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results = map[bookshop.Code]int{}
	)
	for i := range 10 {
		wg.Go(func() {
			_, err := db.AddCustomer(rpctest.Context(t), bookshop.Customer{Email: "ada@example.com", Name: "Ada", Created: t0}, hash, tokenHash(string(rune('a'+i))), t0.Add(time.Hour))
			mu.Lock()
			results[bookshop.ErrorCode(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if results[""] != 1 || results[bookshop.Exists] != 9 {
		t.Errorf("10 sign-ups of one email: %v, want 1 ok and 9 already_exists", results)
	}
}

func TestSessions(t *testing.T) {
	db := open(t, sqlite.Memory)
	ctx := rpctest.Context(t)
	ada := addAda(t, db)
	for i, tok := range []string{"s1", "s2", "s3"} {
		ended, err := db.AddSession(ctx, ada.ID, tokenHash(tok), t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i+2)*time.Hour), 3)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int{0: 0, 1: 0, 2: 1}[i]; ended != want {
			t.Errorf("AddSession %s with a cap of 3 ended %d, want %d", tok, ended, want)
		}
	}
	// first, the oldest, ended at the cap.
	for tok, want := range map[string]bool{"first": false, "s1": true, "s2": true, "s3": true} {
		if _, err := db.Session(ctx, tokenHash(tok)); (err == nil) != want {
			t.Errorf("Session(%s) = %v, want live %v", tok, err, want)
		}
	}
	if n, err := db.CountSessions(ctx, t0.Add(2*time.Hour)); err != nil || n != 2 {
		t.Errorf("CountSessions after 2h = %d, %v; want 2 (s2, s3)", n, err)
	}
	if n, err := db.DeleteExpired(ctx, t0.Add(3*time.Hour)); err != nil || n != 2 {
		t.Errorf("DeleteExpired at 3h = %d, %v; want 2 (s1, s2)", n, err)
	}
	if ok, err := db.DeleteSession(ctx, tokenHash("s3")); !ok || err != nil {
		t.Errorf("DeleteSession(s3) = %v, %v; want true", ok, err)
	}
	if ok, err := db.DeleteSession(ctx, tokenHash("s3")); ok || err != nil {
		t.Errorf("DeleteSession(s3) again = %v, %v; want false", ok, err)
	}
	if err := db.SetPasswordHash(ctx, ada.ID, strings.Replace(hash, "t=1", "t=2", 1)); err != nil {
		t.Fatal(err)
	}
	if _, h, _ := db.CustomerByEmail(ctx, ada.Email); !strings.Contains(h, "t=2") {
		t.Errorf("hash after SetPasswordHash = %q, want the new one", h)
	}
}

// TestOpenRefuses checks that Open refuses a file that is some other
// program's database, and says it is not an accounts database. (The rest
// of what Open refuses is internal/platform/sqlitedb's, and tested there.)
func TestOpenRefuses(t *testing.T) {
	foreign := filepath.Join(t.TempDir(), "foreign.db")
	raw, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE notes (text TEXT)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := sqlite.Open(rpctest.Context(t), foreign); err == nil || !strings.Contains(err.Error(), "not a Bookshop accounts database") {
		t.Errorf("Open(a database of notes) = %v, want not a Bookshop accounts database", err)
	}
}

// TestReopen checks that a database keeps its customers and sessions
// across a close, and that opening it again applies no migration twice.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.db")
	db := open(t, path)
	addAda(t, db)
	db.Close()
	db = open(t, path)
	if _, err := db.Session(rpctest.Context(t), tokenHash("first")); err != nil {
		t.Errorf("Session after reopening = %v", err)
	}
	if n, err := db.CountCustomers(rpctest.Context(t)); err != nil || n != 1 {
		t.Errorf("CountCustomers after reopening = %d, %v; want 1", n, err)
	}
}
