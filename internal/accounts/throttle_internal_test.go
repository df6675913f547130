package accounts

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// TestLimiterWindow checks that a key is allowed limit attempts in a
// window, then refused with the time until the window closes, then
// allowed again once it has.
func TestLimiterWindow(t *testing.T) {
	l := newLimiter(3, 15*time.Minute, 100)
	for i := range 3 {
		if wait, ok := l.take("ada@example.com", t0.Add(time.Duration(i)*time.Minute)); !ok {
			t.Fatalf("attempt %d refused (wait %v), want allowed", i+1, wait)
		}
	}
	wait, ok := l.take("ada@example.com", t0.Add(5*time.Minute))
	if ok || wait != 10*time.Minute {
		t.Errorf("attempt 4, 5 minutes into the window = %v, %v; want refused for 10m", wait, ok)
	}
	if _, ok := l.take("bob@example.com", t0.Add(5*time.Minute)); !ok {
		t.Error("another key refused: keys must count apart")
	}
	if wait, ok := l.take("ada@example.com", t0.Add(15*time.Minute-time.Second)); ok || wait != time.Second {
		t.Errorf("attempt a second before the window closes = %v, %v; want refused for 1s", wait, ok)
	}
	if _, ok := l.take("ada@example.com", t0.Add(15*time.Minute)); !ok {
		t.Error("attempt as the window closes refused, want a new window")
	}
}

// TestLimiterRefundAndForget checks that a refunded attempt can be made
// again, and that a forgotten key starts afresh.
func TestLimiterRefundAndForget(t *testing.T) {
	l := newLimiter(2, time.Minute, 100)
	l.take("k", t0)
	l.take("k", t0)
	if _, ok := l.take("k", t0); ok {
		t.Fatal("third attempt of two allowed")
	}
	l.refund("k")
	if _, ok := l.take("k", t0); !ok {
		t.Error("attempt after a refund refused")
	}
	l.forget("k")
	for i := range 2 {
		if _, ok := l.take("k", t0); !ok {
			t.Errorf("attempt %d after forget refused", i+1)
		}
	}
	l.refund("unknown") // no panic, no entry
	if n := l.len(); n != 1 {
		t.Errorf("len = %d after refunding an unknown key, want 1", n)
	}
}

// TestLimiterCap checks that the limiter holds at most maxKeys keys,
// dropping closed windows first, then the oldest open one.
func TestLimiterCap(t *testing.T) {
	l := newLimiter(1, time.Minute, 3)
	l.take("a", t0)
	l.take("b", t0.Add(10*time.Second))
	l.take("c", t0.Add(20*time.Second))
	// Full: d drops a, the oldest window, still open.
	l.take("d", t0.Add(30*time.Second))
	if n := l.len(); n != 3 {
		t.Fatalf("len = %d, want the cap, 3", n)
	}
	if _, ok := l.take("a", t0.Add(31*time.Second)); !ok {
		t.Error("a, dropped at the cap, is still refused")
	}
	if _, ok := l.take("c", t0.Add(32*time.Second)); ok {
		t.Error("c, newer than the one dropped, was dropped too")
	}
	// Much later every window has closed: a new key drops them all.
	l.take("e", t0.Add(10*time.Minute))
	if n := l.len(); n != 1 {
		t.Errorf("len = %d after every window closed, want 1", n)
	}
}

// serviceLimiters is how many limiters a Service keeps, each capped at
// MaxKeys (TestServiceCapsEveryCount): failed sign-ins by email and
// client, by email, and failures by client; sign-ups by client.
const serviceLimiters = 4

