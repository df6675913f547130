package accounts

import (
	"bufio"
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The rules of an account.
const (
	// MaxEmailLen is the longest email address, in bytes once trimmed
	// (RFC 5321's limit on a path, less its angle brackets).
	MaxEmailLen = 254
	// maxLocalLen is the longest part of an address before the @ (RFC
	// 5321).
	maxLocalLen = 64
	// MaxNameLen is the longest name, in characters once trimmed.
	MaxNameLen = 60
	// MinPasswordLen and MaxPasswordLen bound a password, in characters
	// once normalized. The upper bound keeps the cost of hashing one
	// bounded, whatever a client sends.
	MinPasswordLen = 10
	MaxPasswordLen = 128
)

// NormalizeAccount returns a with its email trimmed, in Unicode NFC and in
// lower case, its name trimmed and in NFC, and its password in NFKC (so
// that the same password typed on two keyboards that compose accents
// differently is the same password; NIST SP 800-63B), after checking every
// rule of a new account. Errors: Invalid, with a message that says which
// rule a field breaks and never repeats the password.
func NormalizeAccount(a bookshop.NewAccount) (bookshop.NewAccount, error) {
	email, err := normalizeEmail(a.Email)
	if err != nil {
		return bookshop.NewAccount{}, err
	}
	name, err := normalizeName(a.Name)
	if err != nil {
		return bookshop.NewAccount{}, err
	}
	password, err := normalizePassword(a.Password)
	if err != nil {
		return bookshop.NewAccount{}, err
	}
	// The same words as the email or the name, in any case, are the first
	// guesses of anyone who knows either.
	local, _, _ := strings.Cut(email, "@")
	lower := strings.ToLower(password)
	if lower == email || lower == local || lower == strings.ToLower(name) {
		return bookshop.NewAccount{}, bookshop.Errorf(bookshop.Invalid, "password: must not be your email or your name")
	}
	if commonPassword(lower) {
		return bookshop.NewAccount{}, bookshop.Errorf(bookshop.Invalid, "password: it is one of the most common passwords, which are guessed first: choose another")
	}
	return bookshop.NewAccount{Email: email, Name: name, Password: password}, nil
}

// NormalizeEmail returns email as accounts keep it: trimmed, in Unicode
// NFC and in lower case. It checks nothing: sign-in looks up whatever it
// is given, and answers a malformed address as it answers an unknown one.
func NormalizeEmail(email string) string {
	return strings.ToLower(norm.NFC.String(strings.TrimSpace(email)))
}

// normalizeEmail normalizes email (NormalizeEmail) and checks that it is
// an address: at most MaxEmailLen bytes, one @ with 1 to 64 bytes before
// it, and a domain of at least two labels, none empty, with no spaces,
// control characters or the characters that RFC 5322 reserves for quoting
// and lists. It does not check that the address receives mail.
func normalizeEmail(email string) (string, error) {
	if !utf8.ValidString(email) {
		return "", bookshop.Errorf(bookshop.Invalid, "email: not valid UTF-8")
	}
	e := NormalizeEmail(email)
	invalid := func(why string) error {
		return bookshop.Errorf(bookshop.Invalid, "email: %s", why)
	}
	switch {
	case e == "":
		return "", invalid("required")
	case len(e) > MaxEmailLen:
		return "", invalid("at most 254 characters")
	case strings.Count(e, "@") != 1:
		return "", invalid("want one @, as in name@example.com")
	}
	for _, r := range e {
		if unicode.IsSpace(r) || unicode.IsControl(r) || forbidden(r) || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return "", invalid("must not hold spaces, control characters or any of \"(),:;<>[\\]")
		}
	}
	local, domain, _ := strings.Cut(e, "@")
	switch {
	case local == "":
		return "", invalid("want a name before the @, as in name@example.com")
	case len(local) > maxLocalLen:
		return "", invalid("at most 64 characters before the @")
	case !strings.Contains(domain, "."):
		return "", invalid("want a domain with a dot after the @, as in name@example.com")
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return "", invalid("the domain after the @ is not a domain name")
		}
	}
	return e, nil
}

// normalizeName trims name, puts it in NFC, and checks it: 1 to
// MaxNameLen characters, none of them a control, private-use, line or
// paragraph separator, or bidirectional control character (which would let
// a name show as something else), and one at least that shows
// (bookshop.Visible: a name of zero-width spaces reads as none).
func normalizeName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", bookshop.Errorf(bookshop.Invalid, "name: not valid UTF-8")
	}
	n := strings.TrimSpace(norm.NFC.String(name))
	switch count := utf8.RuneCountInString(n); {
	case count == 0:
		return "", bookshop.Errorf(bookshop.Invalid, "name: required")
	case count > MaxNameLen:
		return "", bookshop.Errorf(bookshop.Invalid, "name: at most %d characters, got %d", MaxNameLen, count)
	}
	for _, r := range n {
		if forbidden(r) {
			return "", bookshop.Errorf(bookshop.Invalid, "name: must not hold control or invisible formatting characters")
		}
	}
	if !bookshop.Visible(n) {
		return "", bookshop.Errorf(bookshop.Invalid, "name: shows nothing: it needs a letter, a digit or a sign")
	}
	return n, nil
}

// normalizePassword puts password in NFKC and checks its length. It does
// not trim it: spaces are characters of a password like any other.
func normalizePassword(password string) (string, error) {
	if !utf8.ValidString(password) {
		return "", bookshop.Errorf(bookshop.Invalid, "password: not valid UTF-8")
	}
	// Bound the work of normalizing before doing it: NFKC may lengthen a
	// string, but a string this long cannot pass in any case.
	if len(password) > 4*MaxPasswordLen*utf8.UTFMax {
		return "", bookshop.Errorf(bookshop.Invalid, "password: at most %d characters", MaxPasswordLen)
	}
	p := norm.NFKC.String(password)
	switch count := utf8.RuneCountInString(p); {
	case count < MinPasswordLen:
		return "", bookshop.Errorf(bookshop.Invalid, "password: at least %d characters, got %d", MinPasswordLen, count)
	case count > MaxPasswordLen:
		return "", bookshop.Errorf(bookshop.Invalid, "password: at most %d characters, got %d", MaxPasswordLen, count)
	}
	return p, nil
}

// normalizeSignInPassword is normalizePassword without its errors: the
// password to hash at sign-in, and false when it cannot be any account's,
// so that no hash need be spent on it.
func normalizeSignInPassword(password string) (string, bool) {
	p, err := normalizePassword(password)
	return p, err == nil
}

// forbidden reports whether r may appear in no name or address: a control
// character, a surrogate or private-use code point, a line or paragraph
// separator, a bidirectional control, or the replacement character.
func forbidden(r rune) bool {
	switch {
	case unicode.In(r, unicode.Cc, unicode.Cs, unicode.Co, unicode.Zl, unicode.Zp):
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
		return true // bidirectional controls
	case r == utf8.RuneError:
		return true
	}
	return false
}

//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords is the set of commonPasswordsFile, in lower case, built
// on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 512)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
})

// commonPassword reports whether lower, a password in lower case, is in
// the embedded list of common passwords.
func commonPassword(lower string) bool {
	_, ok := commonPasswords()[lower]
	return ok
}
