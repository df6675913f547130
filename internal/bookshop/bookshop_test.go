package bookshop_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func TestParseCategory(t *testing.T) {
	tests := []struct {
		in      string
		want    bookshop.Category
		wantErr bool
	}{
		{"mystery", bookshop.Mystery, false},
		{"MYSTERY", bookshop.Mystery, false},
		{"Science_Fiction", bookshop.ScienceFiction, false},
		{"self_help", bookshop.SelfHelp, false},
		{"", 0, true},
		{"romance", 0, true},
		{"science fiction", 0, true},
		{"category(3)", 0, true},
	}
	for _, tt := range tests {
		got, err := bookshop.ParseCategory(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseCategory(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil {
			if code := bookshop.ErrorCode(err); code != bookshop.Invalid {
				t.Errorf("ParseCategory(%q) error code = %q, want %q", tt.in, code, bookshop.Invalid)
			}
			if msg := bookshop.ErrorMessage(err); !strings.Contains(msg, "mystery, science_fiction or self_help") {
				t.Errorf("ParseCategory(%q) message = %q, want it to list the categories", tt.in, msg)
			}
		}
	}
}

func TestCategoryString(t *testing.T) {
	for _, c := range bookshop.Categories() {
		if !c.Valid() {
			t.Errorf("%v.Valid() = false, want true", c)
		}
		back, err := bookshop.ParseCategory(c.String())
		if err != nil || back != c {
			t.Errorf("ParseCategory(%v.String()) = %v, %v; want %v", c, back, err, c)
		}
	}
	for _, c := range []bookshop.Category{-1, 3, 1000} {
		if c.Valid() {
			t.Errorf("Category(%d).Valid() = true, want false", c)
		}
		if got, want := c.String(), fmt.Sprintf("category(%d)", int32(c)); got != want {
			t.Errorf("Category(%d).String() = %q, want %q", c, got, want)
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	notFound := bookshop.Errorf(bookshop.NotFound, "no book %d", 7)
	tests := []struct {
		err      error
		wantCode bookshop.Code
		wantMsg  string
	}{
		{nil, "", ""},
		{notFound, bookshop.NotFound, "no book 7"},
		{fmt.Errorf("look up: %w", notFound), bookshop.NotFound, "no book 7"},
		{errors.Join(errors.New("other"), notFound), bookshop.NotFound, "no book 7"},
		{errors.New("connection reset by peer at 10.0.0.1"), bookshop.Internal, "internal error"},
	}
	for _, tt := range tests {
		if got := bookshop.ErrorCode(tt.err); got != tt.wantCode {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.wantCode)
		}
		if got := bookshop.ErrorMessage(tt.err); got != tt.wantMsg {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tt.err, got, tt.wantMsg)
		}
	}
}

func TestVisible(t *testing.T) {
	for s, want := range map[string]bool{
		"Ada": true, " a ": true, "é": true, "e\u0301": true, "·": true, "1": true, "😀": true,
		"": false, "   ": false, "\u200b": false, "\ufeff": false, "\u2060": false, "\u3164": false,
		"\u0301": false, "\u200e\u200f": false, "\u00a0\u3000": false, "\u2800": false, "\x00\x01": false,
	} {
		if got := bookshop.Visible(s); got != want {
			t.Errorf("Visible(%q) = %v, want %v", s, got, want)
		}
	}
}
