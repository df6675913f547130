package accounts_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// signUp opens Ada's account on s, failing the test if it cannot.
func signUp(tb testing.TB, s bookshop.Accounts) bookshop.Session {
	tb.Helper()
	sess, err := s.SignUp(testContext(tb), bookshop.NewAccount{Email: adaEmail, Name: "Ada Lovelace", Password: adaPassword}, client1)
	if err != nil {
		tb.Fatalf("SignUp: %v", err)
	}
	return sess
}

func TestSignUpStartsASession(t *testing.T) {
	c := newClock()
	s := newService(t, openDB(t), c, accounts.Options{})
	sess, err := s.SignUp(testContext(t), bookshop.NewAccount{Email: "  Ada@Example.COM ", Name: " Ada Lovelace ", Password: adaPassword}, client1)
	if err != nil {
		t.Fatal(err)
	}
	want := bookshop.Customer{ID: 1, Email: adaEmail, Name: "Ada Lovelace", Created: c.Now()}
	if sess.Customer != want {
		t.Errorf("SignUp customer = %+v, want %+v", sess.Customer, want)
	}
	if b, err := base64.RawURLEncoding.DecodeString(sess.Token); err != nil || len(b) != 32 {
		t.Errorf("token %q: want 32 bytes in unpadded base64url", sess.Token)
	}
	if !sess.Expires.Equal(c.Now().Add(accounts.DefaultSessionTTL)) {
		t.Errorf("session expires %v, want %v", sess.Expires, c.Now().Add(accounts.DefaultSessionTTL))
	}
	got, err := s.Session(testContext(t), sess.Token)
	if err != nil || got != sess {
		t.Errorf("Session(token of sign-up) = %+v, %v; want %+v", got, err, sess)
	}

	// The second customer has the next number.
	bob, err := s.SignUp(testContext(t), bookshop.NewAccount{Email: "bob@example.com", Name: "Bob", Password: "difference-engine"}, client1)
	if err != nil || bob.Customer.ID != 2 {
		t.Errorf("second SignUp = %+v, %v; want customer 2", bob.Customer, err)
	}
}

func TestSignUpRefuses(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{})
	signUp(t, s)
	tests := []struct {
		name   string
		a      bookshop.NewAccount
		client string
		want   bookshop.Code
	}{
		{"email taken, other case", bookshop.NewAccount{Email: "ADA@example.com", Name: "Other", Password: "another-password"}, client1, bookshop.Exists},
		{"bad email", bookshop.NewAccount{Email: "ada", Name: "Ada", Password: adaPassword}, client1, bookshop.Invalid},
		{"short password", bookshop.NewAccount{Email: "b@example.com", Name: "B", Password: "short"}, client1, bookshop.Invalid},
		{"common password", bookshop.NewAccount{Email: "b@example.com", Name: "B", Password: "Password123"}, client1, bookshop.Invalid},
		{"no client", bookshop.NewAccount{Email: "b@example.com", Name: "B", Password: adaPassword}, "", bookshop.Invalid},
	}
	for _, tt := range tests {
		if _, err := s.SignUp(testContext(t), tt.a, tt.client); bookshop.ErrorCode(err) != tt.want {
			t.Errorf("%s: SignUp = %v, want %s", tt.name, err, tt.want)
		}
	}
}

// TestSignInNewTokenEachTime checks that every sign-in starts a session of
// its own, with a token never seen before (no session fixation), and that
// the sessions before it stay valid.
func TestSignInNewTokenEachTime(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{})
	tokens := map[string]bool{signUp(t, s).Token: true}
	for i := range 5 {
		sess, err := s.SignIn(testContext(t), " ADA@example.com", adaPassword, client1)
		if err != nil {
			t.Fatalf("SignIn %d: %v", i+1, err)
		}
		if tokens[sess.Token] {
			t.Fatalf("SignIn %d returned a token already issued", i+1)
		}
		if sess.Customer.ID != 1 || sess.Customer.Email != adaEmail {
			t.Errorf("SignIn %d: customer %+v, want Ada, 1", i+1, sess.Customer)
		}
		tokens[sess.Token] = true
	}
	for tok := range tokens {
		if _, err := s.Session(testContext(t), tok); err != nil {
			t.Errorf("Session of an earlier token = %v, want it live", err)
		}
	}
}

