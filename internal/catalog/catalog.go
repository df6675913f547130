// Package catalog is the Catalog service: it owns the books of the shop,
// their rules, imports and exports, and tells the services that keep a
// copy of the books (Recommendations) of every change. A book does not
// change once the catalog has it: imports only add books, each under a
// new id, and the Cart and the Checkout keep the books they price for a
// while on that promise (catalogclient.Cache); a change to a book would
// have to reach them too.
//
// The slice: the rules and the feed of changes here ([Service]); the gRPC
// server of bookshop.catalog.v1.CatalogService (server.go), with its
// request rules and its authorization entries ([Policy]); its metrics;
// [Config] and [Run]; its storage in package sqlite (one file, one
// replica) or package postgres (one database, any number of replicas,
// which follow each other's imports: [Follower]); its file formats in
// package catalogfile; and, for callers, package catalogclient.
package catalog

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/search"
	"github.com/bookshop-go/bookshop/internal/platform/fault"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// Store is where the Service keeps its books; *sqlite.DB is one.
type Store interface {
	bookshop.Catalog
	bookshop.Importer
	bookshop.StreamImporter
	// All returns every book, in id order. The slice is shared and never
	// changes.
	All() []bookshop.Book
}

// Follower is a Store that other replicas of the Catalog import into as
// well, on a database they share; *postgres.DB is one. Its snapshot
// takes each import, its own and the others', once, in the order they
// committed, and tells the function OnChange set of it: the Service then
// adds its books to the search index and sends them to its watchers, as
// for an import of its own. Follow keeps it up to date.
type Follower interface {
	Store
	// OnChange sets the function called with the books of each import as
	// the snapshot takes them: in Commit, for an import of this store, and
	// in CatchUp. It is called with the store's lock held.
	OnChange(func(books []bookshop.Book))
	// WaitChange waits until another replica may have committed an
	// import, and returns nil then; ctx's error when it ends, another
	// when the database cannot be reached (wait, and call it again).
	WaitChange(ctx context.Context) error
	// CatchUp brings the snapshot up to the latest import committed,
	// whichever replica committed it.
	CatchUp(ctx context.Context) error
}

// MaxWatches is the most WatchBooks streams one Catalog serves at once:
// each follower is a service replica, not a shopper, so a few dozen is
// plenty, and the cap keeps a misbehaving client from holding streams
// without end.
const MaxWatches = 256

// WatchBytes is the most memory a watch holds on the server, whose client
// reads nothing, stalled by gRPC's flow control, as docs/capacity.md
// budgets it: the 64 KiB of messages gRPC's transport queues for a
// stream, the message held back and the next (see WatchBatchBooks), its
// goroutine and the stream's state, measured at about 100 KiB
// (TestWatchesMemory). Messages of 500 books made it 2.2 MB with books at
// their largest. The books themselves are the catalog's, shared.
const WatchBytes = 128 << 10

// MaxImports is the most imports one Catalog takes at once: one writes,
// the others wait for it, their streams unread (the client's sends wait
// too, as gRPC's flow control has them). Past it, an import is refused
// with Exhausted: imports come from operators, a few at a time, and each
// holds a stream and a little memory while it waits.
const MaxImports = 4

// ImportRetryAfter is when an import refused past MaxImports is told to
// try again (gRPC's RetryInfo): an import of the largest size takes a
// few seconds to write.
const ImportRetryAfter = 5 * time.Second

// ImportBytes is the most memory an import holds while its stream comes,
// besides the books it adds, as docs/capacity.md budgets it: a batch of
// its books, the transport's buffers of its stream and the database's
// statements, whatever its size (TestImportMemory; TestImportsAtOnceMemory
// for MaxImports at once).
const ImportBytes = 12 << 20

// The default caps on the catalog's size (Config.MaxBooks and
// MaxTextMiB), past which an import is refused whole with Exhausted: the
// Catalog holds every book in memory (its snapshot and the search index),
// about 200 bytes a book and, for the search index, up to 12 bytes a byte
// of titles and authors, which the budget of docs/capacity.md counts at
// these caps (TestCatalogMemory).
const (
	// DefaultMaxBooks is as many books as a replica of Recommendations
	// holds by default (its -max-books), so that what the Catalog takes
	// its followers take too.
	DefaultMaxBooks = 250_000
	// DefaultMaxTextBytes is the most bytes of titles and authors, of all
	// books together: 8 MiB, 33 bytes a book at DefaultMaxBooks, the
	// built-in catalog's average.
	DefaultMaxTextBytes = 8 << 20
)

// DefaultMaxFeedBooks is the most books of recent imports the Service
// keeps for watchers that have not caught up (see NewService): as many as
// the catalog holds at DefaultMaxBooks, so that the feed keeps an import
// of them all, which it would keep anyway, being the last.
const DefaultMaxFeedBooks = DefaultMaxBooks

