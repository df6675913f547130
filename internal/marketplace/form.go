package marketplace

import (
	"errors"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// The messages of a form that cannot be used, on every page that takes
// one.
const (
	messageBadForm      = "The form could not be read. Please try again."
	messageFormTooLarge = "The form is too large. Please shorten what you typed and send it again."
)

// readForm parses r's form: the url-encoded fields of its body, which the
// middleware limits to maxBodyBytes, and of its query. It returns 0 and
// "" when the form can be used, and otherwise the status and message to
// answer with: 413 for a body past the limit, which sending it again
// cannot mend, and 400 for one that is malformed or holds text that is
// not UTF-8 (see validText).
func readForm(r *http.Request) (status int, message string) {
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return http.StatusRequestEntityTooLarge, messageFormTooLarge
		}
		return http.StatusBadRequest, messageBadForm
	}
	if !validText(r.PostForm) {
		return http.StatusBadRequest, messageBadForm
	}
	return 0, ""
}

// validText reports whether every value of form is valid UTF-8, which is
// all a contract's string may hold: a form that is not was not sent by a
// browser from our page, and gets 400 without a call.
func validText(form url.Values) bool {
	for _, values := range form {
		for _, v := range values {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}