// TestSessionExpiry checks that a session is refused from the moment it
// expires, and that Sweep then deletes it.
func TestSessionExpiry(t *testing.T) {
	c := newClock()
	db := openDB(t)
	s := newService(t, db, c, accounts.Options{SessionTTL: time.Hour})
	old := signUp(t, s)
	c.Advance(30 * time.Minute)
	newer, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1)
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(30*time.Minute - time.Millisecond)
	if _, err := s.Session(testContext(t), old.Token); err != nil {
		t.Errorf("Session a millisecond before expiry = %v, want live", err)
	}
	c.Advance(time.Millisecond)
	if _, err := s.Session(testContext(t), old.Token); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Session at expiry = %v, want NotFound", err)
	}
	n, err := s.Sweep(testContext(t))
	if err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v; want 1 session deleted", n, err)
	}
	if live, _ := db.CountSessions(testContext(t), time.Time{}); live != 1 {
		t.Errorf("%d sessions stored after the sweep, want 1", live)
	}
	if _, err := s.Session(testContext(t), newer.Token); err != nil {
		t.Errorf("Session of the newer session = %v, want live", err)
	}
}

// TestSignOutRevokes checks that a signed-out token is refused at once,
// that signing out again is no error, and that other sessions live on.
func TestSignOutRevokes(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{})
	first := signUp(t, s)
	second, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SignOut(testContext(t), first.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(testContext(t), first.Token); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Session after SignOut = %v, want NotFound", err)
	}
	if _, err := s.Session(testContext(t), second.Token); err != nil {
		t.Errorf("Session of another session after SignOut = %v, want live", err)
	}
	for _, tok := range []string{first.Token, "", "not a token", first.Token[:20]} {
		if err := s.SignOut(testContext(t), tok); err != nil {
			t.Errorf("SignOut(%q) = %v, want nil: no session to end is no error", tok, err)
		}
	}
}

func TestSessionRefusesMalformedTokens(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{})
	sess := signUp(t, s)
	for _, tok := range []string{"", "x", sess.Token + "A", sess.Token[:42] + "=", sess.Token[:42] + "+", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		_, err := s.Session(testContext(t), tok)
		if bookshop.ErrorCode(err) != bookshop.NotFound {
			t.Errorf("Session(%q) = %v, want NotFound", tok, err)
		}
	}
}

// TestSessionCap checks that a customer holds at most MaxSessions
// sessions: each sign-in past it ends the oldest.
func TestSessionCap(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{MaxSessions: 3})
	tokens := []string{signUp(t, s).Token}
	for range 4 {
		sess, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, sess.Token)
	}
	for i, tok := range tokens {
		_, err := s.Session(testContext(t), tok)
		if wantLive := i >= 2; (err == nil) != wantLive {
			t.Errorf("session %d of 5 with a cap of 3: Session = %v, want live %v", i+1, err, wantLive)
		}
	}
}

// TestSignInWrongAndUnknownAlike checks that a wrong password and an email
// without an account get the same error, code and words.
func TestSignInWrongAndUnknownAlike(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{})
	signUp(t, s)
	_, wrong := s.SignIn(testContext(t), adaEmail, "not-her-password", client1)
	_, unknown := s.SignIn(testContext(t), "nobody@example.com", "not-her-password", client2)
	_, short := s.SignIn(testContext(t), adaEmail, "short", client1)
	_, shortUnknown := s.SignIn(testContext(t), "nobody@example.com", "short", client2)
	for name, err := range map[string]error{"unknown email": unknown, "short password": short, "short password, unknown email": shortUnknown} {
		if bookshop.ErrorCode(err) != bookshop.Unauthenticated || err.Error() != wrong.Error() {
			t.Errorf("SignIn with %s = %v; want what a wrong password gets, %v", name, err, wrong)
		}
	}
	if bookshop.ErrorCode(wrong) != bookshop.Unauthenticated {
		t.Errorf("SignIn with a wrong password = %v, want Unauthenticated", wrong)
	}
}

