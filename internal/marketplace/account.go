package marketplace

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Messages of the account pages. A failed sign-in says the same whether
// the email has an account or not.
const (
	messageWrongPassword = "The email or the password is wrong."
	messageAccountsDown  = "Signing in is unavailable right now. Please try again in a moment."
	messageAccountExists = "An account with this email already exists. Sign in instead."
	messageTooManyTries  = "Too many failed attempts. Please try again in %s."
	messageTooManySignUp = "Too many accounts were opened from your network lately. Please try again in %s."
	messageSignOutFailed = "We could not sign you out just now, so you are still signed in. Please try again in a moment."
	messageSignOutByLink = "Signing out takes the button below, not a link, so that no other site can sign you out."
	messageNotSignedIn   = "You are not signed in."
)

// signPage is the data of signin.html, for signing in or up.
type signPage struct {
	Layout  layout
	Heading string
	SignUp  bool
	Message string
	Email   string // kept when the form comes back with a message
	Name    string
	Next    string // a path of the site to go to once signed in
	// Errors are what is wrong with the form's fields, by name ("email",
	// "name", "password"), shown beside each.
	Errors map[string]string
}

// signFields are the fields of the sign-in and sign-up forms, by the name
// the Accounts service gives them at the start of its messages, with the
// label the page gives them.
var signFields = map[string]string{"email": "Email", "name": "Name", "password": "Password"}

// signFieldErrors returns the field of msg, a message of the Accounts
// service ("password: at least 10 characters, got 5"), and what it says
// for the page beside it; ok is false for a message of no field.
func signFieldErrors(msg string) (errs map[string]string, ok bool) {
	field, rule, found := strings.Cut(msg, ": ")
	label, known := signFields[field]
	if !found || !known || rule == "" {
		return nil, false
	}
	return map[string]string{field: label + ": " + rule + "."}, true
}

// accountPage is the data of account.html.
type accountPage struct {
	Layout   layout
	Customer bookshop.Customer
}

// handleSignIn serves the sign-in form (GET) and signs in (POST): a new
// session, whose token goes in the session cookie, replacing any other
// (no session fixation), then a redirect to the page the shopper came
// from. A wrong email or password gets 401 and one message for both;
// too many failures, 429 with Retry-After.
func (s *server) handleSignIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			s.renderSign(w, r, http.StatusOK, signPage{Next: nextFrom(r)})
			return
		}
		if status, msg := readForm(r); status != 0 {
			s.renderSign(w, r, status, signPage{Message: msg})
			return
		}
		page := signPage{Email: r.PostForm.Get("email"), Next: localPath(r.PostForm.Get("next"))}
		ctx, cancel := context.WithTimeout(r.Context(), s.signInTimeout())
		defer cancel()
		session, err := s.accounts.SignIn(ctx, page.Email, r.PostForm.Get("password"), clientKey(r, s.trustedProxies))
		if s.signFailed(w, r, page, err) {
			return
		}
		s.startSession(w, r, session, page.Next)
	})
}

// handleSignUp serves the sign-up form (GET) and opens an account (POST),
// signed in at once.
func (s *server) handleSignUp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			s.renderSign(w, r, http.StatusOK, signPage{SignUp: true, Next: nextFrom(r)})
			return
		}
		if status, msg := readForm(r); status != 0 {
			s.renderSign(w, r, status, signPage{SignUp: true, Message: msg})
			return
		}
		form := signUpForm(r.PostForm)
		page := signPage{SignUp: true, Email: form.Email, Name: form.Name, Next: localPath(r.PostForm.Get("next"))}
		ctx, cancel := context.WithTimeout(r.Context(), s.signInTimeout())
		defer cancel()
		session, err := s.accounts.SignUp(ctx, form, clientKey(r, s.trustedProxies))
		if s.signFailed(w, r, page, err) {
			return
		}
		s.startSession(w, r, session, page.Next)
	})
}

// signUpForm reads the fields of the sign-up form. What the form holds is
// checked by the Accounts service, not here: one set of rules.
func signUpForm(form url.Values) bookshop.NewAccount {
	return bookshop.NewAccount{
		Email:    form.Get("email"),
		Name:     form.Get("name"),
		Password: form.Get("password"),
	}
}

// signInTimeout bounds a sign-in or a sign-up: the Accounts service hashes
// the password on purpose slowly, and may wait for its turn to.
func (s *server) signInTimeout() time.Duration { return 3 * s.callTimeout }

