// Package postgres keeps the Orders service's orders in PostgreSQL,
// through pgx v5 (see platform/pgdb), in the schema "orders": the
// service's storage when it is given a database URL, where several
// replicas may share one database.
//
// The tables are those of package sqlite, with the same columns and
// rules (migrations/), so that the data moves between the two as it is:
// an order is a row of orders, its lines and its promotion codes, with
// the idempotency key that recorded it, all written in one transaction,
// so that a crash at any point leaves the whole order or none of it, and
// the key with it.
//
// Every change is one pgdb.DB.Tx. A Create looks its key up, and records
// the order unless the key is there; the unique constraint on the key
// makes the rule hold across replicas: of two Creates of one key at once,
// the second's insert waits for the first's commit and is refused, and,
// run again, finds the first's order. A Cancel updates its order's row,
// which PostgreSQL locks, only while it is placed: an order is cancelled
// once. Reads are single statements on the pool, an order with its lines
// and promotions in one row (arrays in the order of n), so each listing
// is one snapshot. The listings come newest first, then by id, compared
// byte by byte as SQLite does: the same pages from both stores.
//
// While the database cannot be reached, or a connection to it is lost,
// every method fails with the kernel's Unavailable (pgdb.Classify), which
// a gRPC caller receives as UNAVAILABLE and may retry: a Create retried
// with its key finds the order the first recorded, if it committed.
package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Schema is the name of the Orders service's schema.
const Schema = "orders"

// keyConstraint is the unique constraint of the orders' idempotency keys,
// as PostgreSQL names it.
const keyConstraint = "orders_idempotency_key_key"

// The states of an order, as the table keeps them (and as
// ordersclient.StatePlaced and StateCancelled name them).
const (
	statePlaced    = "placed"
	stateCancelled = "cancelled"
)

// DB is the orders in PostgreSQL. It implements the Orders service's
// Store (internal/orders) and is safe for concurrent use; other DBs, in
// this process or others, may use the same database at once.
type DB struct {
	db *pgdb.DB
}

// Open connects to the database of st and migrates schema orders to the
// version this binary knows (see pgdb.Open). It fails if the database
// cannot be reached, or if the schema is newer than this binary knows or
// is another program's. Its errors name the database without its
// password.
func Open(ctx context.Context, st pgdb.Settings) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open orders database: %w", err)
	}
	db, err := pgdb.Open(ctx, st, pgdb.Schema{Name: Schema, Migrations: ms})
	if err != nil {
		return nil, fmt.Errorf("open orders database: %w", err)
	}
	return &DB{db: db}, nil
}

// Close closes the connections.
func (db *DB) Close() error { return db.db.Close() }

// Ping returns nil when the database answers, for readiness; otherwise
// an error that names it, without its password.
func (db *DB) Ping(ctx context.Context) error { return db.db.Ping(ctx) }

// String names the database for logs, without its password.
func (db *DB) String() string { return "PostgreSQL " + db.db.String() }

// millis and fromMillis convert times to and from the database's Unix
// milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// querier is what the reads need: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Create implements the Orders service's Store: it looks key up, and
// records order with key and fingerprint unless the key is there; then it
// returns the order the key recorded and its fingerprint, with created
// false. The order's rows are written in one round trip, one implicit
// transaction (a batch: all or none), and the key's unique constraint
// refuses a second order of the key made since the look: the look, run
// again, finds the first.
func (db *DB) Create(ctx context.Context, key string, fingerprint [sha256.Size]byte, o bookshop.Order) (bookshop.Order, [sha256.Size]byte, bool, error) {
	for run := 1; ; run++ {
		var (
			id string
			fp []byte
		)
		err := db.db.Pool.QueryRow(ctx, `SELECT id, fingerprint FROM orders WHERE idempotency_key = $1`, key).Scan(&id, &fp)
		switch {
		case err == nil:
			orders, err := readOrders(ctx, db.db.Pool, `WHERE o.id = $1`, id)
			if err != nil {
				return bookshop.Order{}, [sha256.Size]byte{}, false, pgdb.Classify(err)
			}
			if len(orders) != 1 || len(fp) != sha256.Size {
				return bookshop.Order{}, [sha256.Size]byte{}, false, fmt.Errorf("create order: the order %s of key %q is not whole", id, key)
			}
			return orders[0], [sha256.Size]byte(fp), false, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return bookshop.Order{}, [sha256.Size]byte{}, false, pgdb.Classify(fmt.Errorf("create order: read key: %w", err))
		}
		err = insert(ctx, db.db.Pool, key, fingerprint, o)
		if pgdb.UniqueViolation(err, keyConstraint) && run < 2 {
			// Another Create of the same key committed since this one
			// looked for it: look again, to find that one's order.
			continue
		}
		if err != nil {
			return bookshop.Order{}, [sha256.Size]byte{}, false, pgdb.Classify(err)
		}
		return o, fingerprint, true, nil
	}
}

