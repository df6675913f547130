package pgdb

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted stands for a password that Redact took out.
const redacted = "xxxxx"

// The passwords of a connection string in key=value form: password=...,
// quoted or not, and the password part of a URL that does not parse.
var (
	keyValuePassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)
	userinfoPassword = regexp.MustCompile(`(://[^:/@\s]*:).*@`)
)

// Redact returns the connection string s with every password replaced by
// xxxxx: the one in a URL's user information, a password= parameter of its
// query, and password=... in key=value form. Every message and log line
// that names a database names it so. A URL that does not parse is
// redacted as text, erring towards hiding more.
func Redact(s string) string {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err == nil {
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

// hasPassword reports whether q has a password parameter, in any case.
func hasPassword(q url.Values) bool {
	for k := range q {
		if strings.EqualFold(k, "password") {
			return true
		}
	}
	return false
}
