package accounts_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// TestNormalizeAccount checks the rules of a new account: what each field
// becomes, and what each refuses, with the words of the refusal.
func TestNormalizeAccount(t *testing.T) {
	const pw = "correct-zebra-staple" // a password that passes
	ok := func(email, name, password string) bookshop.NewAccount {
		return bookshop.NewAccount{Email: email, Name: name, Password: password}
	}
	tests := []struct {
		name    string
		in      bookshop.NewAccount
		want    bookshop.NewAccount
		wantErr string // a part of the message; "" for no error
	}{
		{"plain", ok("ada@example.com", "Ada", pw), ok("ada@example.com", "Ada", pw), ""},
		{"email trimmed and lower-cased", ok("  Ada.Lovelace@Example.COM\t", "Ada", pw), ok("ada.lovelace@example.com", "Ada", pw), ""},
		{"name trimmed", ok("ada@example.com", "  Ada Lovelace \n", pw), ok("ada@example.com", "Ada Lovelace", pw), ""},
		{"name in NFC", ok("e@example.com", "Rene\u0301e", pw), ok("e@example.com", "Renée", pw), ""},
		{"name of 60 characters", ok("a@example.com", strings.Repeat("é", 60), pw), ok("a@example.com", strings.Repeat("é", 60), pw), ""},
		{"name with emoji", ok("a@example.com", "Zoë 👩‍💻", pw), ok("a@example.com", "Zoë 👩‍💻", pw), ""},
		{"password not trimmed", ok("a@example.com", "A", "  spaced out pass  "), ok("a@example.com", "A", "  spaced out pass  "), ""},
		{"password in NFKC", ok("a@example.com", "A", "ﬁngerprints-42"), ok("a@example.com", "A", "fingerprints-42"), ""},
		{"password of 10 characters", ok("a@example.com", "A", "xk4-Lm9#q2"), ok("a@example.com", "A", "xk4-Lm9#q2"), ""},
		{"password of 128 characters", ok("a@example.com", "A", strings.Repeat("ab7", 42)+"xy"), ok("a@example.com", "A", strings.Repeat("ab7", 42)+"xy"), ""},
		{"password of 10 characters in 40 bytes", ok("a@example.com", "A", strings.Repeat("🔑", 10)), ok("a@example.com", "A", strings.Repeat("🔑", 10)), ""},
		{"international address", ok("josé@correo.españa.es", "José", pw), ok("josé@correo.españa.es", "José", pw), ""},
		{"plus address", ok("ada+shop@example.co.uk", "Ada", pw), ok("ada+shop@example.co.uk", "Ada", pw), ""},

		{"no email", ok("", "Ada", pw), bookshop.NewAccount{}, "email: required"},
		{"spaces only", ok("   ", "Ada", pw), bookshop.NewAccount{}, "email: required"},
		{"no @", ok("ada.example.com", "Ada", pw), bookshop.NewAccount{}, "want one @"},
		{"two @", ok("ada@home@example.com", "Ada", pw), bookshop.NewAccount{}, "want one @"},
		{"nothing before @", ok("@example.com", "Ada", pw), bookshop.NewAccount{}, "a name before the @"},
		{"no dot in domain", ok("ada@localhost", "Ada", pw), bookshop.NewAccount{}, "a domain with a dot"},
		{"empty label", ok("ada@example..com", "Ada", pw), bookshop.NewAccount{}, "not a domain name"},
		{"trailing dot", ok("ada@example.com.", "Ada", pw), bookshop.NewAccount{}, "not a domain name"},
		{"label starts with -", ok("ada@-example.com", "Ada", pw), bookshop.NewAccount{}, "not a domain name"},
		{"space inside", ok("ada lovelace@example.com", "Ada", pw), bookshop.NewAccount{}, "must not hold spaces"},
		{"angle brackets", ok("<ada@example.com>", "Ada", pw), bookshop.NewAccount{}, "must not hold spaces"},
		{"control character", ok("ada\x00@example.com", "Ada", pw), bookshop.NewAccount{}, "must not hold spaces"},
		{"local part of 65", ok(strings.Repeat("a", 65)+"@example.com", "Ada", pw), bookshop.NewAccount{}, "at most 64 characters before the @"},
		{"email of 255", ok(strings.Repeat("a", 60)+"@"+strings.Repeat("b", 190)+".com", "Ada", pw), bookshop.NewAccount{}, "at most 254"},
		{"email not UTF-8", ok("ada\xff@example.com", "Ada", pw), bookshop.NewAccount{}, "email: not valid UTF-8"},

		{"no name", ok("a@example.com", " \t", pw), bookshop.NewAccount{}, "name: required"},
		{"a name that shows nothing", ok("a@example.com", "\u200b\u3164", pw), bookshop.NewAccount{}, "name: shows nothing"},
		{"name of 61", ok("a@example.com", strings.Repeat("n", 61), pw), bookshop.NewAccount{}, "name: at most 60 characters, got 61"},
		{"name with a newline", ok("a@example.com", "Ada\nLovelace", pw), bookshop.NewAccount{}, "name: must not hold control"},
		{"name with a right-to-left override", ok("a@example.com", "Ada\u202eecalevoL", pw), bookshop.NewAccount{}, "name: must not hold control"},
		{"name with a line separator", ok("a@example.com", "Ada\u2028Lovelace", pw), bookshop.NewAccount{}, "name: must not hold control"},
		{"name not UTF-8", ok("a@example.com", "Ad\xc3", pw), bookshop.NewAccount{}, "name: not valid UTF-8"},

		{"password of 9", ok("a@example.com", "A", "xk4-Lm9#q"), bookshop.NewAccount{}, "password: at least 10 characters, got 9"},
		{"password of 9 in 36 bytes", ok("a@example.com", "A", strings.Repeat("🔑", 9)), bookshop.NewAccount{}, "password: at least 10 characters, got 9"},
		{"password of 129", ok("a@example.com", "A", strings.Repeat("x7", 64)+"z"), bookshop.NewAccount{}, "password: at most 128 characters, got 129"},
		{"password of megabytes", ok("a@example.com", "A", strings.Repeat("x", 1<<20)), bookshop.NewAccount{}, "password: at most 128 characters"},
		{"password not UTF-8", ok("a@example.com", "A", "abcdefghij\xff"), bookshop.NewAccount{}, "password: not valid UTF-8"},
		{"common password", ok("a@example.com", "A", "password123"), bookshop.NewAccount{}, "one of the most common passwords"},
		{"common password in capitals", ok("a@example.com", "A", "QwertyUiop"), bookshop.NewAccount{}, "one of the most common passwords"},
		{"common password, fullwidth digits", ok("a@example.com", "A", "１２３４５６７８９０"), bookshop.NewAccount{}, "one of the most common passwords"},
		{"the service's name", ok("a@example.com", "A", "Bookshop2025"), bookshop.NewAccount{}, "one of the most common passwords"},
		{"password is the email", ok("ada.lovelace@example.com", "Ada", "Ada.Lovelace@example.com"), bookshop.NewAccount{}, "must not be your email or your name"},
		{"password is the local part", ok("ada.lovelace@example.com", "Ada", "ADA.LOVELACE"), bookshop.NewAccount{}, "must not be your email or your name"},
		{"password is the name", ok("a@example.com", "Ada Lovelace", "ada lovelace"), bookshop.NewAccount{}, "must not be your email or your name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := accounts.NormalizeAccount(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeAccount(%+q) = %+q, %v; want %+q", tt.in, got, err, tt.want)
				}
				return
			}
			if bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tt.wantErr) {
				t.Fatalf("NormalizeAccount(%.80q) = %v, want Invalid with %q", tt.in, err, tt.wantErr)
			}
			if got != (bookshop.NewAccount{}) {
				t.Errorf("NormalizeAccount(%.80q) returned %.80q with its error, want nothing", tt.in, got)
			}
		})
	}
}