// batchSender is what insert needs: the pool (a batch is then one
// implicit transaction), or a transaction.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// insert writes order o, its lines and its promotions through tx, in one
// round trip.
func insert(ctx context.Context, tx batchSender, key string, fingerprint [sha256.Size]byte, o bookshop.Order) error {
	a := o.Shipping
	var b pgx.Batch
	b.Queue(`INSERT INTO orders (id, idempotency_key, fingerprint, customer_id, currency,
		subtotal, discount, total, payment_id, ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,
		state, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		o.ID, key, fingerprint[:], o.CustomerID, o.Total.Currency,
		o.Subtotal.Units, o.Discount.Units, o.Total.Units, o.PaymentID, a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country,
		o.State, millis(o.Created), millis(o.Updated))
	for i, l := range o.Lines {
		b.Queue(`INSERT INTO order_lines (order_id, n, book_id, title, unit_price, quantity, total)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, o.ID, i+1, l.BookID, l.Title, l.UnitPrice.Units, l.Quantity, l.Total.Units)
	}
	for i, code := range o.Promotions {
		b.Queue(`INSERT INTO order_promotions (order_id, n, code) VALUES ($1, $2, $3)`, o.ID, i+1, code)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("create order %s: %w", o.ID, err)
	}
	return nil
}

