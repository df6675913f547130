package pgdb

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted stands for a password that Redact took out.
const redacted = "xxxxx"

// The passwords of a connection string in key=value form: password=...,
// quoted or not, and the password part of a URL that does not parse. A
// URL is told by its scheme in any case, after any spaces: pgx takes
// only "postgres://" and "postgresql://" as URLs, and says that anything
// else does not parse, which Redact must hide all the same.
var (
	keyValuePassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)
	userinfoPassword = regexp.MustCompile(`(://[^:/@\s]*:).*@`)
	urlScheme        = regexp.MustCompile(`(?i)^\s*postgres(?:ql)?://`)
)

// Redact returns the connection string s with every password replaced by
// xxxxx: the one in a URL's user information, a password= parameter of its
// query, and password=... in key=value form. Every message and log line
// that names a database names it so. A URL that does not parse, or that
// parses with an @ past its user information (a password with an @ and a
// #, / or ? not percent-encoded, which url.Parse cuts at the #, / or ?),
// is redacted as text: everything between the user's colon and the last
// @ goes, erring towards hiding more.
func Redact(s string) string {
	if urlScheme.MatchString(s) {
		u, err := url.Parse(strings.TrimSpace(s))
		if err == nil && !atPastUserinfo(u) {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), redacted)
			}
			if q := u.Query(); hasPassword(q) {
				for k := range q {
					if strings.EqualFold(k, "password") {
						q[k] = []string{redacted}
					}
				}
				u.RawQuery = q.Encode()
			}
			return u.String()
		}
		s = userinfoPassword.ReplaceAllString(s, "${1}"+redacted+"@")
	}
	return keyValuePassword.ReplaceAllString(s, "${1}"+redacted)
}

// passwordCut reports whether s is a URL that parses with an @ past its
// user information (see atPastUserinfo): one whose password url.Parse,
// and pgx, cut short, taking its rest for the host or the path.
func passwordCut(s string) bool {
	if !urlScheme.MatchString(s) {
		return false
	}
	u, err := url.Parse(strings.TrimSpace(s))
	return err == nil && atPastUserinfo(u)
}

// atPastUserinfo reports whether u has an @, not percent-encoded, in its
// host, path, fragment or a query parameter's name: the sign of a
// password that holds a #, / or ? after an @, not percent-encoded, which
// url.Parse read as the end of the user information, so that the rest of
// the password is in those parts. (A database name with an @ is taken
// for one too, unless percent-encoded; a query parameter's value may
// hold one, as application_name=a@b.)
func atPastUserinfo(u *url.URL) bool {
	if strings.Contains(u.Host, "@") || strings.Contains(u.EscapedPath(), "@") || strings.Contains(u.EscapedFragment(), "@") {
		return true
	}
	for param := range strings.SplitSeq(u.RawQuery, "&") {
		if name, _, _ := strings.Cut(param, "="); strings.Contains(name, "@") {
			return true
		}
	}
	return false
}

// hasPassword reports whether q has a password parameter, in any case.
func hasPassword(q url.Values) bool {
	for k := range q {
		if strings.EqualFold(k, "password") {
			return true
		}
	}
	return false
}
