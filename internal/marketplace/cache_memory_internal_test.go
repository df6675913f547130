package marketplace

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
)

// cacheFill fills one of the Marketplace's caches to its caps and returns
// the cache: with the most entries, each as large as it may be, or, for a
// cache capped by bytes too, with the most entries of the smallest size
// that the bytes let in (fillSmall), whichever holds more.
type cacheFill struct {
	what      string // the item of docs/capacity.md that budgets it
	cap       int    // the cap on entries in the code
	fill      func(tb testing.TB) any
	fillSmall func(tb testing.TB) any
}

// longText returns a text of n characters, each as large as UTF-8 makes
// one (4 bytes) or as html/template escapes one (`"` to &#34;, 5 bytes),
// whichever costs more where it goes, and ends it with i, so that each is
// a string of its own.
func longText(n, i int, escaped bool) string {
	tail := fmt.Sprintf("%08d", i)
	c := "😀"
	if escaped {
		c = `"`
	}
	return strings.Repeat(c, n-len(tail)) + tail
}

// marketplaceCaches are the caches of the Marketplace, as docs/capacity.md
// lists them.
func marketplaceCaches(tb testing.TB) []cacheFill {
	tb.Helper()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p, err := parsePages(assetURLs{})
	if err != nil {
		tb.Fatal(err)
	}
	return []cacheFill{
		{"rate-limited clients", DefaultMaxRateClients, func(tb testing.TB) any {
			l := newClientLimiter(DefaultRateLimit, DefaultRateBurst, DefaultMaxRateClients, clock)
			for i := range DefaultMaxRateClients {
				// An IPv6 /64 at its longest, as keyOf writes it.
				l.allow(fmt.Sprintf("fd00:%04x:%04x:ffff::/64", 0x1000+i>>12, 0x1000+i&0xfff))
			}
			return l
		}, nil},
		{"stock counts", maxStockEntries, func(tb testing.TB) any {
			c := newStockCache()
			for i := 0; i < maxStockEntries; i += maxStockBatch {
				batch := make(map[int32]int, maxStockBatch)
				for id := range maxStockBatch {
					batch[int32(i+id+1)] = id
				}
				c.Put(batch)
			}
			return c
		}, nil},
		{"known books", maxKnownBooks, func(tb testing.TB) any {
			var k knownBooks
			for i := range maxKnownBooks {
				k.add(int32(i + 1))
			}
			return &k
		}, nil},
		{"recommended books", maxRecommendedBooks, func(tb testing.TB) any {
			var k recommendedBooks
			// As many books as the cap allows, their text as long as the
			// cap on bytes allows, split as a size class wastes most.
			each := maxRecommendedBytes / maxRecommendedBooks
			for i := range maxRecommendedBooks {
				title := strings.Repeat("t", each-65-8) + fmt.Sprintf("%08d", i)
				author := strings.Repeat("a", 57) + fmt.Sprintf("%08d", i)
				k.add(bookshop.Mystery, []bookshop.Book{{ID: int32(i + 1), Title: title, Author: author, Year: 2000,
					Price: bookshop.Money{Units: 999, Currency: bookshop.DefaultCurrency}}})
			}
			return &k
		}, nil},
		{"book items", maxBookItems, func(tb testing.TB) any {
			c := &bookItems{t: p.fragments.items.t}
			for i := range maxBookItems {
				b := bookView{ID: int32(i + 1), Title: longText(bookshop.MaxTitleLen, i, false), Author: longText(bookshop.MaxAuthorLen, i, false),
					Year: 2000, Price: "€1,234.56", Stock: "Only 2 left"}
				if _, err := c.each(nil, []bookView{b}); err != nil {
					tb.Fatal(err)
				}
			}
			return c
		}, func(tb testing.TB) any {
			// Books of a one-letter title, each item of the same size:
			// as many as the bytes let in.
			c := &bookItems{t: p.fragments.items.t}
			book := func(i int) bookView {
				return bookView{ID: int32(1_000_000 + i), Title: "T", Year: 2000, Price: fmt.Sprintf("€%d.99", 10+i%90), Stock: "In stock"}
			}
			item, err := renderFragment(c.t, "book-item", book(0))
			if err != nil {
				tb.Fatal(err)
			}
			b := book(0)
			for i := range min(maxBookItems, maxBookItemBytes/(len(item)+len(b.Title)+len(b.Price)+len(b.Stock))) {
				if _, err := c.each(nil, []bookView{book(i)}); err != nil {
					tb.Fatal(err)
				}
			}
			return c
		}},
		{"account bars", maxAccountBars, func(tb testing.TB) any {
			c := &accountBars{t: p.header}
			for i := range maxAccountBars {
				if _, err := c.get(accountBar{Name: longText(60, i, true), Count: i}); err != nil {
					tb.Fatal(err)
				}
			}
			return c
		}, func(tb testing.TB) any {
			// Bars of a one-letter name, each of the same size: as many
			// as the bytes let in.
			c := &accountBars{t: p.header}
			bar, err := renderFragment(c.t, "account-bar", accountBar{Name: "A", Count: 100_000})
			if err != nil {
				tb.Fatal(err)
			}
			for i := range min(maxAccountBars, maxAccountBarBytes/(len(bar)+1)) {
				if _, err := c.get(accountBar{Name: "A", Count: 100_000 + i}); err != nil {
					tb.Fatal(err)
				}
			}
			return c
		}},
		{"signed-in sessions", maxCachedSessions, func(tb testing.TB) any {
			c := newSignedIn(clock)
			for i := range maxCachedSessions {
				c.put(bookshop.Session{Token: fmt.Sprintf("token-%032d", i), Expires: now.Add(time.Hour), Customer: bookshop.Customer{
					ID: int32(i + 1), Email: strings.Repeat("e", 240) + fmt.Sprintf("%08d@x.io", i), Name: longText(60, i, false), Created: now}})
			}
			return c
		}, nil},
		{"offers", maxCachedOffers, func(tb testing.TB) any {
			o := newOffers(clock)
			for i := range maxCachedOffers {
				// Texts longer than the campaign's (a code of 24
				// bytes, a name of 21, a banner of 162), each the
				// customer's own, as each answer of Promotions is.
				o.put(int32(i+1), bookshop.Offer{Code: fmt.Sprintf("%s%08d", strings.Repeat("c", 24), i), Name: fmt.Sprintf("%s%08d", strings.Repeat("n", 56), i),
					Banner: fmt.Sprintf("%s%08d", strings.Repeat("b", 248), i), Active: true, Eligible: true, Starts: now, MinBooks: 3})
			}
			return o
		}, nil},
	}
}