// Order implements the Orders service's Store: the order id, of customer
// customerID unless it is 0. Errors: NotFound.
func (db *DB) Order(ctx context.Context, customerID int32, id string) (bookshop.Order, error) {
	var (
		orders []bookshop.Order
		err    error
	)
	if customerID == 0 {
		orders, err = readOrders(ctx, db.db.Pool, `WHERE o.id = $1`, id)
	} else {
		orders, err = readOrders(ctx, db.db.Pool, `WHERE o.id = $1 AND o.customer_id = $2`, id, customerID)
	}
	if err != nil {
		return bookshop.Order{}, pgdb.Classify(err)
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if customerID != 0 {
		where = append(where, "o.customer_id = "+arg(customerID))
	}
	if afterID != "" {
		where = append(where, "(o.created, o.id) < ("+arg(millis(afterCreated))+", "+arg(afterID)+")")
	}
	query := ""
	if len(where) > 0 {
		query = "WHERE " + strings.Join(where, " AND ")
	}
	orders, err := readOrders(ctx, db.db.Pool, query+` ORDER BY o.created DESC, o.id DESC LIMIT `+arg(limit), args...)
	return orders, pgdb.Classify(err)
}

// Cancel implements the Orders service's Store. The update locks the
// order's row: a Cancel at the same time, on any replica, waits for it,
// and then finds the order cancelled, and changes nothing.
func (db *DB) Cancel(ctx context.Context, id string, now time.Time) (bookshop.Order, bool, error) {
	var (
		o       bookshop.Order
		changed bool
	)
	err := db.db.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE orders SET state = $1, updated = greatest(created, $2) WHERE id = $3 AND state = $4`,
			stateCancelled, millis(now), id, statePlaced)
		if err != nil {
			return fmt.Errorf("cancel order %s: %w", id, err)
		}
		orders, err := readOrders(ctx, tx, `WHERE o.id = $1`, id)
		if err != nil {
			return err
		}
		if len(orders) == 0 {
			return bookshop.Errorf(bookshop.NotFound, "no such order")
		}
		o, changed = orders[0], tag.RowsAffected() > 0
		return nil
	})
	if err != nil {
		return bookshop.Order{}, false, err
	}
	return o, changed, nil
}

// CountOrders returns the number of orders, for the log at start.
func (db *DB) CountOrders(ctx context.Context) (int, error) {
	var n int
	if err := db.db.Pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil {
		return 0, pgdb.Classify(fmt.Errorf("count orders: %w", err))
	}
	return n, nil
}

// readOrders returns the orders that the query's clause selects (after
// WHERE, ORDER BY and LIMIT of the table orders, named o; its arguments
// args), in its order, each whole: one statement, each order's lines and
// promotions in arrays of its row, in the order of n.
func readOrders(ctx context.Context, q querier, clause string, args ...any) ([]bookshop.Order, error) {
	rows, err := q.Query(ctx, `SELECT o.id, o.customer_id, o.currency, o.subtotal, o.discount, o.total, o.payment_id,
		o.ship_name, o.ship_line1, o.ship_line2, o.ship_city, o.ship_postal_code, o.ship_country, o.state, o.created, o.updated,
		l.book_ids, l.titles, l.unit_prices, l.quantities, l.totals, p.codes
		FROM orders o
		CROSS JOIN LATERAL (SELECT array_agg(book_id ORDER BY n) AS book_ids, array_agg(title ORDER BY n) AS titles,
			array_agg(unit_price ORDER BY n) AS unit_prices, array_agg(quantity ORDER BY n) AS quantities,
			array_agg(total ORDER BY n) AS totals
			FROM order_lines WHERE order_id = o.id) l
		CROSS JOIN LATERAL (SELECT array_agg(code ORDER BY n) AS codes FROM order_promotions WHERE order_id = o.id) p
		`+clause, args...)
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	var (
		orders                    []bookshop.Order
		o                         bookshop.Order
		a                         = &o.Shipping
		currency                  string
		subtotal, discount, total int64
		created, updated          int64
		bookIDs                   []int32
		titles                    []string
		unitPrices, lineTotals    []int64
		quantities                []int32
		codes                     []string
	)
	_, err = pgx.ForEachRow(rows, []any{&o.ID, &o.CustomerID, &currency, &subtotal, &discount, &total, &o.PaymentID,
		&a.Name, &a.Line1, &a.Line2, &a.City, &a.PostalCode, &a.Country, &o.State, &created, &updated,
		&bookIDs, &titles, &unitPrices, &quantities, &lineTotals, &codes}, func() error {
		n := len(bookIDs)
		if len(titles) != n || len(unitPrices) != n || len(quantities) != n || len(lineTotals) != n {
			return fmt.Errorf("order %s: its lines' columns differ in length", o.ID)
		}
		got := o
		got.Subtotal = bookshop.Money{Units: subtotal, Currency: currency}
		got.Discount = bookshop.Money{Units: discount, Currency: currency}
		got.Total = bookshop.Money{Units: total, Currency: currency}
		got.Created, got.Updated = fromMillis(created), fromMillis(updated)
		got.Lines = nil
		for i := range n {
			got.Lines = append(got.Lines, bookshop.OrderLine{
				BookID: bookIDs[i], Title: titles[i], Quantity: int(quantities[i]),
				UnitPrice: bookshop.Money{Units: unitPrices[i], Currency: currency},
				Total:     bookshop.Money{Units: lineTotals[i], Currency: currency},
			})
		}
		got.Promotions = nil
		if len(codes) > 0 {
			got.Promotions = append([]string(nil), codes...)
		}
		orders = append(orders, got)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	return orders, nil
}
