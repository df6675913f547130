package marketplace

import (
	"strconv"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func TestSignedIn(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c := newSignedIn(func() time.Time { return now })
	ada := bookshop.Session{Token: "token-of-ada", Customer: bookshop.Customer{ID: 7, Name: "Ada"}, Expires: now.Add(time.Hour)}
	c.put(ada)
	if got, ok := c.get(ada.Token); !ok || got.ID != 7 {
		t.Fatalf("get right after put = %+v, %v; want Ada", got, ok)
	}
	if _, ok := c.get("token-of-nobody"); ok {
		t.Error("get of a token never put found a session")
	}
	now = now.Add(sessionCacheTTL)
	if _, ok := c.get(ada.Token); ok {
		t.Errorf("get %v after put found the session, want it forgotten", sessionCacheTTL)
	}

	// Never past the session's own expiry.
	soon := bookshop.Session{Token: "token-ending-soon", Customer: bookshop.Customer{ID: 8}, Expires: now.Add(time.Second)}
	c.put(soon)
	now = now.Add(time.Second)
	if _, ok := c.get(soon.Token); ok {
		t.Error("a session was kept past its expiry")
	}

	// Signed out here: forgotten at once, and not taken back from a
	// request that checked it just before.
	c.put(ada)
	c.forget(ada.Token)
	if _, ok := c.get(ada.Token); ok {
		t.Error("a forgotten session was found")
	}
	c.put(ada)
	if _, ok := c.get(ada.Token); ok {
		t.Error("a session signed out a moment ago was put back")
	}

	// Bounded.
	for i := range maxCachedSessions + 100 {
		c.put(bookshop.Session{Token: "t" + strconv.Itoa(i), Expires: now.Add(time.Hour)})
	}
	if n := c.len(); n != maxCachedSessions {
		t.Errorf("kept %d sessions, want at most %d", n, maxCachedSessions)
	}
	// Sign-outs too: each may carry a token of its own, never vouched for.
	for i := range maxCachedSessions + 100 {
		c.forget("signed-out-" + strconv.Itoa(i))
	}
	if n := c.len(); n != maxCachedSessions {
		t.Errorf("after as many sign-outs of unknown tokens, kept %d entries, want at most %d", n, maxCachedSessions)
	}
}