// TestSignInUnknownEmailSpendsAHash checks that a sign-in for an email
// without an account takes the time of a hash, as one with an account
// does: with the real parameters a hash takes tens of milliseconds on any
// machine, a lookup alone well under one.
func TestSignInUnknownEmailSpendsAHash(t *testing.T) {
	s := newService(t, openDB(t), nil, accounts.Options{Hash: accounts.DefaultHashParams})
	start := time.Now()
	_, err := s.SignIn(testContext(t), "nobody@example.com", "some-password-or-other", client1)
	if d := time.Since(start); d < 5*time.Millisecond {
		t.Errorf("SignIn for an unknown email took %v: it spent no hash, and its speed tells that the email has no account", d)
	}
	if bookshop.ErrorCode(err) != bookshop.Unauthenticated {
		t.Errorf("SignIn = %v, want Unauthenticated", err)
	}
}

// TestSignInThrottledPerAccount checks that an email is refused after
// PerAccount failures from all clients together, each of them under its
// own limit, even with the right password and from yet another client,
// with a RetryAfter to the end of the window; and that the window's end
// lets it in again.
func TestSignInThrottledPerAccount(t *testing.T) {
	c := newClock()
	s := newService(t, openDB(t), c, accounts.Options{Limits: accounts.Limits{Window: 15 * time.Minute, PerAccount: 5, PerClient: 100}})
	signUp(t, s)
	for i := range 5 {
		if _, err := s.SignIn(testContext(t), adaEmail, "wrong-password", fmt.Sprintf("198.51.100.%d", i)); bookshop.ErrorCode(err) != bookshop.Unauthenticated {
			t.Fatalf("failure %d: %v, want Unauthenticated", i+1, err)
		}
	}
	c.Advance(time.Minute)
	_, err := s.SignIn(testContext(t), adaEmail, adaPassword, client2)
	if bookshop.ErrorCode(err) != bookshop.Exhausted || bookshop.RetryAfter(err) != 14*time.Minute {
		t.Fatalf("SignIn after 5 failures = %v (retry after %v), want Exhausted, retry after 14m", err, bookshop.RetryAfter(err))
	}
	c.Advance(14 * time.Minute)
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client2); err != nil {
		t.Errorf("SignIn once the window has passed = %v, want signed in", err)
	}
}

// TestSignInThrottlesTheClientNotTheAccount checks, with the default
// limits, that five wrong passwords for an email from one client stop
// that client, not the account's owner: the owner signs in from another
// address at once. The client that failed stays refused until its window
// closes, even with the right password: the refusal comes before the
// password is checked, or a guesser past the limit would still learn
// which guess was right.
func TestSignInThrottlesTheClientNotTheAccount(t *testing.T) {
	c := newClock()
	s := newService(t, openDB(t), c, accounts.Options{})
	signUp(t, s)
	const guesser = "198.51.100.7"
	for i := range 5 {
		if _, err := s.SignIn(testContext(t), adaEmail, "wrong-password", guesser); bookshop.ErrorCode(err) != bookshop.Unauthenticated {
			t.Fatalf("failure %d: %v, want Unauthenticated", i+1, err)
		}
	}
	c.Advance(time.Minute)
	if _, err := s.SignIn(testContext(t), adaEmail, "wrong-password", guesser); bookshop.ErrorCode(err) != bookshop.Exhausted || bookshop.RetryAfter(err) != 14*time.Minute {
		t.Fatalf("sixth guess from the same client = %v (retry after %v), want Exhausted, retry after 14m", err, bookshop.RetryAfter(err))
	}
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client2); err != nil {
		t.Fatalf("SignIn by the owner from another client after 5 failures elsewhere = %v, want signed in", err)
	}
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, guesser); bookshop.ErrorCode(err) != bookshop.Exhausted || bookshop.RetryAfter(err) != 14*time.Minute {
		t.Errorf("the right password from the throttled client = %v (retry after %v), want Exhausted, retry after 14m", err, bookshop.RetryAfter(err))
	}
	if _, err := s.SignIn(testContext(t), "grace@example.com", "wrong-password", guesser); bookshop.ErrorCode(err) != bookshop.Unauthenticated {
		t.Errorf("the throttled client at another email = %v, want Unauthenticated (its own count, 6 of 20, is not used up)", err)
	}
	c.Advance(14 * time.Minute)
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, guesser); err != nil {
		t.Errorf("SignIn from that client once its window has passed = %v, want signed in", err)
	}
}

