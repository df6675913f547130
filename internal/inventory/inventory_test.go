package inventory_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory"
)

// wantErr fails the test unless err has code and a message with part, or
// is nil when code is "".
func wantErr(tb testing.TB, call string, err error, code bookshop.Code, part string) {
	tb.Helper()
	if bookshop.ErrorCode(err) != code || !strings.Contains(bookshop.ErrorMessage(err), part) {
		tb.Errorf("%s = %v, want code %q with %q", call, err, code, part)
	}
}

func lines(pairs ...int) []bookshop.StockLine {
	var ls []bookshop.StockLine
	for i := 0; i+1 < len(pairs); i += 2 {
		ls = append(ls, bookshop.StockLine{BookID: int32(pairs[i]), Quantity: pairs[i+1]})
	}
	return ls
}

func TestCheckLines(t *testing.T) {
	fifty := make([]bookshop.StockLine, 50)
	for i := range fifty {
		fifty[i] = bookshop.StockLine{BookID: int32(i + 1), Quantity: 10}
	}
	for _, tc := range []struct {
		name  string
		lines []bookshop.StockLine
		part  string // "" when valid
	}{
		{"one line", lines(1, 1), ""},
		{"two books", lines(1, 10, 7, 3), ""},
		{"fifty lines", fifty, ""},
		{"no lines", nil, "0 lines: reserve 1 to 50 books"},
		{"fifty-one lines", append(fifty, bookshop.StockLine{BookID: 51, Quantity: 1}), "51 lines"},
		{"book 0", lines(0, 1), "book id 0: want 1 or more"},
		{"a negative book", lines(-3, 1), "book id -3"},
		{"no copies", lines(4, 0), "book 4: quantity 0: want 1 to 10"},
		{"eleven copies", lines(4, 11), "quantity 11"},
		{"a book twice", lines(4, 1, 5, 1, 4, 2), "book 4 is on two lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := inventory.CheckLines(tc.lines)
			if tc.part == "" {
				if err != nil {
					t.Errorf("CheckLines = %v, want nil", err)
				}
				return
			}
			wantErr(t, "CheckLines", err, bookshop.Invalid, tc.part)
		})
	}
}

func TestCheckNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		part string // "" when valid
	}{
		{"k", ""},
		{"checkout-7Fq_x", ""},
		{strings.Repeat("a", 64), ""},
		{"", "want 1 to 64 characters"},
		{strings.Repeat("a", 65), "want 1 to 64 characters"},
		{"a b", "only letters"},
		{"ключ", "only letters"},
	} {
		for what, check := range map[string]func(string) error{
			"idempotency key": inventory.CheckKey,
			"reservation id":  inventory.CheckReservationID,
		} {
			err := check(tc.name)
			if tc.part == "" {
				if err != nil {
					t.Errorf("check %s %q = %v, want nil", what, tc.name, err)
				}
				continue
			}
			wantErr(t, "check "+what+" "+tc.name, err, bookshop.Invalid, what)
			wantErr(t, "check "+what+" "+tc.name, err, bookshop.Invalid, tc.part)
		}
	}
}

func TestCheckRanges(t *testing.T) {
	hundred := make([]int32, 100)
	for i := range hundred {
		hundred[i] = int32(i + 1)
	}
	for _, tc := range []struct {
		name string
		err  error
		part string // "" when valid
	}{
		{"ttl 0: the service's", inventory.CheckTTL(0), ""},
		{"ttl 1s", inventory.CheckTTL(time.Second), ""},
		{"ttl 1h", inventory.CheckTTL(time.Hour), ""},
		{"ttl 999ms", inventory.CheckTTL(999 * time.Millisecond), "ttl 999ms: want 1s to 1h0m0s"},
		{"ttl over 1h", inventory.CheckTTL(time.Hour + time.Second), "ttl 1h0m1s"},
		{"ttl negative", inventory.CheckTTL(-time.Minute), "ttl -1m0s"},
		{"100 ids", inventory.CheckStockIDs(hundred), ""},
		{"no ids", inventory.CheckStockIDs(nil), "0 ids: ask for 1 to 100 books"},
		{"101 ids", inventory.CheckStockIDs(append(hundred, 101)), "101 ids"},
		{"id 0", inventory.CheckStockIDs([]int32{3, 0}), "book id 0"},
		{"stock 0", inventory.CheckSetStock(1, 0), ""},
		{"stock 1,000,000", inventory.CheckSetStock(1, 1_000_000), ""},
		{"stock -1", inventory.CheckSetStock(1, -1), "book 1: -1 copies on hand: want 0 to 1000000"},
		{"stock too large", inventory.CheckSetStock(1, 1_000_001), "1000001 copies"},
		{"stock of book 0", inventory.CheckSetStock(0, 5), "book id 0"},
	} {
		if tc.part == "" {
			if tc.err != nil {
				t.Errorf("%s: %v, want nil", tc.name, tc.err)
			}
			continue
		}
		wantErr(t, tc.name, tc.err, bookshop.Invalid, tc.part)
	}
}