// Service is the Catalog: a Store, with the imports counted and told to
// watchers. It is safe for concurrent use.
//
// Its reads for shoppers (Book, Books, Search, Watch) serve a book priced
// in another currency than the shop's (kept from before the shop's
// currency changed) as a book without a price, the zero Money: shown, not
// sold, since a cart cannot add its price to the others'. ExportBooks
// serves the prices as stored, so that an export imports again as it was.
type Service struct {
	store    Store
	currency string // the shop's: every price imported is in it
	metrics  *metrics
	// index finds books by words (see Search): of the store's books at
	// the start, and of each import's, added as it commits.
	index *search.Index

	// importMu orders the commits of imports, and the other replicas'
	// imports as a Follower takes them, against the start of watches, so
	// that a watcher's snapshot holds exactly the imports before its
	// place in the feed.
	importMu sync.Mutex
	// imports holds a value for each import running or waiting, up to
	// MaxImports.
	imports chan struct{}

	mu       sync.Mutex
	feed     [][]bookshop.Book // the books of recent imports, oldest first
	first    uint64            // the number of feed[0] among all imports
	feedLen  int               // books in feed
	maxFeed  int
	changed  chan struct{} // closed, and replaced, at each import
	stopping chan struct{} // closed by StopWatches
	stopOnce sync.Once
	watches  int // Watch calls running

	// snapMu guards snap: the last snapshot a watch was given, when it
	// had prices to take off (see servedSnapshot).
	snapMu sync.Mutex
	snap   servedSnapshot
}

// servedSnapshot is a store snapshot (All) and the same books as served.
type servedSnapshot struct {
	all, served []bookshop.Book
}

// NewService returns the Catalog over store, selling in currency, the
// shop's one currency (bookshop.DefaultCurrency when ""): an import takes
// prices in it only. It keeps the books of recent imports, up to
// maxFeedBooks of them (at least the last import, whatever its size;
// DefaultMaxFeedBooks when 0), for watchers that are sending them: a
// watcher that falls further behind is ended, and starts again from a
// snapshot. It counts its imports and watches in m, which may be nil.
// It indexes the store's books for Search, as they are now: books written
// to the store other than through ImportBooks are not found.
func NewService(store Store, currency string, maxFeedBooks int, m *telemetry.Metrics) *Service {
	if maxFeedBooks <= 0 {
		maxFeedBooks = DefaultMaxFeedBooks
	}
	if currency == "" {
		currency = bookshop.DefaultCurrency
	}
	s := &Service{store: store, currency: currency, metrics: newMetrics(m), index: search.New(store.All()), maxFeed: maxFeedBooks, imports: make(chan struct{}, MaxImports), changed: make(chan struct{}), stopping: make(chan struct{})}
	if f, ok := store.(Follower); ok {
		f.OnChange(s.added)
	}
	return s
}

// added takes the books of an import that the store's snapshot has just
// taken into the search index and the feed. The caller holds importMu,
// so that no watch starts in between (see Watch).
func (s *Service) added(books []bookshop.Book) {
	s.index.Add(books)
	// Every book imported is in the shop's currency (see ImportFrom);
	// servedBooks keeps the rule of Watch whatever the Store returns.
	s.publish(s.servedBooks(books))
}

// Follow keeps the Service up to date with the imports that other
// replicas commit to the database it shares with them, when its Store is
// a Follower, until ctx ends: each reaches its watchers and its search
// index as soon as the store hears of it (see package postgres: within
// its PollInterval at most). While the database cannot be reached it
// logs a warning to logger, once, tries again every few seconds, and
// logs when it follows again. It returns nil when ctx ends, at once or
// not: for a Store that is no Follower, it only waits for ctx.
func (s *Service) Follow(ctx context.Context, logger *slog.Logger) error {
	f, ok := s.store.(Follower)
	if !ok {
		<-ctx.Done()
		return nil
	}
	failing := false
	pause := followFirstPause
	for {
		err := f.WaitChange(ctx)
		if err == nil {
			err = s.catchUp(ctx, f)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			if failing {
				logger.Info("following the other replicas' imports again")
				failing = false
			}
			pause = followFirstPause
			continue
		}
		if !failing {
			logger.Warn("cannot follow the other replicas' imports: trying again; until then this replica serves the catalog as it was", "err", err)
			failing = true
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, followMaxPause)
	}
}

// The pauses of Follow between its tries while the database cannot be
// reached: doubling from the first to the most.
const (
	followFirstPause = 500 * time.Millisecond
	followMaxPause   = 5 * time.Second
)

// catchUp brings f up to date, holding importMu, so that each import
// reaches the snapshot and the feed together (see Watch).
func (s *Service) catchUp(ctx context.Context, f Follower) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s.importMu.Lock()
	defer s.importMu.Unlock()
	return f.CatchUp(ctx)
}