// TestSignInAccountCeiling checks, with the default limits, that failures
// of one email from many clients, each under its own limit, are bounded
// too: at 100 in the window the email is refused to everyone, its owner
// included, until the window closes. A sign-in of the owner meanwhile is
// not refused, and does not clear the failures of the others.
func TestSignInAccountCeiling(t *testing.T) {
	c := newClock()
	s := newService(t, openDB(t), c, accounts.Options{})
	signUp(t, s)
	guess := func(from int) {
		t.Helper()
		for i := range 5 {
			client := fmt.Sprintf("203.0.113.%d", from)
			if _, err := s.SignIn(testContext(t), adaEmail, "wrong-password", client); bookshop.ErrorCode(err) != bookshop.Unauthenticated {
				t.Fatalf("failure %d of client %s: %v, want Unauthenticated", i+1, client, err)
			}
		}
	}
	for from := range 19 {
		guess(from)
	}
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client2); err != nil {
		t.Fatalf("SignIn by the owner after 95 failures from 19 other clients = %v, want signed in", err)
	}
	c.Advance(time.Minute)
	guess(19)
	for _, client := range []string{client2, "192.0.2.200"} {
		if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client); bookshop.ErrorCode(err) != bookshop.Exhausted || bookshop.RetryAfter(err) != 14*time.Minute {
			t.Errorf("SignIn from %s after 100 failures = %v (retry after %v), want Exhausted, retry after 14m (the window opened with the first failure, a minute before)", client, err, bookshop.RetryAfter(err))
		}
	}
	c.Advance(14 * time.Minute)
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client2); err != nil {
		t.Errorf("SignIn once the window has passed = %v, want signed in", err)
	}
}

// TestSignInSuccessClearsItsFailures checks that a sign-in that succeeds
// clears the failures of its email from its client: a customer who
// mistypes twice of three allowed, then signs in, may mistype again.
func TestSignInSuccessClearsItsFailures(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{Limits: accounts.Limits{PerAccountClient: 3, PerClient: 100}})
	signUp(t, s)
	for round := range 3 {
		for range 2 {
			s.SignIn(testContext(t), adaEmail, "mistyped-password", client1)
		}
		if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1); err != nil {
			t.Fatalf("round %d: SignIn after 2 of 3 failures = %v", round+1, err)
		}
	}
}

// TestSignInThrottledPerClient checks that a client is refused after
// PerClient failures, over any emails, while other clients are not.
func TestSignInThrottledPerClient(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{Limits: accounts.Limits{Window: time.Hour, PerAccount: 100, PerClient: 20}})
	signUp(t, s)
	for i := range 20 {
		if _, err := s.SignIn(testContext(t), fmt.Sprintf("guess%d@example.com", i), "a-guessed-password", client1); bookshop.ErrorCode(err) != bookshop.Unauthenticated {
			t.Fatalf("failure %d: %v, want Unauthenticated", i+1, err)
		}
	}
	_, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1)
	if bookshop.ErrorCode(err) != bookshop.Exhausted || bookshop.RetryAfter(err) != time.Hour {
		t.Errorf("SignIn from a client after 20 failures = %v (retry after %v), want Exhausted, retry after 1h", err, bookshop.RetryAfter(err))
	}
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client2); err != nil {
		t.Errorf("SignIn from another client = %v, want signed in", err)
	}
}

