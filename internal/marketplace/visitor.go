package marketplace

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// A visitor is who is asking for a page: a signed-in customer, or a guest.
// Two cookies say who, both HttpOnly and SameSite=Lax, and Secure with the
// __Host- prefix when the site is served over HTTPS (the prefix needs
// Secure, so over plain HTTP, as on a developer's machine, the names are
// bare):
//
//   - the session cookie holds the token of a session of the Accounts
//     service, which keeps only its hash; the Marketplace holds nothing;
//   - the cart cookie holds the random token of a guest's cart. At sign-in
//     that cart is merged into the customer's and the cookie is dropped.
//
// Neither cookie is read for a request that does not show a page: the
// static files and the health checks cost no call.
const (
	sessionCookieName = "bookshop_session"
	cartCookieName    = "bookshop_cart"
	// guestCartLifetime is how long a guest's cart cookie lasts; the Cart
	// service forgets carts untouched for longer.
	guestCartLifetime = 30 * 24 * time.Hour
)

// visitor is who is asking for a page.
type visitor struct {
	customer *bookshop.Customer // nil for a guest
	// token is the token of the session cookie: a signed-in customer's,
	// or, with accountsDown, one that could not be checked (customer nil),
	// so that a sign-out still tries to revoke it.
	token string
	// guestToken is the token of a guest cart the visitor's browser holds,
	// or "". A signed-in visitor holds one only until it is merged.
	guestToken string
	// accountsDown says the visitor holds a session cookie that could not
	// be checked: the Accounts service did not answer.
	accountsDown bool

	// The cart's count for the header, once resolveCount has found it:
	// countKnown, or cartDown when it cannot be known: the Cart could not
	// say, or Accounts could not vouch for whose cart it is.
	count      int
	countKnown bool
	cartDown   bool

	// lost is what of the guest cart did not fit in the customer's at the
	// merge, for the page to tell once (see mergeGuestCart).
	lost mergeLoss
}

// cartID returns the id of the visitor's cart in the Cart service, or ""
// for a guest who has none yet.
func (v *visitor) cartID() string {
	switch {
	case v.customer != nil:
		return customerCartID(v.customer.ID)
	case v.guestToken != "":
		return guestCartID(v.guestToken)
	}
	return ""
}

// guestCartID is the id in the Cart service of the guest cart whose token
// a browser holds: "g-" and the token's SHA-256, so that the secret itself
// never leaves the Marketplace (Cart's logs and errors may name an id).
func guestCartID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "g-" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// userID is the user_id the visitor's recommendations are asked for: the
// customer's id, or 0, an anonymous shopper.
func (v *visitor) userID() int32 {
	if v.customer != nil {
		return v.customer.ID
	}
	return 0
}

func customerCartID(id int32) string { return "c-" + strconv.FormatInt(int64(id), 10) }

type visitorKey struct{}

// visitorOf returns the visitor withVisitor found for r, or a guest.
func visitorOf(r *http.Request) *visitor { return visitorIn(r.Context()) }

// visitorIn returns the visitor of the request ctx belongs to, or a guest.
func visitorIn(ctx context.Context) *visitor {
	if v, ok := foundVisitor(ctx); ok {
		return v
	}
	return &visitor{}
}

// foundVisitor returns the visitor withVisitor found for the request ctx
// belongs to, if it did.
func foundVisitor(ctx context.Context) (*visitor, bool) {
	if v, ok := ctx.Value(visitorKey{}).(*visitor); ok {
		return v, true
	}
	if st := stateOf(ctx); st != nil && st.visitor != nil {
		return st.visitor, true
	}
	return nil, false
}

// withVisitor finds who is asking for a page before h serves it: it checks
// the session cookie with the Accounts service (a cookie whose session has
// ended is dropped), and merges a guest cart the browser still holds into
// a signed-in customer's cart.
func (s *server) withVisitor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &visitor{}
		secure := s.isSecure(r)
		if c, err := r.Cookie(cookieName(cartCookieName, secure)); err == nil && validToken(c.Value) {
			v.guestToken = c.Value
		}
		if c, err := r.Cookie(cookieName(sessionCookieName, secure)); err == nil && validToken(c.Value) {
			s.checkSession(w, r, v, c.Value)
		}
		if r.Method == http.MethodGet {
			s.takeLoss(w, r, v)
		}
		if v.customer != nil && v.guestToken != "" {
			s.mergeGuestCart(w, r, v)
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !v.countKnown { // a merge has counted
			s.resolveCount(w, r, v)
		}
		if st := stateOf(r.Context()); st != nil && st.visitor == nil {
			st.visitor = v // no copy of the request (see requestState)
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), visitorKey{}, v)))
	})
}

