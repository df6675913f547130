package ttlcache_test

import (
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/ttlcache"
)

// clock is a time a test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// held returns what c answers for keys, and the keys it lacks.
func held(c *ttlcache.Cache[int, string], keys ...int) (map[int]string, []int) {
	got := map[int]string{}
	missing := c.Lookup(keys, func(k int, v string) { got[k] = v })
	return got, missing
}

func TestLookup(t *testing.T) {
	c := ttlcache.New[int, string](10, time.Hour)
	c.Put(maps.All(map[int]string{1: "one", 2: "two"}))
	got, missing := held(c, 3, 1, 4, 3, 2, 4)
	if want := map[int]string{1: "one", 2: "two"}; !maps.Equal(got, want) {
		t.Errorf("Lookup found %v, want %v", got, want)
	}
	if want := []int{3, 4}; !slices.Equal(missing, want) {
		t.Errorf("Lookup missing %v, want %v: each once, in the order asked", missing, want)
	}
	c.Put(maps.All(map[int]string{1: "uno"}))
	if got, _ := held(c, 1); got[1] != "uno" {
		t.Errorf("after a second Put, 1 = %q, want the new value", got[1])
	}
	c.Forget(1, 5)
	if _, missing := held(c, 1, 2); !slices.Equal(missing, []int{1}) {
		t.Errorf("after Forget(1), missing %v, want [1]", missing)
	}
}

// An entry is answered until its TTL from its Put, and not after.
func TestTTL(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	c := ttlcache.NewWithClock[int, string](10, time.Minute, clk.now)
	c.Put(maps.All(map[int]string{1: "one"}))
	clk.t = clk.t.Add(time.Minute - time.Nanosecond)
	if _, missing := held(c, 1); len(missing) != 0 {
		t.Error("an entry is missing before its TTL")
	}
	clk.t = clk.t.Add(time.Nanosecond)
	if got, missing := held(c, 1); len(got) != 0 || !slices.Equal(missing, []int{1}) {
		t.Errorf("at its TTL an entry is still answered: %v", got)
	}
}

// A full Cache makes room for a new key: first in the place of entries
// past their TTL, then of one other each; it keeps the rest, and a key it
// holds is put again without dropping any.
func TestCap(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	c := ttlcache.NewWithClock[int, string](3, time.Minute, clk.now)
	c.Put(maps.All(map[int]string{1: "one"}))
	clk.t = clk.t.Add(30 * time.Second)
	c.Put(maps.All(map[int]string{2: "two", 3: "three"}))
	clk.t = clk.t.Add(40 * time.Second) // 1 is past its TTL, 2 and 3 are not
	c.Put(maps.All(map[int]string{4: "four"}))
	if got, _ := held(c, 2, 3, 4); len(got) != 3 || c.Len() != 3 {
		t.Errorf("after a new key at the cap: holds %v (%d entries), want 2, 3 and 4: the expired 1 makes room", got, c.Len())
	}
	c.Put(maps.All(map[int]string{2: "zwei"}))
	if got, _ := held(c, 2, 3, 4); len(got) != 3 {
		t.Errorf("putting a held key again at the cap dropped another: holds %v", got)
	}
	c.Put(maps.All(map[int]string{5: "five", 6: "six"}))
	got, _ := held(c, 2, 3, 4, 5, 6)
	if c.Len() != 3 || got[5] != "five" || got[6] != "six" {
		t.Errorf("after two new keys at the cap: holds %v (%d entries), want 5, 6 and one other", got, c.Len())
	}
	big := ttlcache.New[int, int](2, time.Minute)
	big.Put(maps.All(map[int]int{1: 1, 2: 2, 3: 3, 4: 4}))
	if big.Len() != 2 {
		t.Errorf("a Cache of 2 given 4 holds %d", big.Len())
	}
}

func TestConcurrent(t *testing.T) {
	c := ttlcache.New[int, int](50, time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				k := (g*1000 + i) % 100
				if missing := c.Lookup([]int{k}, func(int, int) {}); len(missing) > 0 {
					c.Put(maps.All(map[int]int{k: i}))
				}
				if i%97 == 0 {
					c.Forget(k)
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Errorf("the Cache holds %d, past its 50", c.Len())
	}
}