// TestThrottleSameForUnknownEmail checks that an email without an account
// is throttled exactly as one with an account, by either count of an
// email (from one client, from all): the same errors, in the same order,
// with the same RetryAfter. Otherwise the fourth answer would tell
// whether the email has an account.
func TestThrottleSameForUnknownEmail(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limits accounts.Limits
		client func(i int) string
	}{
		{"per account and client", accounts.Limits{Window: 10 * time.Minute, PerAccountClient: 3, PerClient: 100},
			func(int) string { return client2 }},
		{"per account", accounts.Limits{Window: 10 * time.Minute, PerAccount: 3, PerClient: 100},
			func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			answers := func(email string) []string {
				c := newClock()
				s := newService(t, openDB(t), c, accounts.Options{Limits: tt.limits})
				signUp(t, s)
				var got []string
				for i := range 5 {
					_, err := s.SignIn(testContext(t), email, "wrong-password", tt.client(i))
					got = append(got, fmt.Sprintf("%s %q %v", bookshop.ErrorCode(err), bookshop.ErrorMessage(err), bookshop.RetryAfter(err)))
					c.Advance(time.Second)
				}
				return got
			}
			known, unknown := answers(adaEmail), answers("nobody@example.com")
			if fmt.Sprint(known) != fmt.Sprint(unknown) {
				t.Errorf("answers for an email with an account:\n%q\nwithout one:\n%q\nwant the same", known, unknown)
			}
			if want := fmt.Sprintf("%s %q %v", bookshop.Exhausted, "too many failed attempts: try again in 9m56s", 596*time.Second); known[4] != want {
				t.Errorf("fifth answer = %s, want %s", known[4], want)
			}
		})
	}
}

// TestThrottleCountsBursts checks that concurrent failed attempts are
// counted before their hashes finish: of a burst of 20 at once, from one
// client or from twenty, no more than the limit are let through to be
// checked.
func TestThrottleCountsBursts(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limits accounts.Limits
		client func(i int) string
	}{
		{"per account and client", accounts.Limits{PerAccountClient: 5, PerClient: 100},
			func(int) string { return client2 }},
		{"per account", accounts.Limits{PerAccount: 5, PerClient: 100},
			func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(t, openDB(t), newClock(), accounts.Options{Limits: tt.limits})
			signUp(t, s)
			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				counts = map[bookshop.Code]int{}
			)
			for i := range 20 {
				wg.Go(func() {
					_, err := s.SignIn(testContext(t), adaEmail, "wrong-password", tt.client(i))
					mu.Lock()
					counts[bookshop.ErrorCode(err)]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if counts[bookshop.Unauthenticated] != 5 || counts[bookshop.Exhausted] != 15 {
				t.Errorf("a burst of 20 wrong passwords: %v, want 5 checked (unauthenticated) and 15 refused (exhausted)", counts)
			}
		})
	}
}

