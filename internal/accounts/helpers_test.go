package accounts_test

import (
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// The helpers of every test here: a context that ends with the test, and
// a plaintext connection closed with it.
var (
	testContext = rpctest.Context
	dial        = rpctest.Dial
)

// cheapHash are argon2id parameters that cost little: the tests of what
// does not depend on the cost of a hash use them.
var cheapHash = accounts.HashParams{Memory: 64, Time: 1, Threads: 1}

// The passwords and emails of the tests.
const (
	adaEmail    = "ada@example.com"
	adaPassword = "analytical-engine-1843"
	// otherPassword is not Ada's: a sign-up for her email with it is
	// someone else's, and finds the email taken.
	otherPassword = "difference-engine-1822"
	client1       = "192.0.2.1"
	client2       = "2001:db8::/64"
)

// clock is a clock that moves only when told: the Service's Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openDB opens an accounts database in memory, closed when the test ends.
func openDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return openDBAt(tb, sqlite.Memory)
}

// openDBAt opens the accounts database at path, closed when the test
// ends.
func openDBAt(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// newService returns a Service over store with opts, cheap hashes unless
// opts say otherwise, and the clock c unless opts have one.
func newService(tb testing.TB, store accounts.Store, c *clock, opts accounts.Options) *accounts.Service {
	tb.Helper()
	if opts.Hash == (accounts.HashParams{}) {
		opts.Hash = cheapHash
	}
	if opts.Now == nil && c != nil {
		opts.Now = c.Now
	}
	s, err := accounts.NewService(testContext(tb), store, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
