// Package sqlite keeps the Orders service's orders in an SQLite database,
// through modernc.org/sqlite, a driver in pure Go (no cgo).
//
// The database is one file. Open creates it when it is missing and applies
// the schema migrations embedded in the binary. An order is a row of
// orders, its lines and its promotion codes, with the idempotency key that
// recorded it: all written in one transaction, so that a crash at any
// point leaves the whole order or none of it, and the key with it. A
// commit is synced (synchronous=FULL) before Create returns: an order
// acknowledged survives a power cut, not only a crash of the process.
//
// Writes take turns on one connection, each a transaction that takes
// SQLite's write lock as it begins (BEGIN IMMEDIATE), so that the lookup
// of a key and the recording of its order are one step against every
// other goroutine and process. Reads go through a pool of read-only
// connections, and do not wait for writes. One process writes the file:
// the Orders service runs as one replica on it. Replicas share a
// PostgreSQL database instead (package postgres).
package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Memory is the path that opens a database in memory, gone at Close.
const Memory = sqlitedb.Memory

// readers is the most read-only connections open at once to a file: the
// pages of orders that customers open run beside each other and beside a
// write, which WAL allows.
const readers = 4

// The states of an order, as the table keeps them (and as
// ordersclient.StatePlaced and StateCancelled name them).
const (
	statePlaced    = "placed"
	stateCancelled = "cancelled"
)

// DB is the orders database. It implements the Orders service's Store
// (internal/orders) and is safe for concurrent use.
type DB struct {
	pools *sqlitedb.DB // writes through Write, one at a time; reads through Read
}

// Open opens the orders database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. It fails if the
// file is not a Bookshop orders database or has a newer schema than this
// binary knows.
func Open(ctx context.Context, path string) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open orders database %q: %w", path, err)
	}
	// FULL, not NORMAL: in WAL mode NORMAL may lose the last transactions
	// at a power cut, and an order recorded after a card was charged must
	// be there when Checkout is told it is.
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: readers})
	if err != nil {
		return nil, fmt.Errorf("open orders database %q: %w", path, err)
	}
	if err := sqlitedb.Migrate(ctx, pools, sqlitedb.Schema{Name: "orders database", Migrations: ms}); err != nil {
		pools.Close()
		return nil, fmt.Errorf("open orders database %q: %w", path, err)
	}
	return &DB{pools: pools}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.pools.Close() }

// Ping returns nil when the database answers, for readiness: a file that
// is open always does, unless its disk fails.
func (db *DB) Ping(ctx context.Context) error { return db.pools.Read.PingContext(ctx) }

// millis and fromMillis convert times to and from the database's Unix
// milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Create implements the Orders service's Store: in one transaction, it
// looks key up, and records order with key and fingerprint unless the key
// is there; then it returns the order the key recorded and its
// fingerprint, with created false.
func (db *DB) Create(ctx context.Context, key string, fingerprint [sha256.Size]byte, o bookshop.Order) (bookshop.Order, [sha256.Size]byte, bool, error) {
	var none [sha256.Size]byte
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return bookshop.Order{}, none, false, fmt.Errorf("create order: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var (
		id string
		fp []byte
	)
	err = tx.QueryRowContext(ctx, `SELECT id, fingerprint FROM orders WHERE idempotency_key = ?`, key).Scan(&id, &fp)
	switch {
	case err == nil:
		orders, err := readOrders(ctx, tx, `WHERE o.id = ?`, id)
		if err != nil {
			return bookshop.Order{}, none, false, err
		}
		if len(orders) != 1 || len(fp) != sha256.Size {
			return bookshop.Order{}, none, false, fmt.Errorf("create order: the order %s of key %q is not whole", id, key)
		}
		if err := tx.EndReplay(); err != nil { // answered again: on the disk first
			return bookshop.Order{}, none, false, fmt.Errorf("create order: %w", err)
		}
		return orders[0], [sha256.Size]byte(fp), false, nil
	case !errors.Is(err, sql.ErrNoRows):
		return bookshop.Order{}, none, false, fmt.Errorf("create order: read key: %w", err)
	}
	if err := insert(ctx, tx, key, fingerprint, o); err != nil {
		return bookshop.Order{}, none, false, err
	}
	if err := tx.Commit(); err != nil {
		return bookshop.Order{}, none, false, fmt.Errorf("create order %s: commit: %w", o.ID, err)
	}
	return o, fingerprint, true, nil
}