// TestSignUpThrottlesEmailProbing checks that sign-ups for emails that
// have accounts count against the client's failures, so that a client
// cannot test many emails for accounts; sign-ups that succeed or are
// refused for their form are not failures (the limit of sign-ups is set
// high here, to see the failures alone).
func TestSignUpThrottlesEmailProbing(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{Limits: accounts.Limits{PerAccount: 100, PerClient: 3, SignUpsPerClient: 100}})
	signUp(t, s)
	for i := range 5 {
		a := bookshop.NewAccount{Email: fmt.Sprintf("new%d@example.com", i), Name: "New", Password: adaPassword}
		if _, err := s.SignUp(testContext(t), a, client2); err != nil {
			t.Fatalf("SignUp %d = %v", i+1, err)
		}
		if _, err := s.SignUp(testContext(t), bookshop.NewAccount{Email: "bad", Name: "New", Password: adaPassword}, client2); bookshop.ErrorCode(err) != bookshop.Invalid {
			t.Fatalf("SignUp with a bad email = %v, want Invalid", err)
		}
	}
	for i := range 3 {
		if _, err := s.SignUp(testContext(t), bookshop.NewAccount{Email: adaEmail, Name: "Probe", Password: otherPassword}, client2); bookshop.ErrorCode(err) != bookshop.Exists {
			t.Fatalf("probe %d = %v, want Exists", i+1, err)
		}
	}
	_, err := s.SignUp(testContext(t), bookshop.NewAccount{Email: "new@example.com", Name: "New", Password: adaPassword}, client2)
	if bookshop.ErrorCode(err) != bookshop.Exhausted || bookshop.RetryAfter(err) <= 0 {
		t.Errorf("SignUp after 3 emails found taken = %v, want Exhausted with a RetryAfter", err)
	}
}

// TestSignUpAgain checks that a sign-up sent again, as a client that lost
// the answer does, with the same email and password within
// SignUpRetryWindow of the account's opening, gets a new session of the
// account it opened, where another password, or the same one later,
// finds the email taken: one account, whatever the retries.
func TestSignUpAgain(t *testing.T) {
	c := newClock()
	s := newService(t, openDB(t), c, accounts.Options{})
	first := signUp(t, s)
	c.Advance(accounts.SignUpRetryWindow - time.Second)
	again, err := s.SignUp(testContext(t), bookshop.NewAccount{Email: "  ADA@example.com", Name: "Ada Lovelace", Password: adaPassword}, client1)
	if err != nil || again.Customer.ID != first.Customer.ID || again.Token == first.Token || again.Token == "" {
		t.Fatalf("SignUp again = %+v, %v; want a new session of customer %d", again, err, first.Customer.ID)
	}
	for _, tok := range []string{first.Token, again.Token} {
		if got, err := s.Session(testContext(t), tok); err != nil || got.Customer.ID != first.Customer.ID {
			t.Errorf("Session(%.6s...) = %+v, %v; want customer %d's", tok, got, err, first.Customer.ID)
		}
	}
	if _, err := s.SignUp(testContext(t), bookshop.NewAccount{Email: adaEmail, Name: "Ada Lovelace", Password: otherPassword}, client1); bookshop.ErrorCode(err) != bookshop.Exists {
		t.Errorf("SignUp of the email with another password = %v, want Exists", err)
	}
	c.Advance(time.Second)
	if _, err := s.SignUp(testContext(t), bookshop.NewAccount{Email: adaEmail, Name: "Ada Lovelace", Password: adaPassword}, client1); bookshop.ErrorCode(err) != bookshop.Exists {
		t.Errorf("SignUp again past SignUpRetryWindow = %v, want Exists", err)
	}
}

// newAccount returns a new account of email that passes every rule.
func newAccount(email string) bookshop.NewAccount {
	return bookshop.NewAccount{Email: email, Name: "New", Password: adaPassword}
}