// TestCachesMemory fills each cache of the Marketplace to its caps, with
// entries as large as they may be, and checks what it then holds, an
// entry's share at the cap, against docs/capacity.md, which budgets the
// Marketplace with the caches' caps and these shares.
func TestCachesMemory(t *testing.T) {
	memtest.Budgets(t)
	for _, c := range marketplaceCaches(t) {
		t.Run(c.what, func(t *testing.T) {
			count, budget := memtest.Documented(t, "Marketplace", c.what)
			if count != c.cap {
				t.Errorf("docs/capacity.md budgets %d %s, want the cap, %d", count, c.what, c.cap)
			}
			var each uint64
			for _, fill := range []func(testing.TB) any{c.fill, c.fillSmall} {
				if fill == nil {
					continue
				}
				before := memtest.Held()
				cache := fill(t)
				held := (memtest.Held() - before) / uint64(c.cap)
				runtime.KeepAlive(cache)
				t.Logf("%T: %d bytes an entry at the cap", cache, held)
				each = max(each, held)
			}
			t.Logf("%d %s: %d bytes each (%s in all)", c.cap, c.what, each, memtest.MiB(each*uint64(c.cap)))
			if each > budget {
				t.Errorf("%d %s hold %d bytes each, more than the %d that docs/capacity.md budgets", c.cap, c.what, each, budget)
			}
		})
	}
}

// TestCachesBounded checks the caches capped by bytes as well as by
// number: filled with large entries, they never hold more than their
// bytes, and still answer with what a fresh rendering gives.
func TestCachesBounded(t *testing.T) {
	p, err := parsePages(assetURLs{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("book items", func(t *testing.T) {
		c := &bookItems{t: p.fragments.items.t}
		for i := range 1_000 { // 7 MB of items: the cache starts again twice
			b := bookView{ID: int32(i + 1), Title: longText(bookshop.MaxTitleLen, i, true), Author: longText(bookshop.MaxAuthorLen, i, false), Year: 2000}
			got, err := c.each(nil, []bookView{b})
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := renderFragment(c.t, "book-item", b); len(got) != 1 || got[0] != want {
				t.Fatalf("item %d = %.80q, want %.80q", i, got, want)
			}
			if c.bytes > maxBookItemBytes || len(c.items) > maxBookItems {
				t.Fatalf("after %d items, the cache holds %d of %d bytes, want at most %d of %d", i+1, len(c.items), c.bytes, maxBookItems, maxBookItemBytes)
			}
		}
	})
	t.Run("account bars", func(t *testing.T) {
		c := &accountBars{t: p.header}
		for i := range 5_000 { // 4.5 MB of bars
			bar := accountBar{Name: longText(60, i, true), Count: i}
			got, err := c.get(bar)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := renderFragment(c.t, "account-bar", bar); got != want {
				t.Fatalf("bar %d = %.80q, want %.80q", i, got, want)
			}
			if c.bytes > maxAccountBarBytes || len(c.bars) > maxAccountBars {
				t.Fatalf("after %d bars, the cache holds %d of %d bytes, want at most %d of %d", i+1, len(c.bars), c.bytes, maxAccountBars, maxAccountBarBytes)
			}
		}
	})
}