// TestServiceCapsEveryCount checks that each count a Service keeps holds
// at most Limits.MaxKeys keys, however many emails and clients fail or
// sign up.
func TestServiceCapsEveryCount(t *testing.T) {
	db, err := sqlite.Open(testContext(t), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := NewService(testContext(t), db, Options{Hash: cheap, Limits: Limits{MaxKeys: 3}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		client := fmt.Sprintf("192.0.2.%d", i)
		s.SignIn(testContext(t), fmt.Sprintf("guess%d@example.com", i), "wrong-password", client)
		s.SignUp(testContext(t), bookshop.NewAccount{Email: fmt.Sprintf("new%d@example.com", i), Name: "New", Password: "a-long-enough-password"}, client)
		// Taken: a failure of the client, as a wrong password is.
		s.SignUp(testContext(t), bookshop.NewAccount{Email: fmt.Sprintf("new%d@example.com", i), Name: "New", Password: "a-long-enough-password"}, client)
	}
	limiters := map[string]*limiter{"by email and client": s.pairs, "by email": s.accounts, "by client": s.clients, "sign-ups": s.signUps}
	if len(limiters) != serviceLimiters {
		t.Fatalf("the test names %d limiters, serviceLimiters says %d", len(limiters), serviceLimiters)
	}
	for name, l := range limiters {
		if n := l.len(); n != 3 {
			t.Errorf("limiter %s counts %d keys after 10, want its cap, 3", name, n)
		}
	}
}

// TestRefusedSignInsAddNoKeys has a client past its limit try sign-ins at
// a new email each time: refused, they must add no key to the counts of
// emails, or such a client could fill them and push out the counts that
// hold back a guess at one account; and a refused count brought to
// nothing is dropped.
func TestRefusedSignInsAddNoKeys(t *testing.T) {
	db, err := sqlite.Open(testContext(t), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	limits := DefaultLimits
	limits.PerClient = 2
	s, err := NewService(testContext(t), db, Options{Hash: cheap, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	const client = "192.0.2.7"
	for i := range 2 {
		if _, err := s.SignIn(testContext(t), fmt.Sprintf("first%d@example.com", i), "wrong-password", client); bookshop.ErrorCode(err) != bookshop.Unauthenticated {
			t.Fatalf("sign-in %d = %v, want Unauthenticated", i, err)
		}
	}
	pairs, emails := s.pairs.len(), s.accounts.len()
	for i := range 500 {
		if _, err := s.SignIn(testContext(t), fmt.Sprintf("new%d@example.com", i), "wrong-password", client); bookshop.ErrorCode(err) != bookshop.Exhausted {
			t.Fatalf("sign-in %d past the client's limit = %v, want Exhausted", i, err)
		}
	}
	if s.pairs.len() != pairs || s.accounts.len() != emails {
		t.Errorf("500 refused sign-ins at new emails took the counts from %d pairs and %d emails to %d and %d, want them unchanged",
			pairs, emails, s.pairs.len(), s.accounts.len())
	}

	// A pair refused at its limit gives back the email's count it took:
	// a new email's, brought to nothing, is dropped.
	other := "198.51.100.1"
	for range limits.PerAccountClient {
		s.SignIn(testContext(t), "target@example.com", "wrong-password", other)
	}
	before := s.accounts.len()
	if _, err := s.SignIn(testContext(t), "target@example.com", "wrong-password", other); bookshop.ErrorCode(err) != bookshop.Exhausted {
		t.Fatalf("a sign-in past the pair's limit = %v, want Exhausted", err)
	}
	if s.accounts.len() != before {
		t.Errorf("a refused sign-in changed the emails counted from %d to %d", before, s.accounts.len())
	}
	l := newLimiter(5, time.Minute, 10)
	l.take("k", time.Now())
	l.refund("k")
	if l.len() != 0 {
		t.Errorf("a key whose only attempt was given back is still counted (%d keys)", l.len())
	}
}

// TestLimiterMemory fills a limiter to its cap, DefaultLimits.MaxKeys
// keys, and ten thousand more (the oldest make way), and holds what it
// holds per key to the budget of docs/capacity.md: the Service has
// serviceLimiters such limiters.
func TestLimiterMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("measures the heap")
	}
	n := DefaultLimits.MaxKeys
	keys := make([]string, n+10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("customer-%d@example.com", i)
	}
	before := memtest.Held()
	l := newLimiter(5, time.Minute, n)
	for i, k := range keys {
		l.take(k, t0.Add(time.Duration(i)))
	}
	per := (memtest.Held() - before) / uint64(n)
	// Both live until then: keys, dead, would be collected, and counted
	// off what the limiter holds (before, the test found 72 bytes a key).
	runtime.KeepAlive(l)
	runtime.KeepAlive(keys)
	t.Logf("%d keys: %d bytes per key", n, per)
	if len(l.entries) != n {
		t.Errorf("the limiter counts %d keys after %d, want its cap, %d", len(l.entries), len(keys), n)
	}
	count, each := memtest.Documented(t, "Accounts", "throttled keys")
	if want := serviceLimiters * DefaultLimits.MaxKeys; count != want {
		t.Errorf("docs/capacity.md budgets %d throttled keys, want %d limiters of DefaultLimits.MaxKeys, %d", count, serviceLimiters, want)
	}
	if per > each {
		t.Errorf("a limiter holds %d bytes per key, more than the %d docs/capacity.md budgets", per, each)
	}
}