// TestSignUpThrottledPerClient checks that every sign-up of a client
// counts, whether it opens an account, is refused for its form or finds
// its email taken; that past SignUpsPerClient in the window the client is
// refused, before any work, with a RetryAfter to the end of the window;
// that other clients, and the client's sign-ins, are not; and that the
// window's end lets the client in again.
func TestSignUpThrottledPerClient(t *testing.T) {
	c := newClock()
	db := openDB(t)
	s := newService(t, db, c, accounts.Options{Limits: accounts.Limits{SignUpWindow: time.Hour, SignUpsPerClient: 4, PerClient: 100}})
	signUp(t, s) // Ada, from client1: the first of its 4
	for i, tt := range []struct {
		a    bookshop.NewAccount
		want bookshop.Code
	}{
		{newAccount("bob@example.com"), ""},
		{newAccount("not an email"), bookshop.Invalid},
		{bookshop.NewAccount{Email: adaEmail, Name: "New", Password: otherPassword}, bookshop.Exists},
	} {
		if _, err := s.SignUp(testContext(t), tt.a, client1); bookshop.ErrorCode(err) != tt.want {
			t.Fatalf("sign-up %d of 4 = %v, want %q", i+2, err, tt.want)
		}
	}
	c.Advance(10 * time.Minute)
	for _, a := range []bookshop.NewAccount{newAccount("carol@example.com"), newAccount("not an email")} {
		_, err := s.SignUp(testContext(t), a, client1)
		if bookshop.ErrorCode(err) != bookshop.Exhausted || bookshop.RetryAfter(err) != 50*time.Minute ||
			bookshop.ErrorMessage(err) != "too many sign-ups from this network address: try again in 50m0s" {
			t.Errorf("SignUp(%s) past 4 sign-ups = %v (retry after %v), want Exhausted, retry after 50m", a.Email, err, bookshop.RetryAfter(err))
		}
	}
	if _, _, err := db.CustomerByEmail(testContext(t), "carol@example.com"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("the refused sign-up's email: CustomerByEmail = %v, want NotFound: no account opened", err)
	}
	if _, err := s.SignUp(testContext(t), newAccount("dave@example.com"), client2); err != nil {
		t.Errorf("SignUp from another client = %v, want an account", err)
	}
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1); err != nil {
		t.Errorf("SignIn from the client out of sign-ups = %v, want signed in", err)
	}
	c.Advance(50 * time.Minute)
	if _, err := s.SignUp(testContext(t), newAccount("carol@example.com"), client1); err != nil {
		t.Errorf("SignUp once the window has passed = %v, want an account", err)
	}
}

// TestSignUpDefaultLimit checks the default that Options{} gives: 10
// sign-ups of one client an hour.
func TestSignUpDefaultLimit(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{})
	for i := range 10 {
		if _, err := s.SignUp(testContext(t), newAccount(fmt.Sprintf("new%d@example.com", i)), client1); err != nil {
			t.Fatalf("SignUp %d of 10 = %v", i+1, err)
		}
	}
	_, err := s.SignUp(testContext(t), newAccount("eleventh@example.com"), client1)
	if bookshop.ErrorCode(err) != bookshop.Exhausted || bookshop.RetryAfter(err) != time.Hour {
		t.Errorf("11th SignUp in an hour = %v (retry after %v), want Exhausted, retry after 1h", err, bookshop.RetryAfter(err))
	}
}

