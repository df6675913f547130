// Package storetest is the contract of accounts.Store as tests: one suite
// that every implementation runs (package sqlite's and package
// postgres's tests call Run), so that the two keep the same promises, the
// same tests and not two copies of them. Beside the Store's methods, it
// tests the rules that must hold across replicas sharing one database:
// an email opens one account, the cap of sessions per customer, a
// session ends once.
package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Store is what the suite tests: the Accounts service's Store, and the
// count of customers that Run logs at start.
type Store interface {
	accounts.Store
	// CountCustomers returns the number of accounts.
	CountCustomers(ctx context.Context) (int, error)
	// Close closes the handle; the test's end closes it again.
	Close() error
}

// NewDatabase makes a new, empty database for one test and returns how to
// open a Store on it. Each call of open opens another handle on the same
// database (as another replica, or another process, would), closed when
// the test ends. open returns the implementation's error when it cannot
// open the Store.
type NewDatabase func(tb testing.TB) (open func() (Store, error))

// Run runs the suite on the databases that newDB makes, each test on a
// database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, newDB NewDatabase)
	}{
		{"CustomerRoundTrip", testCustomerRoundTrip},
		{"ConcurrentSignUps", testConcurrentSignUps},
		{"Sessions", testSessions},
		{"AnotherHandle", testAnotherHandle},
		{"SignUpOnceAcrossHandles", testSignUpOnceAcrossHandles},
		{"SessionCapAcrossHandles", testSessionCapAcrossHandles},
		{"SignOutOnceAcrossHandles", testSignOutOnceAcrossHandles},
		{"SweepAcrossHandles", testSweepAcrossHandles},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newDB) })
	}
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

// hash is a password hash of the form the stores accept.
const hash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a Store on a new database, and returns it and how to open
// another handle on the same database.
func open(tb testing.TB, newDB NewDatabase) (Store, func() Store) {
	tb.Helper()
	opener := newDB(tb)
	db, err := opener()
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return db, func() Store {
		tb.Helper()
		again, err := opener()
		if err != nil {
			tb.Fatalf("open another handle: %v", err)
		}
		return again
	}
}