// checkSession finds whose session token is, from the sessions Accounts
// vouched for in the last few seconds (see signedIn) or else from
// Accounts. A token whose session has ended loses its cookie. A token
// that could not be checked is kept in v (with accountsDown) for a
// sign-out, which must not drop the cookie of a session it did not end.
func (s *server) checkSession(w http.ResponseWriter, r *http.Request, v *visitor, token string) {
	if customer, ok := s.signedIn.get(token); ok {
		v.customer, v.token = &customer, token
		return
	}
	if s.accountsOutage.down(time.Now()) {
		v.accountsDown, v.token = true, token
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
	session, err := s.accounts.Session(ctx, token)
	cancel()
	switch bookshop.ErrorCode(err) {
	case "":
		s.signedIn.put(session)
		v.customer, v.token = &session.Customer, token
	case bookshop.NotFound: // ended: unknown, expired or signed out
		s.clearCookie(w, r, sessionCookieName)
	default:
		s.logger.WarnContext(r.Context(), "accounts failed; serving the page as a guest's", "err", err)
		s.accountsOutage.failed(time.Now())
		v.accountsDown, v.token = true, token
	}
}

// mergeGuestCart moves v's guest cart into the customer's cart and drops
// the guest cart cookie. If the Cart service cannot be reached, the cookie
// stays, and the next page tries again. What did not fit (books past the
// cart's limit, copies past a book's) is gone with the guest cart: the
// shopper is told once, on this page if it is one (a GET), else on the
// next page, by way of the loss cookie.
func (s *server) mergeGuestCart(w http.ResponseWriter, r *http.Request, v *visitor) {
	if s.cartOutage.down(time.Now()) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
	defer cancel()
	m, err := s.carts.Merge(ctx, guestCartID(v.guestToken), customerCartID(v.customer.ID))
	if err != nil {
		s.logger.WarnContext(r.Context(), "cart failed; the guest cart is merged later", "err", err)
		if bookshop.ErrorCode(err) == bookshop.Unavailable {
			s.cartOutage.failed(time.Now())
		}
		return
	}
	v.guestToken = ""
	s.clearCookie(w, r, cartCookieName)
	s.setCount(w, r, v, m.Cart.Count)
	if loss := (mergeLoss{dropped: m.DroppedLines, capped: m.CappedLines}); loss != (mergeLoss{}) {
		if r.Method == http.MethodGet {
			v.lost = v.lost.add(loss)
		} else {
			s.setCookie(w, r, lossCookieName, loss.String(), time.Now().Add(lossCookieLifetime))
		}
	}
}

// A merge that could not keep every book of the guest cart leaves, when
// no page shows it at once (the merge was done for a POST, which
// redirects), a cookie that says what was lost: "dropped.capped". The
// next page shows it and drops the cookie. As the count cookie, it only
// says what the page shows.
const (
	lossCookieName     = "bookshop_merge_loss"
	lossCookieLifetime = 10 * time.Minute
)

// mergeLoss is what of a guest cart did not fit in the customer's cart:
// books dropped (the cart was full) and books capped (past MaxQuantity).
type mergeLoss struct{ dropped, capped int }

func (l mergeLoss) add(o mergeLoss) mergeLoss {
	return mergeLoss{dropped: l.dropped + o.dropped, capped: l.capped + o.capped}
}

// String is the loss cookie's value.
func (l mergeLoss) String() string { return strconv.Itoa(l.dropped) + "." + strconv.Itoa(l.capped) }

// parseLoss reads a loss cookie's value.
func parseLoss(value string) (mergeLoss, bool) {
	d, c, ok := strings.Cut(value, ".")
	if !ok {
		return mergeLoss{}, false
	}
	dropped, err1 := strconv.Atoi(d)
	capped, err2 := strconv.Atoi(c)
	if err1 != nil || err2 != nil || dropped < 0 || capped < 0 || dropped > bookshop.MaxCartLines || capped > bookshop.MaxCartLines {
		return mergeLoss{}, false
	}
	return mergeLoss{dropped: dropped, capped: capped}, true
}

// takeLoss moves a loss cookie's news into v, for this page to show, and
// drops the cookie: the notice is shown once.
func (s *server) takeLoss(w http.ResponseWriter, r *http.Request, v *visitor) {
	c, err := r.Cookie(cookieName(lossCookieName, s.isSecure(r)))
	if err != nil {
		return
	}
	s.clearCookie(w, r, lossCookieName)
	if loss, ok := parseLoss(c.Value); ok {
		v.lost = v.lost.add(loss)
	}
}

// notice is what the shopper is told of l: "" for no loss.
func (l mergeLoss) notice() string {
	var parts []string
	switch {
	case l.dropped == 1:
		parts = append(parts, fmt.Sprintf("1 book from your guest cart did not fit: a cart holds %d different books at most.", bookshop.MaxCartLines))
	case l.dropped > 1:
		parts = append(parts, fmt.Sprintf("%d books from your guest cart did not fit: a cart holds %d different books at most.", l.dropped, bookshop.MaxCartLines))
	}
	switch {
	case l.capped == 1:
		parts = append(parts, fmt.Sprintf("1 book from your guest cart was capped at %d copies, the most a cart holds of one book.", bookshop.MaxQuantity))
	case l.capped > 1:
		parts = append(parts, fmt.Sprintf("%d books from your guest cart were capped at %d copies, the most a cart holds of one book.", l.capped, bookshop.MaxQuantity))
	}
	return strings.Join(parts, " ")
}

// The header's count of the cart comes from a cookie the Marketplace sets
// whenever it learns the count (a change of the cart, the cart page, a
// merge), so that a page costs no call to the Cart: its value is the
// count and a tag of the cart it counts (a sign-in, which changes the
// cart, makes it stale). It lasts countCookieLifetime, after which the
// next page asks the Cart again: a change made in another browser of the
// same customer shows within that time. It is only what the header shows:
// nothing reads it to decide anything, so a shopper who edits it fools
// only their own header.
const (
	countCookieName     = "bookshop_count"
	countCookieLifetime = time.Minute
)

// resolveCount finds the count of v's cart for the header: from the count
// cookie when it is of this cart, else from the Cart service, and then
// sets the cookie (unless w is nil).
func (s *server) resolveCount(w http.ResponseWriter, r *http.Request, v *visitor) {
	id := v.cartID()
	if id == "" && v.accountsDown {
		// A session Accounts could not vouch for: whose cart it is, and so
		// its count, cannot be known; a guest's empty one it is not.
		v.cartDown = true
		return
	}
	if id == "" {
		v.count, v.countKnown = 0, true
		return
	}
	if c, err := r.Cookie(cookieName(countCookieName, s.isSecure(r))); err == nil {
		if n, ok := parseCount(c.Value, id); ok {
			v.count, v.countKnown = n, true
			return
		}
	}
	if s.cartOutage.down(time.Now()) {
		v.cartDown = true
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
	n, err := s.carts.Count(ctx, id)
	cancel()
	if err != nil {
		s.logger.WarnContext(r.Context(), "cart failed; serving the page without the count", "err", err)
		if bookshop.ErrorCode(err) == bookshop.Unavailable {
			s.cartOutage.failed(time.Now())
		}
		v.cartDown = true
		return
	}
	if w != nil {
		s.setCount(w, r, v, n)
	}
	v.count, v.countKnown = n, true
}

// setCount records n as the count of v's cart: for this page's header,
// and in the count cookie for the next pages'.
func (s *server) setCount(w http.ResponseWriter, r *http.Request, v *visitor, n int) {
	v.count, v.countKnown, v.cartDown = n, true, false
	s.setCookie(w, r, countCookieName, strconv.Itoa(n)+"."+cartTag(v.cartID()), time.Now().Add(countCookieLifetime))
}

// parseCount reads a count cookie's value, if it counts cart id.
func parseCount(value, id string) (int, bool) {
	count, tag, ok := strings.Cut(value, ".")
	if !ok || tag != cartTag(id) {
		return 0, false
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 || n > bookshop.MaxCartLines*bookshop.MaxQuantity {
		return 0, false
	}
	return n, true
}

// cartTag names a cart in the count cookie without spelling its id.
func cartTag(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// isSecure reports whether r came over HTTPS: to the Marketplace itself,
// or, behind trusted proxies, to the nearest of them as it says in
// X-Forwarded-Proto.
func (s *server) isSecure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.trustedProxies > 0 && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// cookieName is the name of a cookie of the site: with the __Host- prefix,
// which browsers accept only from HTTPS, for the whole site, and without a
// Domain, when secure.
func cookieName(name string, secure bool) string {
	if secure {
		return "__Host-" + name
	}
	return name
}

// setCookie sets one of the site's cookies, value until expires.
func (s *server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	secure := s.isSecure(r)
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName(name, secure),
		Value:    value,
		Path:     "/",
		Expires:  expires,
		MaxAge:   int(time.Until(expires).Seconds()),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// clearCookie tells the browser to drop one of the site's cookies.
func (s *server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	secure := s.isSecure(r)
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName(name, secure),
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// newToken returns 32 random bytes in base64url: a guest cart's token.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenLen is the length of the tokens of the site's cookies: 32 bytes,
// in base64url without padding, as newToken makes them and Accounts makes
// sessions'.
var tokenLen = base64.RawURLEncoding.EncodedLen(32)

// validToken reports whether s may be a token of ours: tokenLen characters
// of base64url. Anything else in a cookie is ignored without a call.
func validToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// accountBar returns the part of the header that depends on the visitor:
// who is signed in, with links to sign in or to the account, and the
// number of books in the cart (asked of the Cart service, which answers it
// from its own database alone). When a service cannot answer, the header
// says so in place of what it would show; after a merge that lost books,
// a notice follows it, once. A page served outside
// withVisitor (a request refused before it: past the rate limit, or from
// another site) knows no visitor: it gets a bar that names no one and
// counts nothing, rather than a guest's "Sign in" and "Cart 0" that a
// signed-in customer would take for a lost cart.
func (s *server) accountBar(r *http.Request) template.HTML {
	v, ok := foundVisitor(r.Context())
	if !ok {
		return s.pages.unknownBar
	}
	var bar accountBar
	switch {
	case v.customer != nil:
		bar.Name = v.customer.Name
	case v.accountsDown:
		bar.AccountsDown = true
	}
	if !v.countKnown && !v.cartDown {
		s.resolveCount(nil, r, v) // a page answering a POST
	}
	bar.Count, bar.CartDown = v.count, v.cartDown
	html := s.pages.guestBar // the same for every guest with no cart
	if bar != (accountBar{}) {
		var err error
		if html, err = s.pages.bars.get(bar); err != nil {
			s.logger.ErrorContext(r.Context(), "render the account bar", "err", err)
			return ""
		}
	}
	if notice := v.lost.notice(); notice != "" {
		n, err := renderFragment(s.pages.header, "header-notice", notice)
		if err != nil {
			s.logger.ErrorContext(r.Context(), "render the merge notice", "err", err)
			return html
		}
		html += n
	}
	return html
}

// The bounds of the account bars kept: a number, and the bytes of their
// text (each bar's, and the name it is kept by). A bar takes some 200
// bytes; one of a name of 60 characters that escape to 5 bytes each
// (customers choose their names) some 500, and 900 with its key and its
// place in the map, which the bytes bound to 2 MiB (docs/capacity.md).
const (
	maxAccountBars     = 10_000
	maxAccountBarBytes = 2 << 20
)

// accountBars renders the header's account bar, and keeps what it
// rendered: a customer's bar is the same from page to page until the cart
// changes. Past maxAccountBars bars or maxAccountBarBytes it starts again
// empty. It is safe for concurrent use.
type accountBars struct {
	t *template.Template

	mu    sync.RWMutex
	bars  map[accountBar]template.HTML
	bytes int // of the bars and of their names
}

func (c *accountBars) get(bar accountBar) (template.HTML, error) {
	c.mu.RLock()
	html, ok := c.bars[bar]
	c.mu.RUnlock()
	if ok {
		return html, nil
	}
	html, err := renderFragment(c.t, "account-bar", bar)
	if err != nil {
		return "", err
	}
	n := len(html) + len(bar.Name)
	c.mu.Lock()
	if c.bars == nil || len(c.bars) >= maxAccountBars || c.bytes+n > maxAccountBarBytes {
		c.bars, c.bytes = make(map[accountBar]template.HTML), 0
	}
	if _, ok := c.bars[bar]; !ok {
		c.bars[bar] = html
		c.bytes += n
	}
	c.mu.Unlock()
	return html, nil
}

// accountBar is the data of the header's "account-bar" fragment.
type accountBar struct {
	// Unknown is set for a page served before the visitor is known; the
	// other fields are then unset.
	Unknown      bool
	Name         string // the customer's name; "" for a guest
	AccountsDown bool
	Count        int
	CartDown     bool
}
