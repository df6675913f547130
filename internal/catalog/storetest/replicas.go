package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogdb"
)

// Replica is a Store that replicas share a database with: each handle
// follows the others' imports (catalog.Follower).
type Replica interface {
	Store
	catalog.Follower
}

// NewReplicas makes a new, empty database for one test and returns how
// to open a replica on it: each call another handle, closed when the test
// ends, the first filling the database with seed.
type NewReplicas func(tb testing.TB) (open func(seed []bookshop.Book, limits catalogdb.Limits) (Replica, error))

// RunReplicas runs the promises of a store that several replicas share,
// each test on a database of its own: imports of two replicas at once
// take turns, whichever replica each comes to, so that a key is used
// once, the caps hold for their sum, and no id is given twice; and each
// replica takes the others' imports, in the order they committed.
func RunReplicas(t *testing.T, newDB NewReplicas) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, newDB NewReplicas)
	}{
		{"ImportsTakeTurns", testImportsTakeTurns},
		{"ImportsAtOnce", testImportsAtOnce},
		{"SameKeyAtOnce", testSameKeyAtOnce},
		{"CapsAcrossReplicas", testCapsAcrossReplicas},
		{"FollowsInOrder", testFollowsInOrder},
		{"SeesNothingUncommitted", testSeesNothingUncommitted},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newDB) })
	}
}

// replicas opens n replicas on a new database seeded with the built-in
// catalog, held to limits, each recording the books OnChange tells it of.
func replicas(tb testing.TB, newDB NewReplicas, n int, limits catalogdb.Limits) ([]Replica, []*changes) {
	tb.Helper()
	open := newDB(tb)
	rs := make([]Replica, n)
	cs := make([]*changes, n)
	for i := range n {
		r, err := open(Builtin(tb), limits)
		if err != nil {
			tb.Fatalf("open replica %d: %v", i, err)
		}
		cs[i] = &changes{}
		r.OnChange(cs[i].add)
		rs[i] = r
	}
	return rs, cs
}

// changes records what OnChange told a replica, in order.
type changes struct {
	mu      sync.Mutex
	imports [][]bookshop.Book
}

func (c *changes) add(books []bookshop.Book) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.imports = append(c.imports, books)
}

// titles returns the first title of each import told, in order.
func (c *changes) titles() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, books := range c.imports {
		out = append(out, books[0].Title)
	}
	return out
}

// catchUp calls CatchUp on every replica, and fails tb if one fails.
func catchUp(tb testing.TB, rs ...Replica) {
	tb.Helper()
	for i, r := range rs {
		if err := r.CatchUp(testContext(tb)); err != nil {
			tb.Fatalf("CatchUp of replica %d: %v", i, err)
		}
	}
}

// testImportsTakeTurns begins an import on one replica: another's waits
// for it, until its context ends, and begins once the first commits.
func testImportsTakeTurns(t *testing.T, newDB NewReplicas) {
	rs, _ := replicas(t, newDB, 2, catalogdb.Limits{})
	ctx := testContext(t)
	first, err := rs[0].BeginImport(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := rs[1].BeginImport(waitCtx, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BeginImport on another replica while one runs = %v, want it to wait until its context ends", err)
	}
	begun := make(chan error, 1)
	go func() {
		second, err := rs[1].BeginImport(ctx, "")
		if err == nil {
			defer second.Close()
			_, err = second.Commit(ctx)
		}
		begun <- err
	}()
	select {
	case err := <-begun:
		t.Fatalf("an import began on another replica while the first runs (%v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := first.Add(ctx, newItems("First", 1)[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-begun; err != nil {
		t.Errorf("the other replica's import, once the first committed: %v", err)
	}
}

// testImportsAtOnce imports on three replicas at once, books without ids:
// each import goes in whole, no id is given twice, and the ids follow on
// from one import to the next, as one writer gives them. Each replica
// then holds every book.
func testImportsAtOnce(t *testing.T, newDB NewReplicas) {
	rs, _ := replicas(t, newDB, 3, catalogdb.Limits{})
	const n = 300
	results := make([]bookshop.ImportResult, len(rs))
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			results[i], errs[i] = r.ImportBooks(testContext(t), "", newItems(fmt.Sprintf("Replica %d", i), n))
		})
	}
	wg.Wait()
	var ids []int32
	for i := range rs {
		if errs[i] != nil || results[i].Imported != n {
			t.Fatalf("the import of replica %d = %d imported, %v; want %d", i, results[i].Imported, errs[i], n)
		}
		for _, b := range results[i].Books {
			ids = append(ids, b.ID)
		}
	}
	slices.Sort(ids)
	for i, id := range ids {
		if want := int32(46 + i); id != want {
			t.Fatalf("the ids given are %d to %d with %d at %d, want 46 to %d, each once", ids[0], ids[len(ids)-1], id, i, 45+len(rs)*n)
		}
	}
	catchUp(t, rs...)
	for i, r := range rs {
		if r.Len() != 45+len(rs)*n {
			t.Errorf("replica %d holds %d books, want %d", i, r.Len(), 45+len(rs)*n)
		}
	}
}