// insert writes order o, its lines and its promotions in tx.
func insert(ctx context.Context, tx *sqlitedb.Tx, key string, fingerprint [sha256.Size]byte, o bookshop.Order) error {
	a := o.Shipping
	if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, idempotency_key, fingerprint, customer_id, currency,
		subtotal, discount, total, payment_id, ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,
		state, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, key, fingerprint[:], o.CustomerID, o.Total.Currency,
		o.Subtotal.Units, o.Discount.Units, o.Total.Units, o.PaymentID, a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country,
		o.State, millis(o.Created), millis(o.Updated)); err != nil {
		return fmt.Errorf("create order %s: %w", o.ID, err)
	}
	for i, l := range o.Lines {
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, n, book_id, title, unit_price, quantity, total)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, o.ID, i+1, l.BookID, l.Title, l.UnitPrice.Units, l.Quantity, l.Total.Units); err != nil {
			return fmt.Errorf("create order %s: line %d: %w", o.ID, i+1, err)
		}
	}
	for i, code := range o.Promotions {
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_promotions (order_id, n, code) VALUES (?, ?, ?)`, o.ID, i+1, code); err != nil {
			return fmt.Errorf("create order %s: promotion %d: %w", o.ID, i+1, err)
		}
	}
	return nil
}

// Order implements the Orders service's Store: the order id, of customer
// customerID unless it is 0. Errors: NotFound.
func (db *DB) Order(ctx context.Context, customerID int32, id string) (bookshop.Order, error) {
	tx, err := db.pools.BeginRead(ctx)
	if err != nil {
		return bookshop.Order{}, fmt.Errorf("read order: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	var orders []bookshop.Order
	if customerID == 0 {
		orders, err = readOrders(ctx, tx, `WHERE o.id = ?`, id)
	} else {
		orders, err = readOrders(ctx, tx, `WHERE o.id = ? AND o.customer_id = ?`, id, customerID)
	}
	if err != nil {
		return bookshop.Order{}, err
	}
	if len(orders) == 0 {
		return bookshop.Order{}, bookshop.Errorf(bookshop.NotFound, "no such order")
	}
	return orders[0], nil
}

// List implements the Orders service's Store.
func (db *DB) List(ctx context.Context, customerID int32, afterCreated time.Time, afterID string, limit int) ([]bookshop.Order, error) {
	var (
		where []string
		args  []any
	)
	if customerID != 0 {
		where, args = append(where, "o.customer_id = ?"), append(args, customerID)
	}
	if afterID != "" {
		where, args = append(where, "(o.created, o.id) < (?, ?)"), append(args, millis(afterCreated), afterID)
	}
	query := ""
	if len(where) > 0 {
		query = "WHERE " + strings.Join(where, " AND ")
	}
	tx, err := db.pools.BeginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("list orders: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	return readOrders(ctx, tx, query+` ORDER BY o.created DESC, o.id DESC LIMIT ?`, append(args, limit)...)
}

// Cancel implements the Orders service's Store.
func (db *DB) Cancel(ctx context.Context, id string, now time.Time) (bookshop.Order, bool, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return bookshop.Order{}, false, fmt.Errorf("cancel order %s: begin: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	r, err := tx.ExecContext(ctx, `UPDATE orders SET state = ?, updated = max(created, ?) WHERE id = ? AND state = ?`,
		stateCancelled, millis(now), id, statePlaced)
	if err != nil {
		return bookshop.Order{}, false, fmt.Errorf("cancel order %s: %w", id, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return bookshop.Order{}, false, fmt.Errorf("cancel order %s: %w", id, err)
	}
	orders, err := readOrders(ctx, tx, `WHERE o.id = ?`, id)
	if err != nil {
		return bookshop.Order{}, false, err
	}
	if len(orders) == 0 {
		return bookshop.Order{}, false, bookshop.Errorf(bookshop.NotFound, "no such order")
	}
	if err := tx.Commit(); err != nil {
		return bookshop.Order{}, false, fmt.Errorf("cancel order %s: commit: %w", id, err)
	}
	return orders[0], n > 0, nil
}

// CountOrders returns the number of orders, for the log at start.
func (db *DB) CountOrders(ctx context.Context) (int, error) {
	var n int
	if err := db.pools.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count orders: %w", err)
	}
	return n, nil
}

// readOrders returns the orders that the query's clause selects (after
// WHERE, ORDER BY and LIMIT of the table orders, named o), in its order,
// each whole: its lines and promotions read in the same transaction.
func readOrders(ctx context.Context, tx *sqlitedb.Tx, clause string, args ...any) ([]bookshop.Order, error) {
	rows, err := tx.QueryContext(ctx, `SELECT o.id, o.customer_id, o.currency, o.subtotal, o.discount, o.total, o.payment_id,
		o.ship_name, o.ship_line1, o.ship_line2, o.ship_city, o.ship_postal_code, o.ship_country, o.state, o.created, o.updated
		FROM orders o `+clause, args...)
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	defer rows.Close()
	var (
		orders []bookshop.Order
		index  = map[string]int{}
	)
	for rows.Next() {
		var (
			o                       bookshop.Order
			currency                string
			created, updated        int64
			subtotal, discount, tot int64
			a                       = &o.Shipping
		)
		if err := rows.Scan(&o.ID, &o.CustomerID, &currency, &subtotal, &discount, &tot, &o.PaymentID,
			&a.Name, &a.Line1, &a.Line2, &a.City, &a.PostalCode, &a.Country, &o.State, &created, &updated); err != nil {
			return nil, fmt.Errorf("read orders: %w", err)
		}
		o.Subtotal = bookshop.Money{Units: subtotal, Currency: currency}
		o.Discount = bookshop.Money{Units: discount, Currency: currency}
		o.Total = bookshop.Money{Units: tot, Currency: currency}
		o.Created, o.Updated = fromMillis(created), fromMillis(updated)
		index[o.ID] = len(orders)
		orders = append(orders, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	if len(orders) == 0 {
		return nil, nil
	}
	ids := make([]any, len(orders))
	for i, o := range orders {
		ids[i] = o.ID
	}
	in := "(?" + strings.Repeat(", ?", len(ids)-1) + ")"
	if err := readLines(ctx, tx, in, ids, orders, index); err != nil {
		return nil, err
	}
	if err := readPromotions(ctx, tx, in, ids, orders, index); err != nil {
		return nil, err
	}
	return orders, nil
}

// readLines reads the lines of the orders ids (in, their placeholders)
// into orders, found by index.
func readLines(ctx context.Context, tx *sqlitedb.Tx, in string, ids []any, orders []bookshop.Order, index map[string]int) error {
	rows, err := tx.QueryContext(ctx, `SELECT order_id, book_id, title, unit_price, quantity, total
		FROM order_lines WHERE order_id IN `+in+` ORDER BY order_id, n`, ids...)
	if err != nil {
		return fmt.Errorf("read order lines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id           string
			l            bookshop.OrderLine
			price, total int64
		)
		if err := rows.Scan(&id, &l.BookID, &l.Title, &price, &l.Quantity, &total); err != nil {
			return fmt.Errorf("read order lines: %w", err)
		}
		o := &orders[index[id]]
		l.UnitPrice = bookshop.Money{Units: price, Currency: o.Total.Currency}
		l.Total = bookshop.Money{Units: total, Currency: o.Total.Currency}
		o.Lines = append(o.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read order lines: %w", err)
	}
	return nil
}

// readPromotions reads the promotion codes of the orders ids (in, their
// placeholders) into orders, found by index.
func readPromotions(ctx context.Context, tx *sqlitedb.Tx, in string, ids []any, orders []bookshop.Order, index map[string]int) error {
	rows, err := tx.QueryContext(ctx, `SELECT order_id, code FROM order_promotions WHERE order_id IN `+in+` ORDER BY order_id, n`, ids...)
	if err != nil {
		return fmt.Errorf("read order promotions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, code string
		if err := rows.Scan(&id, &code); err != nil {
			return fmt.Errorf("read order promotions: %w", err)
		}
		o := &orders[index[id]]
		o.Promotions = append(o.Promotions, code)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read order promotions: %w", err)
	}
	return nil
}