// Currency returns the shop's currency: that of every price it imports.
func (s *Service) Currency() string { return s.currency }

// Book implements [bookshop.Catalog]: the book, without its price when it
// is not in the shop's currency.
func (s *Service) Book(ctx context.Context, id int32) (bookshop.Book, error) {
	b, err := s.store.Book(ctx, id)
	return s.served(b), err
}

// foreign reports whether p is a price, in another currency than the
// shop's.
func (s *Service) foreign(p bookshop.Money) bool {
	return p != (bookshop.Money{}) && p.Currency != s.currency
}

// served returns b as shoppers are served it: without its price when the
// price is in another currency than the shop's.
func (s *Service) served(b bookshop.Book) bookshop.Book {
	if s.foreign(b.Price) {
		b.Price = bookshop.Money{}
	}
	return b
}

// servedBooks returns books as shoppers are served them: books itself when
// every price is in the shop's currency (or none), else a copy with the
// other prices taken off. books is not modified.
func (s *Service) servedBooks(books []bookshop.Book) []bookshop.Book {
	if !slices.ContainsFunc(books, func(b bookshop.Book) bool { return s.foreign(b.Price) }) {
		return books
	}
	out := make([]bookshop.Book, len(books))
	for i, b := range books {
		out[i] = s.served(b)
	}
	return out
}

// servedSnapshot returns all, a snapshot of the store, as served. When
// prices must be taken off, the copy is kept for the next watches of the
// same snapshot, so that replicas that watch at once share one; when none
// must, all itself is served and nothing is kept.
func (s *Service) servedSnapshot(all []bookshop.Book) []bookshop.Book {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if len(all) > 0 && len(all) == len(s.snap.all) && &all[0] == &s.snap.all[0] {
		return s.snap.served // the store's snapshots never change
	}
	served := s.servedBooks(all)
	s.snap = servedSnapshot{}
	if len(all) > 0 && &served[0] != &all[0] {
		s.snap = servedSnapshot{all: all, served: served}
	}
	return served
}

// MaxGetBooks is the most ids one Books call may ask for.
const MaxGetBooks = catalogclient.MaxGetBooks

// CheckBookIDs returns an Invalid error, saying what is wrong, for more
// than MaxGetBooks ids or an id under 1: the rule of the ids of one Books
// call (GetBooks), which the request's validator and Books both apply.
func CheckBookIDs(ids []int32) error {
	if len(ids) > MaxGetBooks {
		return bookshop.Errorf(bookshop.Invalid, "%d ids: ask for at most %d books at once", len(ids), MaxGetBooks)
	}
	for _, id := range ids {
		if id < 1 {
			return bookshop.Errorf(bookshop.Invalid, "ids must be 1 or more, got %d", id)
		}
	}
	return nil
}

// Books returns the books of ids that exist, in the order of ids, each
// once, each without its price when it is not in the shop's currency: an
// id with no book is left out. Errors: Invalid, as CheckBookIDs says.
func (s *Service) Books(ctx context.Context, ids []int32) ([]bookshop.Book, error) {
	if err := CheckBookIDs(ids); err != nil {
		return nil, err
	}
	books := make([]bookshop.Book, 0, len(ids))
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			continue // answered once; at most 100 ids, so a scan is cheap
		}
		b, err := s.store.Book(ctx, id)
		if bookshop.ErrorCode(err) == bookshop.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		books = append(books, s.served(b))
	}
	return books, nil
}

// ExportBooks implements [bookshop.Catalog]: the books as stored, prices
// in another currency than the shop's included, so that an export
// imported again (into a shop of that currency) is the same book for book.
func (s *Service) ExportBooks(ctx context.Context, c bookshop.Category, batchSize int, yield func([]bookshop.Book) error) error {
	return s.store.ExportBooks(ctx, c, batchSize, yield)
}

// ImportBooks implements [bookshop.Importer]: ImportFrom, with items.
func (s *Service) ImportBooks(ctx context.Context, key string, items []bookshop.ImportItem) (bookshop.ImportResult, error) {
	return s.ImportFrom(ctx, key, func(yield func(bookshop.ImportItem, error) bool) {
		for _, it := range items {
			if !yield(it, nil) {
				return
			}
		}
	})
}