func TestShortages(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lines     []bookshop.StockLine
		available map[int32]int
		want      []bookshop.SoldOut
	}{
		{"enough", lines(1, 2, 2, 1), map[int32]int{1: 2, 2: 5}, nil},
		{"the last copy", lines(1, 1), map[int32]int{1: 1}, nil},
		{"one short", lines(1, 2, 2, 1), map[int32]int{1: 1, 2: 5}, []bookshop.SoldOut{{BookID: 1, Available: 1}}},
		{"an unknown book", lines(9, 1), map[int32]int{}, []bookshop.SoldOut{{BookID: 9, Available: 0}}},
		{"in the order of the lines", lines(3, 1, 1, 4, 2, 1), map[int32]int{1: 3}, []bookshop.SoldOut{{BookID: 3}, {BookID: 1, Available: 3}, {BookID: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := inventory.Shortages(tc.lines, tc.available); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Shortages(%v, %v) = %v, want %v", tc.lines, tc.available, got, tc.want)
			}
		})
	}
}

func TestSameLines(t *testing.T) {
	for _, tc := range []struct {
		a, b []bookshop.StockLine
		want bool
	}{
		{lines(1, 1), lines(1, 1), true},
		{lines(1, 1, 2, 3), lines(2, 3, 1, 1), true},
		{lines(1, 1), lines(1, 2), false},
		{lines(1, 1), lines(2, 1), false},
		{lines(1, 1), lines(1, 1, 2, 1), false},
	} {
		if got := inventory.SameLines(tc.a, tc.b); got != tc.want {
			t.Errorf("SameLines(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestTransitions checks the state a reservation is in at a time, and
// where Commit and Release take it from each.
func TestTransitions(t *testing.T) {
	expires := time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC)
	before, at := expires.Add(-time.Millisecond), expires
	for _, tc := range []struct {
		recorded string
		now      time.Time
		state    string // StateAt
		commit   string // Committing's state, or "" for a Conflict
		release  string // Releasing's state, or "" for a Conflict
	}{
		{inventory.Held, before, inventory.Held, inventory.Committed, inventory.Released},
		{inventory.Held, at, inventory.Expired, "", inventory.Expired}, // the expiry instant is past it
		{inventory.Committed, before, inventory.Committed, inventory.Committed, ""},
		{inventory.Committed, at, inventory.Committed, inventory.Committed, ""}, // a committed one never expires
		{inventory.Released, before, inventory.Released, "", inventory.Released},
		{inventory.Expired, at, inventory.Expired, "", inventory.Expired},
	} {
		name := tc.recorded + map[bool]string{true: " before expiry", false: " at expiry"}[tc.now.Before(expires)]
		t.Run(name, func(t *testing.T) {
			r := bookshop.Reservation{ID: "r-1", Lines: lines(1, 1), Expires: expires, State: tc.recorded}
			if got := inventory.StateAt(r, tc.now); got != tc.state {
				t.Errorf("StateAt = %q, want %q", got, tc.state)
			}
			got, err := inventory.Committing(r, tc.now)
			if tc.commit == "" {
				wantErr(t, "Committing", err, bookshop.Conflict, "reservation r-1")
			} else if got != tc.commit || err != nil {
				t.Errorf("Committing = %q, %v; want %q", got, err, tc.commit)
			}
			got, err = inventory.Releasing(r, tc.now)
			if tc.release == "" {
				wantErr(t, "Releasing", err, bookshop.Conflict, "was committed")
			} else if got != tc.release || err != nil {
				t.Errorf("Releasing = %q, %v; want %q", got, err, tc.release)
			}
		})
	}
	r := bookshop.Reservation{ID: "r-1", Expires: expires, State: inventory.Held}
	_, err := inventory.Committing(r, at)
	wantErr(t, "Committing(expired)", err, bookshop.Conflict, "reservation r-1 expired at 2026-03-01T12:10:00Z")
	r.State = inventory.Released
	_, err = inventory.Committing(r, before)
	wantErr(t, "Committing(released)", err, bookshop.Conflict, "reservation r-1 was released")
}

// TestSeedStock checks that the stock a new database starts with covers
// the built-in catalog and shows every label the pages have.
func TestSeedStock(t *testing.T) {
	seed := inventory.SeedStock()
	var out, few, many int
	for id := int32(1); id <= 45; id++ {
		n, ok := seed[id]
		switch {
		case !ok:
			t.Errorf("book %d has no stock", id)
		case n < 0 || n > 25:
			t.Errorf("book %d: %d copies, want 0 to 25", id, n)
		case n == 0:
			out++
		case n <= 3:
			few++
		default:
			many++
		}
	}
	if len(seed) != 45 || out < 1 || out > 2 || few < 3 || many < 30 {
		t.Errorf("seed: %d books, %d out of stock, %d with 1 to 3, %d with more; want 45 books, 1 or 2 out, some few, most many", len(seed), out, few, many)
	}
	seed[1] = 99
	if inventory.SeedStock()[1] == 99 {
		t.Error("SeedStock returns a map that callers can change for the next")
	}
}