// TestSignUpThrottleCountsBursts checks that concurrent sign-ups are
// counted before their hashes run: of a burst of 20 at once from one
// client, no more than the limit open accounts.
func TestSignUpThrottleCountsBursts(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, newClock(), accounts.Options{Limits: accounts.Limits{SignUpsPerClient: 5}})
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[bookshop.Code]int{}
	)
	for i := range 20 {
		wg.Go(func() {
			_, err := s.SignUp(testContext(t), newAccount(fmt.Sprintf("burst%d@example.com", i)), client1)
			mu.Lock()
			counts[bookshop.ErrorCode(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[""] != 5 || counts[bookshop.Exhausted] != 15 {
		t.Errorf("a burst of 20 sign-ups: %v, want 5 accounts opened and 15 refused (exhausted)", counts)
	}
	if n, err := db.CountCustomers(testContext(t)); err != nil || n != 5 {
		t.Errorf("CountCustomers = %d, %v; want 5", n, err)
	}
}

// TestSignUpGivesBackOnCancel checks that a sign-up that fails for its
// own context, not for what it asked, does not count against the client.
func TestSignUpGivesBackOnCancel(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{Limits: accounts.Limits{SignUpsPerClient: 2}})
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	for range 3 {
		if _, err := s.SignUp(ctx, newAccount("new@example.com"), client1); !errors.Is(err, context.Canceled) {
			t.Fatalf("SignUp with a cancelled context = %v, want context.Canceled", err)
		}
	}
	for i := range 2 {
		if _, err := s.SignUp(testContext(t), newAccount(fmt.Sprintf("new%d@example.com", i)), client1); err != nil {
			t.Errorf("SignUp %d of 2 after 3 cancelled = %v, want an account", i+1, err)
		}
	}
}

// TestSessionSurvivesRestart checks that what SignUp and SignIn
// acknowledged is on disk: a new Service over the reopened file knows the
// account and its sessions.
func TestSessionSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.db")
	c := newClock()
	db := openDBAt(t, path)
	s := newService(t, db, c, accounts.Options{})
	first := signUp(t, s)
	second, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SignOut(testContext(t), first.Token); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = newService(t, openDBAt(t, path), c, accounts.Options{})
	got, err := s.Session(testContext(t), second.Token)
	if err != nil || got != second {
		t.Errorf("Session after a restart = %+v, %v; want %+v", got, err, second)
	}
	if _, err := s.Session(testContext(t), first.Token); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Session signed out before the restart = %v, want NotFound", err)
	}
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1); err != nil {
		t.Errorf("SignIn after a restart = %v", err)
	}
	if _, err := s.SignUp(testContext(t), bookshop.NewAccount{Email: adaEmail, Name: "Ada", Password: otherPassword}, client2); bookshop.ErrorCode(err) != bookshop.Exists {
		t.Errorf("SignUp of Ada's email after a restart = %v, want Exists", err)
	}
}

// TestParametersRenewedAtSignIn checks that a hash made with older
// parameters is made anew with the current ones when its customer signs
// in, and that the password still works after.
func TestParametersRenewedAtSignIn(t *testing.T) {
	db := openDB(t)
	old := newService(t, db, newClock(), accounts.Options{Hash: accounts.HashParams{Memory: 32, Time: 1, Threads: 1}})
	signUp(t, old)
	s := newService(t, db, newClock(), accounts.Options{Hash: cheapHash})
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1); err != nil {
		t.Fatal(err)
	}
	_, hash, err := db.CustomerByEmail(testContext(t), adaEmail)
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=64,t=1,p=1$"; hash[:len(want)] != want {
		t.Errorf("hash after sign-in = %q, want it made with %s", hash, want)
	}
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1); err != nil {
		t.Errorf("SignIn with the renewed hash = %v", err)
	}
}

// TestSignInGivesBackOnCancel checks that an attempt that fails for its
// own context, not for its credentials, counts against neither count of
// the email (from its client, from all) nor the client's.
func TestSignInGivesBackOnCancel(t *testing.T) {
	s := newService(t, openDB(t), newClock(), accounts.Options{Limits: accounts.Limits{PerAccountClient: 2, PerAccount: 2, PerClient: 2}})
	signUp(t, s)
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	for range 3 {
		if _, err := s.SignIn(ctx, adaEmail, "wrong-password", client1); !errors.Is(err, context.Canceled) {
			t.Fatalf("SignIn with a cancelled context = %v, want context.Canceled", err)
		}
	}
	if _, err := s.SignIn(testContext(t), adaEmail, adaPassword, client1); err != nil {
		t.Errorf("SignIn after 3 cancelled attempts of 2 allowed = %v, want signed in", err)
	}
}

// TestRunSweeper checks that the sweeper deletes expired sessions on its
// own, at once when it starts (its interval here is an hour: a session
// that expired while the service was stopped goes without that wait),
// and stops when its context ends.
func TestRunSweeper(t *testing.T) {
	c := newClock()
	db := openDB(t)
	s := newService(t, db, c, accounts.Options{SessionTTL: time.Hour})
	signUp(t, s)
	c.Advance(2 * time.Hour)
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() { done <- s.RunSweeper(ctx, time.Hour) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, err := db.CountSessions(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper never deleted the expired session")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunSweeper after its context ended = %v, want nil", err)
	}
}