// testSameKeyAtOnce imports the same items under one key on three
// replicas at once, as a client that retries on another replica does:
// one import writes them, the others replay its answer, and the books
// are there once.
func testSameKeyAtOnce(t *testing.T, newDB NewReplicas) {
	rs, _ := replicas(t, newDB, 3, catalogdb.Limits{})
	items := newItems("Keyed", 20)
	results := make([]bookshop.ImportResult, len(rs))
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() { results[i], errs[i] = r.ImportBooks(testContext(t), "k-same", items) })
	}
	wg.Wait()
	written := 0
	for i := range rs {
		if errs[i] != nil || results[i].Imported != len(items) {
			t.Fatalf("the import of replica %d = %+v, %v; want %d imported or replayed", i, results[i], errs[i], len(items))
		}
		if !results[i].Replayed {
			written++
		}
	}
	if written != 1 {
		t.Errorf("%d imports of one key wrote, want 1 (the others replayed)", written)
	}
	catchUp(t, rs...)
	for i, r := range rs {
		if r.Len() != 45+len(items) {
			t.Errorf("replica %d holds %d books, want %d: the key's books once", i, r.Len(), 45+len(items))
		}
	}
}

// testCapsAcrossReplicas imports on two replicas at once, each import
// within the caps, their sum past them: one goes in, the other is refused
// (Exhausted), whichever commits first. Then the same for the cap on
// text.
func testCapsAcrossReplicas(t *testing.T, newDB NewReplicas) {
	for _, tc := range []struct {
		name   string
		limits func(text int64) catalogdb.Limits
	}{
		{"books", func(int64) catalogdb.Limits { return catalogdb.Limits{Books: 45 + 10} }},
		// "Capped 0" and "Replica A" are 17 bytes: six books are 102.
		{"text", func(text int64) catalogdb.Limits { return catalogdb.Limits{TextBytes: text + 150} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var text int64
			for _, b := range Builtin(t) {
				text += catalogdb.TextBytes(b)
			}
			rs, _ := replicas(t, newDB, 2, tc.limits(text))
			errs := make([]error, len(rs))
			var wg sync.WaitGroup
			for i, r := range rs {
				items := newItems("Capped", 6)
				for k := range items {
					items[k].Book.Author = fmt.Sprintf("Replica %c", 'A'+i)
				}
				wg.Go(func() { _, errs[i] = r.ImportBooks(testContext(t), "", items) })
			}
			wg.Wait()
			refused := 0
			for i, err := range errs {
				switch {
				case bookshop.ErrorCode(err) == bookshop.Exhausted:
					refused++
				case err != nil:
					t.Errorf("the import of replica %d: %v", i, err)
				}
			}
			if refused != 1 {
				t.Errorf("of two imports within the cap whose sum passes it, %d were refused (%v), want 1", refused, errs)
			}
			catchUp(t, rs...)
			for i, r := range rs {
				if r.Len() != 45+6 || r.Over() {
					t.Errorf("replica %d holds %d books (Over %v), want %d", i, r.Len(), r.Over(), 45+6)
				}
			}
		})
	}
}

// testFollowsInOrder imports on one replica: another, told by WaitChange,
// takes it in CatchUp and tells OnChange once. Then one imports while the
// other's import is not yet in its snapshot: it takes the other's first,
// then its own, as they committed.
func testFollowsInOrder(t *testing.T, newDB NewReplicas) {
	rs, cs := replicas(t, newDB, 2, catalogdb.Limits{})
	a, b := rs[0], rs[1]
	ctx := testContext(t)
	// The first WaitChange opens b's connection that listens.
	if err := b.WaitChange(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ImportBooks(ctx, "", newItems("One", 3)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.WaitChange(ctx); err != nil {
		t.Fatal(err)
	}
	// The notification comes at once; PollInterval is the bound of a lost one.
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("WaitChange returned %v after another replica's import, want at once", waited)
	}
	catchUp(t, b)
	if b.Len() != 48 || !slices.Equal(cs[1].titles(), []string{"One 0"}) {
		t.Errorf("the other replica holds %d books, told of %v; want 48, told of One", b.Len(), cs[1].titles())
	}
	catchUp(t, b) // nothing new: nothing told
	if _, err := a.ImportBooks(ctx, "", newItems("Two", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ImportBooks(ctx, "", newItems("Three", 4)); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 54 || !slices.Equal(cs[1].titles(), []string{"One 0", "Two 0", "Three 0"}) {
		t.Errorf("the replica that imported holds %d books, told of %v; want 54, told of One, Two and Three in turn", b.Len(), cs[1].titles())
	}
	catchUp(t, a)
	if a.Len() != 54 || !slices.Equal(cs[0].titles(), []string{"One 0", "Two 0", "Three 0"}) {
		t.Errorf("the first replica holds %d books, told of %v; want 54, told of One, Two and Three in turn", a.Len(), cs[0].titles())
	}
	if got, want := all(t, a), all(t, b); !slices.Equal(got, want) {
		t.Errorf("the two replicas hold %d and %d books, not the same", len(got), len(want))
	}
}

// testSeesNothingUncommitted stages a batch of an import on one replica:
// another sees none of it, neither told of it nor in its snapshot, and
// nothing once the import is closed without its commit.
func testSeesNothingUncommitted(t *testing.T, newDB NewReplicas) {
	rs, cs := replicas(t, newDB, 2, catalogdb.Limits{})
	ctx := testContext(t)
	im, err := rs[0].BeginImport(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range newItems("Staged", catalogdb.BatchRows+10) {
		if err := im.Add(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	catchUp(t, rs[1])
	im.Close()
	catchUp(t, rs...)
	for i, r := range rs {
		if r.Len() != 45 || len(cs[i].titles()) != 0 {
			t.Errorf("replica %d holds %d books, told of %v; want the 45 there were, nothing told", i, r.Len(), cs[i].titles())
		}
	}
}