// ruleMessage is every message NormalizeAccount may refuse with, its
// numbers written N: nothing of what the caller gave is repeated.
var ruleMessage = regexp.MustCompile(`^(` + strings.Join([]string{
	`email: required`,
	`email: not valid UTF-N`,
	`email: at most N characters`,
	`email: want one @, as in name@example\.com`,
	`email: must not hold spaces, control characters or any of "\(\),:;<>\[\\\]`,
	`email: want a name before the @, as in name@example\.com`,
	`email: at most N characters before the @`,
	`email: want a domain with a dot after the @, as in name@example\.com`,
	`email: the domain after the @ is not a domain name`,
	`name: not valid UTF-N`,
	`name: required`,
	`name: at most N characters, got N`,
	`name: must not hold control or invisible formatting characters`,
	`name: shows nothing: it needs a letter, a digit or a sign`,
	`password: not valid UTF-N`,
	`password: at most N characters`,
	`password: at least N characters, got N`,
	`password: at most N characters, got N`,
	`password: must not be your email or your name`,
	`password: it is one of the most common passwords, which are guessed first: choose another`,
}, "|") + `)$`)

var digits = regexp.MustCompile(`[0-9]+`)

// FuzzNormalizeAccount checks, for any form a shopper could send, that
// NormalizeAccount either refuses it as Invalid with one of its own
// messages (which repeat nothing of the input), or returns an account
// that keeps every rule and that it returns unchanged when given again.
func FuzzNormalizeAccount(f *testing.F) {
	f.Add("ada@example.com", "Ada", "correct-zebra-staple")
	f.Add("  Ada@Example.COM ", " Ada Lovelace ", "ﬁngerprints-42")
	f.Add("ada@localhost", "Ada", "password123")
	f.Add("a@b.c", "\u202e", "ADA@B.C")
	f.Add("@", "", "")
	f.Add("josé@españa.es", "Rene\u0301e", "１２３４５６７８９０")
	f.Add("a@b.co", strings.Repeat("é", 61), strings.Repeat("🔑", 129))
	f.Add("x\xff@y.z", "n\x00", "abc\xffdefghij")
	f.Fuzz(func(t *testing.T, email, name, password string) {
		in := bookshop.NewAccount{Email: email, Name: name, Password: password}
		got, err := accounts.NormalizeAccount(in)
		if err != nil {
			msg := bookshop.ErrorMessage(err)
			if bookshop.ErrorCode(err) != bookshop.Invalid || !ruleMessage.MatchString(digits.ReplaceAllString(msg, "N")) {
				t.Fatalf("NormalizeAccount(%+q) = %v, want Invalid with one of the rules' messages", in, err)
			}
			return
		}
		local, domain, found := strings.Cut(got.Email, "@")
		switch {
		case got.Email != strings.ToLower(got.Email) || got.Email != strings.TrimSpace(got.Email):
			t.Errorf("email %q is not trimmed and in lower case", got.Email)
		case !found || strings.Contains(domain, "@") || local == "" || !strings.Contains(domain, "."):
			t.Errorf("email %q is not name@domain.tld", got.Email)
		case len(got.Email) > accounts.MaxEmailLen:
			t.Errorf("email of %d bytes, want at most %d", len(got.Email), accounts.MaxEmailLen)
		}
		if n := utf8.RuneCountInString(got.Name); n < 1 || n > accounts.MaxNameLen || got.Name != strings.TrimSpace(got.Name) {
			t.Errorf("name %q: %d characters, or not trimmed", got.Name, n)
		}
		if n := utf8.RuneCountInString(got.Password); n < accounts.MinPasswordLen || n > accounts.MaxPasswordLen {
			t.Errorf("password of %d characters, want %d to %d", n, accounts.MinPasswordLen, accounts.MaxPasswordLen)
		}
		again, err := accounts.NormalizeAccount(got)
		if err != nil || again != got {
			t.Errorf("NormalizeAccount(%+q) = %+q, %v; want it unchanged (normalizing twice must change nothing)", got, again, err)
		}
		if accounts.NormalizeEmail(email) != got.Email {
			t.Errorf("NormalizeEmail(%q) = %q, want %q as the account has it, so that sign-in finds it", email, accounts.NormalizeEmail(email), got.Email)
		}
	})
}
