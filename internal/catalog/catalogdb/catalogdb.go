// Package catalogdb holds what the catalog's two stores, package sqlite
// (one file, one process) and package postgres (one database, any number
// of replicas), share, so that an import gives the same answer on
// either: the caps on the catalog's size and their refusal ([Limits]),
// the fingerprint of an import's items ([Fingerprint]), the record of a
// keyed import's answer ([EncodeResult], [DecodeResult]), and the
// reasons an item is refused for a book already there ([Taken]).
package catalogdb

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// BatchRows is how many items an import holds before it writes them to
// its staging table, import_items, and how many it reads back at a time
// to check and write them: the items an import holds in memory, whatever
// its size.
const BatchRows = 256

// Limits bound the catalog a store holds in memory, whose size grows with
// its books and with the text of their titles and authors: an import that
// would take the catalog past either is refused whole, with an Exhausted
// error that says how far, before it commits. A field of 0 is no limit.
type Limits struct {
	// Books is the most books.
	Books int
	// TextBytes is the most bytes of titles and authors, of all the books
	// together, in UTF-8.
	TextBytes int64
}

// Over reports whether a catalog of books books and text bytes of titles
// and authors is past l.
func (l Limits) Over(books int, text int64) bool {
	return (l.Books > 0 && books > l.Books) || (l.TextBytes > 0 && text > l.TextBytes)
}

// Error returns the Exhausted error of an import of n books that would
// take the catalog to books books and text bytes of titles and authors,
// past l.
func (l Limits) Error(n, books int, text int64) error {
	const fix = "nothing was written: import fewer books, or raise the Catalog's cap with its memory limit (docs/capacity.md)"
	if l.Books > 0 && books > l.Books {
		return bookshop.Errorf(bookshop.Exhausted, "the import's %d books would take the catalog to %d, past its cap of %d books (-max-books): %s", n, books, l.Books, fix)
	}
	got, limit := mib(text), mib(l.TextBytes)
	if got == limit { // just past it
		got, limit = strconv.FormatInt(text, 10)+" bytes", strconv.FormatInt(l.TextBytes, 10)+" bytes"
	}
	return bookshop.Errorf(bookshop.Exhausted, "the import's %d books would take the titles and authors of the catalog to %s, past its cap of %s (-max-text-mib): %s",
		n, got, limit, fix)
}

// mib formats n bytes in mebibytes, for people.
func mib(n int64) string {
	return strings.TrimSuffix(strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64), ".0") + " MiB"
}

// TextBytes returns the bytes of b's title and author, as Limits count
// them.
func TextBytes(b bookshop.Book) int64 { return int64(len(b.Title) + len(b.Author)) }

// Fingerprint is the SHA-256 of an import's items, in order, and of how
// many there were: what tells a retry of an import from another import
// under the same key. The zero value is not ready: use NewFingerprint.
type Fingerprint struct {
	hash hash.Hash
	n    int64
	num  [8]byte
}

// NewFingerprint returns the fingerprint of no items.
func NewFingerprint() *Fingerprint { return &Fingerprint{hash: sha256.New()} }

// Add adds it: each field and the line, length-prefixed, in order.
func (f *Fingerprint) Add(it bookshop.ImportItem) {
	b := it.Book
	f.put(int64(b.ID))
	f.put(int64(b.Category))
	f.str(b.Title)
	f.str(b.Author)
	f.put(int64(b.Year))
	f.put(b.Price.Units)
	f.str(b.Price.Currency)
	f.put(int64(it.Line))
	f.n++
}

func (f *Fingerprint) put(v int64) {
	binary.BigEndian.PutUint64(f.num[:], uint64(v))
	f.hash.Write(f.num[:])
}

func (f *Fingerprint) str(s string) {
	f.put(int64(len(s)))
	f.hash.Write([]byte(s))
}

// Sum returns the fingerprint of the items added, then of how many there
// were. Call it once, after the last item.
func (f *Fingerprint) Sum() [sha256.Size]byte {
	f.put(f.n)
	var sum [sha256.Size]byte
	f.hash.Sum(sum[:0])
	return sum
}

// importResult is an import's answer as import_keys keeps it:
// {"imported": N, "rejected": [{"index", "line", "reason"}...]}.
type importResult struct {
	Imported int               `json:"imported"`
	Rejected []importRejection `json:"rejected"`
}

// importRejection is a bookshop.Rejection as import_keys keeps it.
type importRejection struct {
	Index  int    `json:"index"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// EncodeResult returns res as import_keys' result column keeps it: its
// count and its rejections, as JSON.
func EncodeResult(res bookshop.ImportResult) (string, error) {
	r := importResult{Imported: res.Imported, Rejected: make([]importRejection, len(res.Rejected))}
	for i, rj := range res.Rejected {
		r.Rejected[i] = importRejection(rj)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("record the import's result: %w", err)
	}
	return string(b), nil
}

// DecodeResult returns the result that EncodeResult made, Replayed: the
// answer to a retry of the import.
func DecodeResult(s string) (bookshop.ImportResult, error) {
	var r importResult
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return bookshop.ImportResult{}, fmt.Errorf("read the import's result: %w", err)
	}
	res := bookshop.ImportResult{Imported: r.Imported, Replayed: true}
	for _, rj := range r.Rejected {
		res.Rejected = append(res.Rejected, bookshop.Rejection(rj))
	}
	return res, nil
}

// KeyConflict is the error of an import under key, a key that an import
// of other items used.
func KeyConflict(key string) error {
	return bookshop.Errorf(bookshop.Conflict, "idempotency key %q was used by an import of other books: use a new key for each import", key)
}

// Taken says where the books an import writes are: the line of each, by
// id, for the reasons of the items refused after them (see Taken.Where).
type Taken map[int32]int

// Where says where the book of id is: earlier in this import (at its
// line, when known), or in the catalog.
func (t Taken) Where(id int32) string {
	if line, ok := t[id]; ok {
		if line > 0 {
			return "earlier in this import (line " + strconv.Itoa(line) + ")"
		}
		return "earlier in this import"
	}
	return "in the catalog"
}

// IDUsed is the reason an item that asks for id is refused: book title
// by author holds it.
func (t Taken) IDUsed(id int32, title, author string) string {
	return fmt.Sprintf("id: %d is already used by %q by %s, %s", id, title, author, t.Where(id))
}

// TitleUsed is the reason b is refused: book id has its title and author
// (the same MatchKey).
func (t Taken) TitleUsed(b bookshop.Book, id int32) string {
	return fmt.Sprintf("title: %q by %s is already book %d, %s", b.Title, b.Author, id, t.Where(id))
}

// MatchKey returns b's bookshop.Book.MatchKey as the stores' match_key
// column holds it: the folded title and author separated by U+001F, not
// U+0000, which PostgreSQL's text cannot hold. Neither a title nor an
// author may hold a control character (Book.Validate), so the key still
// tells every two books apart exactly as MatchKey does.
func MatchKey(b bookshop.Book) string { return strings.ReplaceAll(b.MatchKey(), "\x00", "\x1f") }