func tokenHash(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

// addAda stores Ada, whose first session's token is "first" and expires
// an hour after t0.
func addAda(tb testing.TB, db Store) bookshop.Customer {
	tb.Helper()
	c, err := db.AddCustomer(testContext(tb), bookshop.Customer{Email: "ada@example.com", Name: "Ada", Created: t0}, hash, tokenHash("first"), t0.Add(time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// countCodes counts the outcomes of calls by their error's code ("" for
// success). It is safe for concurrent use.
type countCodes struct {
	mu sync.Mutex
	n  map[bookshop.Code]int
}

func (c *countCodes) add(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[bookshop.Code]int)
	}
	c.n[bookshop.ErrorCode(err)]++
}

// testCustomerRoundTrip stores a customer and reads it back, and refuses
// a second account for its email, storing nothing of it.
func testCustomerRoundTrip(t *testing.T, newDB NewDatabase) {
	db, _ := open(t, newDB)
	ctx := testContext(t)
	c := addAda(t, db)
	want := bookshop.Customer{ID: 1, Email: "ada@example.com", Name: "Ada", Created: t0.Truncate(time.Millisecond)}
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
	if err != nil || s.Customer != want || !s.Expires.Equal(t0.Add(time.Hour).Truncate(time.Millisecond)) || s.Token != "" {
		t.Errorf("Session(first) = %+v, %v; want Ada's, expiring at %v, no token", s, err, t0.Add(time.Hour))
	}
	// The next customer has the next number: the refused one took none
	// that shows.
	grace, err := db.AddCustomer(ctx, bookshop.Customer{Email: "grace@example.com", Name: "Grace", Created: t0}, hash, tokenHash("grace"), t0.Add(time.Hour))
	if err != nil || grace.ID <= c.ID {
		t.Errorf("AddCustomer(grace) = %+v, %v; want a number after Ada's %d", grace, err, c.ID)
	}
}

// testConcurrentSignUps checks that of many sign-ups for one email at
// once, exactly one opens the account.
func testConcurrentSignUps(t *testing.T, newDB NewDatabase) {
	db, _ := open(t, newDB)
	var (
		wg      sync.WaitGroup
		results countCodes
	)
	for i := range 10 {
		wg.Go(func() {
			_, err := db.AddCustomer(testContext(t), bookshop.Customer{Email: "ada@example.com", Name: "Ada", Created: t0}, hash, tokenHash(string(rune('a'+i))), t0.Add(time.Hour))
			results.add(err)
		})
	}
	wg.Wait()
	if results.n[""] != 1 || results.n[bookshop.Exists] != 9 {
		t.Errorf("10 sign-ups of one email: %v, want 1 ok and 9 already_exists", results.n)
	}
}

// testSessions adds sessions past the cap, reads, counts, expires and
// deletes them, and replaces a password hash.
func testSessions(t *testing.T, newDB NewDatabase) {
	db, _ := open(t, newDB)
	ctx := testContext(t)
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

// testAnotherHandle opens a second handle on a database the first wrote
// to (a restart, or another replica): the customers and sessions are
// there, and opening it applied no migration twice.
func testAnotherHandle(t *testing.T, newDB NewDatabase) {
	db, again := open(t, newDB)
	addAda(t, db)
	db.Close()
	db = again()
	if _, err := db.Session(testContext(t), tokenHash("first")); err != nil {
		t.Errorf("Session through another handle = %v", err)
	}
	if n, err := db.CountCustomers(testContext(t)); err != nil || n != 1 {
		t.Errorf("CountCustomers through another handle = %d, %v; want 1", n, err)
	}
}

// cheapHash are argon2id parameters that cost little.
var cheapHash = accounts.HashParams{Memory: 64, Time: 1, Threads: 1}

// testSignUpOnceAcrossHandles signs up one email through two Services,
// each on a handle of its own (two replicas), many times at once, each
// with a password of its own (with the same one, a sign-up after the
// first is that sign-up again: accounts.SignUpRetryWindow): one account
// is opened, with one session, and every other sign-up is told the email
// has an account.
func testSignUpOnceAcrossHandles(t *testing.T, newDB NewDatabase) {
	db, again := open(t, newDB)
	stores := []Store{db, again()}
	var svcs []*accounts.Service
	for _, store := range stores {
		svc, err := accounts.NewService(testContext(t), store, accounts.Options{
			Hash: cheapHash, Now: func() time.Time { return t0 },
			Limits: accounts.Limits{SignUpsPerClient: 1000, PerClient: 1000},
		})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	const attempts = 16
	var (
		wg      sync.WaitGroup
		results countCodes
	)
	start := make(chan struct{})
	for i := range attempts {
		svc := svcs[i%len(svcs)]
		wg.Go(func() {
			<-start
			_, err := svc.SignUp(testContext(t), bookshop.NewAccount{Email: "ada@example.com", Name: "Ada", Password: fmt.Sprintf("analytical-engine-%d", 1800+i)}, fmt.Sprintf("192.0.2.%d", i))
			if code := bookshop.ErrorCode(err); code != "" && code != bookshop.Exists {
				t.Errorf("SignUp: %v, want an account or Exists", err)
			}
			results.add(err)
		})
	}
	close(start)
	wg.Wait()
	if results.n[""] != 1 || results.n[bookshop.Exists] != attempts-1 {
		t.Errorf("%d sign-ups of one email on two replicas: %v, want 1 ok and %d already_exists", attempts, results.n, attempts-1)
	}
	for i, store := range stores {
		if n, err := store.CountCustomers(testContext(t)); err != nil || n != 1 {
			t.Errorf("CountCustomers through handle %d = %d, %v; want 1", i, n, err)
		}
		if n, err := store.CountSessions(testContext(t), t0); err != nil || n != 1 {
			t.Errorf("CountSessions through handle %d = %d, %v; want 1: only the account opened has one", i, n, err)
		}
	}
}

// testSessionCapAcrossHandles signs one customer in many times at once
// through two handles: the cap of sessions holds exactly, and every
// session ended is counted once.
func testSessionCapAcrossHandles(t *testing.T, newDB NewDatabase) {
	db, again := open(t, newDB)
	stores := []Store{db, again()}
	ada := addAda(t, db)
	const (
		signIns = 24
		limit   = 5
	)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ended int
	)
	start := make(chan struct{})
	for i := range signIns {
		store := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			n, err := store.AddSession(testContext(t), ada.ID, tokenHash(fmt.Sprintf("s%d", i)), t0, t0.Add(time.Hour), limit)
			if err != nil {
				t.Errorf("AddSession: %v", err)
				return
			}
			mu.Lock()
			ended += n
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if n, err := stores[1].CountSessions(testContext(t), t0); err != nil || n != limit {
		t.Errorf("CountSessions after %d sign-ins at once on two handles = %d, %v; want the cap, %d", signIns, n, err, limit)
	}
	if want := signIns + 1 - limit; ended != want {
		t.Errorf("the sign-ins ended %d sessions in all, want %d (%d, and the first, less the cap)", ended, want, signIns)
	}
}

// testSignOutOnceAcrossHandles ends one session through two handles at
// once: one of them ends it.
func testSignOutOnceAcrossHandles(t *testing.T, newDB NewDatabase) {
	db, again := open(t, newDB)
	stores := []Store{db, again()}
	addAda(t, db)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		found int
	)
	for i := range 10 {
		store := stores[i%len(stores)]
		wg.Go(func() {
			ok, err := store.DeleteSession(testContext(t), tokenHash("first"))
			if err != nil {
				t.Errorf("DeleteSession: %v", err)
			}
			if ok {
				mu.Lock()
				found++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if found != 1 {
		t.Errorf("10 DeleteSession of one session at once: %d found it, want 1", found)
	}
}

// testSweepAcrossHandles deletes the expired sessions from two handles at
// once, as two replicas' sweepers: each is deleted, and counted, once.
func testSweepAcrossHandles(t *testing.T, newDB NewDatabase) {
	db, again := open(t, newDB)
	stores := []Store{db, again()}
	ada := addAda(t, db)
	const sessions = 40
	for i := range sessions {
		if _, err := db.AddSession(testContext(t), ada.ID, tokenHash(fmt.Sprintf("s%d", i)), t0, t0.Add(time.Minute), 1000); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		deleted int
	)
	for i := range 4 {
		store := stores[i%len(stores)]
		wg.Go(func() {
			n, err := store.DeleteExpired(testContext(t), t0.Add(time.Minute))
			if err != nil {
				t.Errorf("DeleteExpired: %v", err)
			}
			mu.Lock()
			deleted += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if deleted != sessions {
		t.Errorf("4 sweeps at once deleted %d sessions in all, want %d", deleted, sessions)
	}
	if n, err := db.CountSessions(testContext(t), t0); err != nil || n != 1 {
		t.Errorf("CountSessions after the sweeps = %d, %v; want 1, the first", n, err)
	}
}