// ImportFrom imports the items of items, in order, as they come: the
// Store's import ([bookshop.StreamImporter]), whose books, once committed,
// go to every watcher. The items are not held: the Store takes them in
// batches, so that an import's memory does not grow with its size. An
// error from items ends the import, which writes nothing, and is
// returned as it is. A book priced in another currency than the shop's
// is rejected (field price), whatever else it holds: the Catalog converts
// no currency. Key, when not "", makes the import happen at most once
// (see [bookshop.Importer]). Errors: Invalid for a malformed key;
// Exhausted, with RetryAfter, when MaxImports imports run or wait already.
func (s *Service) ImportFrom(ctx context.Context, key string, items iter.Seq2[bookshop.ImportItem, error]) (bookshop.ImportResult, error) {
	if key != "" {
		if err := bookshop.CheckKey("idempotency key", key); err != nil {
			return bookshop.ImportResult{}, err
		}
	}
	select {
	case s.imports <- struct{}{}:
		s.metrics.importing(1)
		defer func() {
			s.metrics.importing(-1)
			<-s.imports
		}()
	default:
		return bookshop.ImportResult{}, &bookshop.Error{Code: bookshop.Exhausted, RetryAfter: ImportRetryAfter,
			Message: fmt.Sprintf("%d imports are running or waiting already: try again when one has finished", MaxImports)}
	}
	im, err := s.store.BeginImport(ctx, key)
	if err != nil {
		return bookshop.ImportResult{}, err
	}
	defer im.Close()
	n := 0
	for it, err := range items {
		if err != nil {
			return bookshop.ImportResult{}, err
		}
		n++
		if s.foreign(it.Book.Price) {
			msg := fmt.Sprintf("%s is not in the shop's currency, %s", it.Book.Price, s.currency)
			if it.Book.Price.Currency == "" {
				msg = fmt.Sprintf("%s names no currency: want the shop's, %s", it.Book.Price.Decimal(), s.currency)
			}
			reason := (&bookshop.FieldError{Field: "price", Message: msg}).Error()
			err = im.Reject(ctx, it, reason)
		} else {
			err = im.Add(ctx, it)
		}
		if err != nil {
			return bookshop.ImportResult{}, err
		}
	}
	s.importMu.Lock()
	defer s.importMu.Unlock()
	res, err := im.Commit(ctx)
	if err != nil {
		return res, err
	}
	fault.Point("catalog/after-import") // committed, not yet answered
	s.metrics.imported(n, res)
	if _, ok := s.store.(Follower); !ok && len(res.Books) > 0 {
		// A Follower's Commit told s.added already, in turn with the
		// other replicas' imports.
		s.added(res.Books)
	}
	return res, nil
}

// publish adds the books of one import to the feed and wakes watchers.
func (s *Service) publish(books []bookshop.Book) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.feed = append(s.feed, books)
	s.feedLen += len(books)
	for len(s.feed) > 1 && s.feedLen > s.maxFeed {
		s.feedLen -= len(s.feed[0])
		s.feed[0] = nil
		s.feed = s.feed[1:]
		s.first++
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// StopWatches ends every watch, now and later, with an Unavailable error:
// at shutdown, so that watchers go to another replica and the server's
// graceful stop need not wait for streams that never end by themselves.
func (s *Service) StopWatches() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

// stopped returns the error of a watch after StopWatches, or nil.
func (s *Service) stopped() error {
	select {
	case <-s.stopping:
		return bookshop.Errorf(bookshop.Unavailable, "the catalog is shutting down: watch another replica")
	default:
		return nil
	}
}

// Watch calls snapshot once with every book, then added with the books of
// each import after it, as each commits, until ctx ends (it returns ctx's
// error), StopWatches is called, or the watcher falls more than the feed
// holds behind (both Unavailable: watch again), or a callback fails (its
// error). Past MaxWatches at once, it returns Unavailable at once. A book
// priced in another currency than the shop's comes without its price. The
// slices are shared: callbacks must not modify them.
func (s *Service) Watch(ctx context.Context, snapshot, added func([]bookshop.Book) error) error {
	if err := s.stopped(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.watches >= MaxWatches {
		s.mu.Unlock()
		return bookshop.Errorf(bookshop.Unavailable, "the catalog serves %d watches already: try another replica, or later", MaxWatches)
	}
	s.watches++
	s.mu.Unlock()
	s.metrics.watchOpened()
	defer func() {
		s.metrics.watchClosed()
		s.mu.Lock()
		s.watches--
		s.mu.Unlock()
	}()
	s.importMu.Lock()
	books := s.store.All()
	s.mu.Lock()
	next := s.first + uint64(len(s.feed))
	s.mu.Unlock()
	s.importMu.Unlock()
	if err := snapshot(s.servedSnapshot(books)); err != nil {
		return err
	}
	for {
		if err := s.stopped(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		var batch []bookshop.Book
		switch {
		case next < s.first:
			s.mu.Unlock()
			return bookshop.Errorf(bookshop.Unavailable, "the watch fell behind the catalog's changes: watch again")
		case next < s.first+uint64(len(s.feed)):
			batch = s.feed[next-s.first]
			next++
		}
		changed := s.changed
		s.mu.Unlock()
		if batch != nil {
			if err := added(batch); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stopping:
			return s.stopped()
		case <-changed:
		}
	}
}