// signFailed answers a sign-in or sign-up that failed with err, and
// reports whether it did; a nil err is not a failure.
func (s *server) signFailed(w http.ResponseWriter, r *http.Request, page signPage, err error) bool {
	switch bookshop.ErrorCode(err) {
	case "":
		return false
	case bookshop.Invalid:
		page.Message = bookshop.ErrorMessage(err)
		if errs, ok := signFieldErrors(page.Message); ok {
			page.Errors, page.Message = errs, messageFixFields
		}
		s.renderSign(w, r, http.StatusBadRequest, page)
	case bookshop.Unauthenticated:
		page.Message = messageWrongPassword
		s.renderSign(w, r, http.StatusUnauthorized, page)
	case bookshop.Exists:
		page.Message = messageAccountExists
		s.renderSign(w, r, http.StatusConflict, page)
	case bookshop.Exhausted:
		wait := max(1, int(math.Ceil(bookshop.RetryAfter(err).Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		page.Message = fmt.Sprintf(messageTooManyTries, waitText(wait))
		if page.SignUp {
			page.Message = fmt.Sprintf(messageTooManySignUp, waitText(wait))
		}
		s.renderSign(w, r, http.StatusTooManyRequests, page)
	default:
		s.logger.WarnContext(r.Context(), "accounts failed; cannot sign in", "err", err)
		page.Message = messageAccountsDown
		s.renderSign(w, r, http.StatusServiceUnavailable, page)
	}
	return true
}

// waitText says a wait of seconds in words: "a minute", "12 minutes".
func waitText(seconds int) string {
	switch minutes := (seconds + 59) / 60; {
	case seconds < 60:
		return strconv.Itoa(seconds) + " seconds"
	case minutes == 1:
		return "a minute"
	default:
		return strconv.Itoa(minutes) + " minutes"
	}
}

// startSession sets the session cookie of a new session and sends the
// shopper on to next: a guest cart is merged on that next page. A session
// the browser held before (signing in again, or as someone else) is ended
// first, so that a sign-in never leaves a session behind.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, session bookshop.Session, next string) {
	if old := visitorOf(r).token; old != "" && old != session.Token {
		s.signedIn.forget(old)
		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
		if err := s.accounts.SignOut(ctx, old); err != nil {
			s.logger.WarnContext(r.Context(), "accounts failed; the session before the sign-in ends at its expiry", "err", err)
		}
		cancel()
	}
	s.setCookie(w, r, sessionCookieName, session.Token, session.Expires)
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// renderSign serves the sign-in or sign-up page.
func (s *server) renderSign(w http.ResponseWriter, r *http.Request, status int, page signPage) {
	page.Heading = "Sign in"
	if page.SignUp {
		page.Heading = "Create an account"
	}
	page.Layout = s.layout(r, page.Heading+" · "+siteTitle, noCategory)
	s.render(w, r, status, s.pages.signIn, page)
}

// handleSignOut ends the session (POST only): the Accounts service
// revokes it, the cookies go, and the shopper is sent home. If Accounts
// cannot be reached the session would live on, so the shopper is told,
// with 503, and stays signed in: a sign-out that only forgot the cookie
// would leave a session that whoever copied it could still use.
//
// Any other method changes nothing: it answers 405 with the error page
// and, to a shopper who holds a session (who opened /signout from a link
// or typed it), the sign-out button.
func (s *server) handleSignOut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			page := errorPage{Heading: http.StatusText(http.StatusMethodNotAllowed), Message: messageNotSignedIn}
			if visitorOf(r).token != "" {
				page.Message, page.SignOut = messageSignOutByLink, true
			}
			page.Layout = s.layout(r, "Sign out · "+siteTitle, noCategory)
			s.render(w, r, http.StatusMethodNotAllowed, s.pages.error, page)
			return
		}
		if v := visitorOf(r); v.token != "" {
			s.signedIn.forget(v.token)
			ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
			defer cancel()
			if err := s.accounts.SignOut(ctx, v.token); err != nil {
				s.logger.WarnContext(r.Context(), "accounts failed; cannot sign out", "err", err)
				s.renderError(w, r, http.StatusServiceUnavailable, messageSignOutFailed)
				return
			}
		}
		s.clearCookie(w, r, sessionCookieName)
		s.clearCookie(w, r, countCookieName)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

// handleAccount serves the signed-in customer's account page; a guest is
// sent to sign in first.
func (s *server) handleAccount() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := visitorOf(r)
		if v.customer == nil {
			if v.accountsDown {
				s.renderError(w, r, http.StatusServiceUnavailable, messageAccountsDown)
				return
			}
			http.Redirect(w, r, "/signin?next=%2Faccount", http.StatusSeeOther)
			return
		}
		s.render(w, r, http.StatusOK, s.pages.account, accountPage{
			Layout:   s.layout(r, "Your account · "+siteTitle, noCategory),
			Customer: *v.customer,
		})
	})
}

// nextFrom returns where a sign-in form sends the shopper once signed in:
// its "next" query parameter, or else the page of this site that linked
// to it (the Referer, which the site's Referrer-Policy sends in full to
// itself).
func nextFrom(r *http.Request) string {
	if next := localPath(r.URL.Query().Get("next")); next != "" {
		return next
	}
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || ref.Path == "/signin" || ref.Path == "/signup" {
		return ""
	}
	return localPath(ref.RequestURI())
}

// localPath returns p when it is a path of this site ("/cart"), and ""
// for anything that could send the shopper elsewhere: an absolute URL, a
// scheme-relative "//host", a backslash some browsers read as a slash, or
// control characters.
func localPath(p string) string {
	if len(p) > 1024 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return p
}
