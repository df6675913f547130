// Package bookshop is the shared kernel of Bookshop: what every service
// speaks. Books and their rules ([Book.Validate]), categories, books in
// memory ([Shelf]), [Money]
// (integer minor units and a currency, never a float), ids ([NewID]), the
// kinds of error the services return ([Error], [Code]), and the
// interfaces through which one slice asks another ([Recommender],
// [Catalog], [LiveRecommender]).
//
// It imports no transport, and no other package of Bookshop: the
// architecture test (internal/architecture) keeps it so. The gRPC and HTTP adapters convert to and from
// these types at the edge, and map [Error] codes to gRPC and HTTP statuses
// there, once.
package bookshop

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Category is the kind of a book. Its numbers are those of the tutorial's
// BookCategory enum, so they convert to and from the wire unchanged.
type Category int32

// The categories of the catalog.
const (
	Mystery        Category = 0
	ScienceFiction Category = 1
	SelfHelp       Category = 2
)

// Categories returns every known category, in enum order.
func Categories() []Category {
	return []Category{Mystery, ScienceFiction, SelfHelp}
}

// Valid reports whether c is one of the known categories.
func (c Category) Valid() bool {
	return c >= Mystery && c <= SelfHelp
}

// String returns the category's name as used in files and URLs:
// "mystery", "science_fiction" or "self_help". An unknown category prints as
// "category(N)".
func (c Category) String() string {
	switch c {
	case Mystery:
		return "mystery"
	case ScienceFiction:
		return "science_fiction"
	case SelfHelp:
		return "self_help"
	default:
		return fmt.Sprintf("category(%d)", int32(c))
	}
}

// ParseCategory returns the category named s, ignoring case: "mystery",
// "science_fiction" or "self_help". Otherwise it returns an [Invalid] error
// that lists the names it accepts.
func ParseCategory(s string) (Category, error) {
	for _, c := range Categories() {
		if strings.EqualFold(s, c.String()) {
			return c, nil
		}
	}
	return 0, Errorf(Invalid, "unknown category %q: use one of %s", s, CategoryNames())
}

// CategoryNames returns the names ParseCategory accepts, for messages:
// "mystery, science_fiction or self_help".
func CategoryNames() string {
	cs := Categories()
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.String()
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Book is one book of the catalog.
type Book struct {
	ID       int32
	Title    string
	Author   string
	Year     int
	Category Category
	// Price is what the shop sells the book for. The zero Money means no
	// price is known (a book from a server that sends none, or whose
	// price is not in the shop's currency): such a book is shown but
	// cannot be bought.
	Price Money
}

// RecommendRequest asks for books of one category for one shopper.
type RecommendRequest struct {
	// UserID is the shopper asking; zero is an anonymous shopper.
	UserID int32
	// Category is the category to recommend from.
	Category Category
	// MaxResults is the most books to return; it must not be negative.
	MaxResults int
}

// Recommender recommends books.
type Recommender interface {
	// Recommend returns min(req.MaxResults, books in the category, a cap set
	// by the implementation) distinct books of req.Category, in random order.
	// It returns a NotFound error when the catalog has no book in the
	// category, an Invalid error when MaxResults is negative, and an
	// Unavailable error when the books cannot be reached right now.
	Recommend(ctx context.Context, req RecommendRequest) ([]Book, error)
}

// BookStore holds the catalog.
type BookStore interface {
	// BooksInCategory returns the books of category c, ordered by id. It
	// returns an empty slice when there are none. The slice may be shared:
	// callers must not modify it.
	BooksInCategory(ctx context.Context, c Category) ([]Book, error)
}

// AllCategories, given to [Catalog.ExportBooks], asks for every category.
const AllCategories Category = -1

// Catalog reads the books of the shop.
type Catalog interface {
	// Book returns the book with the given id, or a NotFound error.
	Book(ctx context.Context, id int32) (Book, error)
	// ExportBooks calls yield with the books of category c (every book when
	// c is AllCategories), in id order, in batches of at most batchSize. It
	// stops at the first error yield returns, and returns it. It returns an
	// Invalid error for an unknown category.
	ExportBooks(ctx context.Context, c Category, batchSize int, yield func([]Book) error) error
}

// ImportItem is one book to import, with the line of the file it came
// from (0 when unknown), for the report.
type ImportItem struct {
	Book Book
	Line int
}

// Rejection is a book of an import that was not written.
type Rejection struct {
	Index  int    // position in the import, from 0
	Line   int    // the item's Line
	Reason string // what was wrong, for people
}

// MaxRejectionsReported is the most rejections an import reports: the
// first ones, by index. The books not written are the items less those
// imported, however many; the report names the first, so that an import
// of a million rows that are all refused neither holds nor sends a
// million reasons.
const MaxRejectionsReported = 10_000

// ImportResult sums up an import.
type ImportResult struct {
	Imported int
	// Rejected are the items not written, and why, by index: all of them
	// or, past MaxRejectionsReported, the first that many.
	Rejected []Rejection
	// Books are the books written, with their ids, in the order written;
	// none for a Replayed import.
	Books []Book
	// Replayed is true when the import's key had been used by an import of
	// the same items: Imported and Rejected are that import's, and
	// nothing was written now.
	Replayed bool
}

// ImportKeyTTL is how long an import's idempotency key is kept.
const ImportKeyTTL = 7 * 24 * time.Hour

// Importer adds books to the catalog.
type Importer interface {
	// ImportBooks checks every item (Book.Validate: title, author and a
	// price required, a known category; no id or title and author already
	// in the catalog or earlier in items; id 0 asks for a new id) and
	// writes the valid ones in one transaction: all of them or, on error,
	// none. Key, when not "", is an idempotency key (see CheckKey): for
	// ImportKeyTTL after an import with it is written, an import with the
	// same key writes nothing, and returns the first one's result,
	// Replayed, for the same items, or fails with Conflict for others.
	ImportBooks(ctx context.Context, key string, items []ImportItem) (ImportResult, error)
}

// StreamImporter adds books to the catalog as they come, for imports too
// large to hold in memory: the same import as [Importer]'s, whose items
// are given one at a time.
type StreamImporter interface {
	// BeginImport starts an import with idempotency key (or "", as for
	// ImportBooks). It waits, until ctx ends, for an import that runs
	// already: one writes at a time. The caller adds the items in order
	// and commits, and closes the import whatever happens.
	BeginImport(ctx context.Context, key string) (PendingImport, error)
}

// PendingImport is an import begun and not yet committed: a transaction
// that its items go to as they come, in batches, so that the memory it
// holds does not grow with its size. If it is closed before Commit
// succeeds, or its context ends, nothing of it is written.
type PendingImport interface {
	// Add adds the next item, checked and written, or rejected, at
	// Commit. Errors: the store's.
	Add(ctx context.Context, it ImportItem) error
	// Reject adds the next item as refused by a rule of the caller's,
	// for reason: it is not written, and the report names it at its
	// index. Errors: the store's.
	Reject(ctx context.Context, it ImportItem, reason string) error
	// Commit checks the items and writes the valid ones, as
	// [Importer.ImportBooks] does, and ends the import.
	Commit(ctx context.Context) (ImportResult, error)
	// Close ends the import, writing nothing if Commit has not
	// succeeded. It may be called more than once, and after Commit.
	Close()
}

// EventType is what a shopper did, for live recommendations.
type EventType int

// The events of a shopping session.
const (
	Viewed    EventType = 1 // opened a book's page
	Dismissed EventType = 2 // dismissed a recommended book
)

// Event is one thing a shopper did to a book.
type Event struct {
	Type   EventType
	BookID int32
}

// LiveRecommender keeps a shopper's recommendations up to date with what
// they do, over one stream per shopping session.
type LiveRecommender interface {
	// Open starts a session for shopper userID (zero is anonymous) whose
	// lists hold at most maxResults books. The session lasts until ctx ends
	// or the stream is closed. Errors: Invalid for a maxResults the service
	// does not accept; Exhausted when the service serves as many sessions
	// as it may (try again later); Unavailable when the service cannot be
	// reached.
	Open(ctx context.Context, userID int32, maxResults int) (LiveStream, error)
}

// LiveStream is one open session of a [LiveRecommender]. For each event
// sent, the service answers with a list of books: none that the shopper
// viewed or dismissed in the session, books of the categories they look at
// first.
type LiveStream interface {
	// Send sends one event. It is safe to call from several goroutines.
	// Errors: Invalid for an unknown event type; Unavailable when the
	// stream has ended (Recv tells why).
	Send(ev Event) error
	// Recv waits for the next list. Call it from one goroutine at a time.
	// It returns io.EOF when the service ended the stream normally;
	// otherwise Invalid (an event the service refused, which ends the
	// stream), Unavailable or Internal.
	Recv() ([]Book, error)
	// Close ends the session. It may be called more than once, and while
	// Send or Recv run; they then return errors.
	Close()
}
