package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	cartsqlite "github.com/bookshop-go/bookshop/internal/cart/sqlite"
	checkoutsqlite "github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	inventorysqlite "github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	orderssqlite "github.com/bookshop-go/bookshop/internal/orders/sqlite"
	paymentssqlite "github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

// CheckoutLimitFile is the name of CheckoutLimit's database file in its
// directory.
const CheckoutLimitFile = "checkout-limit.db"

// checkoutLimitStock is the stock of the limit's book at the start: the
// most the Inventory's table allows. Each call takes one copy.
const checkoutLimitStock = 1_000_000

// CheckoutLimit is the target of the limit that a purchase's database
// writes set (see [Checkout]): it needs no server. In one process, in one
// SQLite database file opened as the services open theirs (write-ahead
// log, synchronous=FULL: each commit synced to the disk before it
// returns, one writing connection, BEGIN IMMEDIATE, each statement
// prepared once and kept), each call writes in
// ONE transaction every row that one purchase of one copy of a book
// writes across the services, in their own tables (made by their own
// migrations: the same columns, constraints and indexes), with the reads
// that guard each write in the service (the idempotency keys looked up,
// the stock counted). Those are, in order:
//
//   - Cart, the book added to the cart (AddOnce): the key's lookup in
//     cart_add_keys and the cart's lines read; the carts row upserted, a
//     cart_lines row inserted, the key inserted in cart_add_keys.
//   - Checkout, the saga's record begun (Begin): the mark of the orders
//     placed read (PlacedMark), and a checkouts row inserted, state
//     reserving, with its JSON record of the lines, amounts and address,
//     in the statement that looks for another key's checkout of the cart,
//     unfinished or placed since the mark.
//   - Inventory, the copy held (Reserve): the key's lookup in
//     reservations and the book's stock and live holds counted; a
//     reservations row, its reservation_lines row and its holds row
//     inserted.
//   - Payments, the charge (AddCharge): the key's lookup in charges and
//     cancelled_keys; a charges row inserted, brand and last four digits.
//   - Checkout, the step recorded (Save): the checkouts row updated to
//     charged, with the hold's and the charge's ids.
//   - Inventory, the hold committed (Finish): the reservation and its
//     lines read; the stock row decremented, the holds row deleted, the
//     reservations row updated to committed.
//   - Checkout, the step recorded (Save): the checkouts row updated to
//     committed.
//   - Orders, the order (Create): the key's lookup in orders; an orders
//     row (with its key and fingerprint) and its order_lines row inserted.
//   - Cart, the line bought taken out (RemoveOnce): the key's lookup in
//     cart_remove_keys and the cart's lines read; the carts row deleted,
//     its cart_lines row with it (ON DELETE CASCADE), the key inserted in
//     cart_remove_keys.
//   - Checkout, the end recorded (Save): the checkouts row updated to
//     done, with the order, and its number among the orders placed.
//
// The services make these in ten transactions, in five database files,
// over gRPC, all but the saga's charged and committed synced to the disk
// before they return (and its begun synced before the charge); the limit
// is what the same writes
// cost when nothing else is done. Each worker is a customer with a cart
// of its own; all buy the same book, as the purchases of [Checkout] do.
type CheckoutLimit struct {
	db     *sqlitedb.DB
	path   string
	remove string // the directory made for the database, removed at Close
	book   int32
}

// NewCheckoutLimit returns a CheckoutLimit target whose database file,
// CheckoutLimitFile, is new in dir, or, when dir is "", in a new
// directory of the system's temporary one, removed at Close. Its calls
// buy book. It creates the tables, and the book's stock.
func NewCheckoutLimit(ctx context.Context, dir string, book int32) (*CheckoutLimit, error) {
	if book < 1 {
		return nil, fmt.Errorf("book %d: want a book id from 1", book)
	}
	t := &CheckoutLimit{book: book}
	if dir == "" {
		d, err := os.MkdirTemp("", "bookshop-checkout-limit-")
		if err != nil {
			return nil, err
		}
		dir, t.remove = d, d
	}
	t.path = filepath.Join(dir, CheckoutLimitFile)
	if _, err := os.Stat(t.path); err == nil {
		t.Close()
		return nil, fmt.Errorf("%s exists: the limit starts from a new database", t.path)
	}
	schema, err := servicesSchema(ctx, dir)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("read the services' tables: %w", err)
	}
	db, err := sqlitedb.Open(ctx, t.path, sqlitedb.Options{Synchronous: sqlitedb.SyncFull})
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("open the limit's database: %w", err)
	}
	t.db = db
	for _, stmt := range schema {
		if _, err := db.Write.ExecContext(ctx, stmt); err != nil {
			t.Close()
			return nil, fmt.Errorf("create the limit's tables: %w", err)
		}
	}
	if _, err := db.Write.ExecContext(ctx, `INSERT INTO stock (book_id, on_hand, updated_at) VALUES (?, ?, ?)`,
		book, checkoutLimitStock, time.Now().UnixMilli()); err != nil {
		t.Close()
		return nil, fmt.Errorf("stock the limit's book: %w", err)
	}
	return t, nil
}

// servicesSchema returns the statements that make the tables and indexes
// of the services whose rows a purchase writes (the Cart, the Checkout,
// the Inventory, Orders and Payments), tables first: it opens a new
// database of each in dir, as the service does (which applies its
// migrations), reads them from it, and deletes it.
func servicesSchema(ctx context.Context, dir string) ([]string, error) {
	var stmts []string
	for _, svc := range []struct {
		name string
		open func(path string) (io.Closer, error)
	}{
		{"cart", func(p string) (io.Closer, error) { return cartsqlite.Open(ctx, p) }},
		{"checkout", func(p string) (io.Closer, error) { return checkoutsqlite.Open(ctx, p) }},
		{"inventory", func(p string) (io.Closer, error) { return inventorysqlite.Open(ctx, p, nil) }},
		{"orders", func(p string) (io.Closer, error) { return orderssqlite.Open(ctx, p) }},
		{"payments", func(p string) (io.Closer, error) { return paymentssqlite.Open(ctx, p) }},
	} {
		path := filepath.Join(dir, "schema-"+svc.name+".db")
		s, err := schemaOf(ctx, path, svc.open)
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", svc.name, err)
		}
		stmts = append(stmts, s...)
	}
	return stmts, nil
}

// schemaOf makes a new database at path with open, and returns the
// statements of its tables and indexes but the migrations' own table,
// tables first.
func schemaOf(ctx context.Context, path string, open func(path string) (io.Closer, error)) ([]string, error) {
	store, err := open(path)
	if err != nil {
		return nil, err
	}
	if err := store.Close(); err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Read.QueryContext(ctx, `SELECT sql FROM sqlite_master
		WHERE type IN ('table', 'index') AND sql IS NOT NULL AND tbl_name <> 'schema_migrations'
		ORDER BY type = 'index', rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var stmts []string
	for rows.Next() {
		var stmt string
		if err := rows.Scan(&stmt); err != nil {
			return nil, err
		}
		stmts = append(stmts, stmt)
	}
	return stmts, rows.Err()
}

// Path returns the database file's path.
func (t *CheckoutLimit) Path() string { return t.path }

// Worker implements [Target]: worker i is customer i+1, with cart c-(i+1).
func (t *CheckoutLimit) Worker(_ context.Context, i int) (Worker, error) {
	return &checkoutLimitWorker{t: t, customer: int32(i + 1), cart: "c-" + strconv.Itoa(i+1)}, nil
}

// Close implements [Target]: it closes the database, and removes the
// directory it made.
func (t *CheckoutLimit) Close() error {
	var err error
	if t.db != nil {
		err = t.db.Close()
		t.db = nil
	}
	if t.remove != "" {
		err = errors.Join(err, os.RemoveAll(t.remove))
		t.remove = ""
	}
	return err
}

type checkoutLimitWorker struct {
	t        *CheckoutLimit
	customer int32
	cart     string
}

// The book, price and address of the limit's purchases.
const (
	limitTitle = "The Maltese Falcon"
	limitPrice = 1250 // cents
)

var limitAddress = bookshop.Address{Name: "Load Tester", Line1: "1 Load Street", City: "Berlin", PostalCode: "10115", Country: "DE"}

// sagaData is the JSON of the checkouts table's record column, as the
// Checkout writes it: the record but its other columns.
type sagaData struct {
	CartID                    string
	Lines                     []bookshop.OrderLine
	Subtotal, Discount, Total bookshop.Money
	Shipping                  bookshop.Address
	ReservationID             string          `json:",omitempty"`
	ChargeID                  string          `json:",omitempty"`
	ChargeTried               bool            `json:",omitempty"`
	Order                     *bookshop.Order `json:",omitempty"`
}

func (w *checkoutLimitWorker) Call(ctx context.Context) (int, error) {
	t := w.t
	now := time.Now().UTC()
	ms, secs := now.UnixMilli(), now.Unix()
	price := bookshop.Money{Units: limitPrice, Currency: "EUR"}
	lines := []bookshop.OrderLine{{BookID: t.book, Title: limitTitle, UnitPrice: price, Quantity: 1, Total: price}}
	saga := bookshop.NewID()
	var (
		addKey     = rand.Text()
		key        = rand.Text() // the checkout form's
		holdKey    = "co-" + saga + "-hold"
		payKey     = "co-" + saga + "-pay"
		orderKey   = "co-" + saga + "-order"
		removeKey  = "co-" + saga + "-cart"
		reserved   = "r-" + rand.Text()
		charge     = "ch_" + rand.Text()[:22]
		expires    = now.Add(10 * time.Minute).UnixMilli()
		fp         = sha256.Sum256([]byte(saga)) // the order's fingerprint: any 32 bytes
		request    = fmt.Sprintf("%x", sha256.Sum256([]byte(key)))
		order      = bookshop.Order{ID: "o_" + bookshop.NewID(), CustomerID: w.customer, Lines: lines, Subtotal: price, Discount: bookshop.Money{Currency: "EUR"}, Total: price, PaymentID: charge, Shipping: limitAddress, State: "placed", Created: now, Updated: now}
		record     = sagaData{CartID: w.cart, Lines: lines, Subtotal: price, Discount: order.Discount, Total: price, Shipping: limitAddress}
		stepFailed = func(step string, err error) (int, error) { return 0, fmt.Errorf("%s: %w", step, err) }
	)

	tx, err := t.db.Begin(ctx) // each statement prepared once, as the services prepare theirs
	if err != nil {
		return stepFailed("begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	exec := func(query string, args ...any) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}
	// absent looks a key up, as a service does before it writes: it must
	// not be there.
	absent := func(query string, args ...any) error {
		var v any
		switch err := tx.QueryRowContext(ctx, query, args...).Scan(&v); {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		}
		return errors.New("a fresh key was found")
	}
	// readAll reads the rows of a query to the end, as a service reads
	// what it is about to change.
	readAll := func(query string, args ...any) (int, error) {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		return n, rows.Err()
	}
	saved := func(state string) error {
		js, err := json.Marshal(record)
		if err != nil {
			return err
		}
		return exec(`UPDATE checkouts SET state = ?1, record = ?2, updated_at = ?3, attempts = ?4, next_try_at = ?5,
			placed_seq = CASE WHEN ?1 = 'done' THEN coalesce(placed_seq,
				(SELECT coalesce(max(placed_seq), 0) + 1 FROM checkouts WHERE placed_seq IS NOT NULL)) ELSE placed_seq END
			WHERE customer_id = ?6 AND key = ?7 AND id = ?8`,
			state, string(js), ms, 0, 0, w.customer, key, saga)
	}

	// The Cart: the book added.
	if err := absent(`SELECT book_id FROM cart_add_keys WHERE cart_id = ? AND key = ? AND created_at >= ?`, w.cart, addKey, secs-86400); err != nil {
		return stepFailed("cart: add: key", err)
	}
	if _, err := readAll(`SELECT book_id, quantity, seq FROM cart_lines WHERE cart_id = ? ORDER BY seq`, w.cart); err != nil {
		return stepFailed("cart: add: read", err)
	}
	if err := errors.Join(
		exec(`INSERT INTO carts (id, updated_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at`, w.cart, secs),
		exec(`INSERT INTO cart_lines (cart_id, book_id, quantity, seq) VALUES (?, ?, ?, ?)`, w.cart, t.book, 1, 1),
		exec(`INSERT INTO cart_add_keys (cart_id, key, book_id, quantity, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (cart_id, key) DO UPDATE SET book_id = excluded.book_id, quantity = excluded.quantity, created_at = excluded.created_at`,
			w.cart, addKey, t.book, 1, secs),
	); err != nil {
		return stepFailed("cart: add", err)
	}

	// The Checkout: the mark of the orders placed, read before the cart,
	// and the saga begun.
	var mark int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(placed_seq), 0) FROM checkouts WHERE placed_seq IS NOT NULL`).Scan(&mark); err != nil {
		return stepFailed("checkout: mark", err)
	}
	js, err := json.Marshal(record)
	if err != nil {
		return stepFailed("checkout: begin", err)
	}
	if err := exec(`INSERT INTO checkouts (customer_id, key, id, request, state, record, created_at, updated_at, attempts, next_try_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
		WHERE NOT EXISTS (SELECT 1 FROM checkouts INDEXED BY checkouts_open
			WHERE customer_id = ?1 AND key <> ?2 AND state NOT IN ('done', 'failed') AND json_extract(record, '$.CartID') = ?11)
		AND (?12 < 0 OR NOT EXISTS (SELECT 1 FROM checkouts INDEXED BY checkouts_placed
			WHERE placed_seq > ?12 AND customer_id = ?1 AND key <> ?2 AND json_extract(record, '$.CartID') = ?11))
		ON CONFLICT (customer_id, key) DO UPDATE SET
			id = excluded.id, request = excluded.request, state = excluded.state, record = excluded.record,
			created_at = excluded.created_at, updated_at = excluded.updated_at,
			attempts = excluded.attempts, next_try_at = excluded.next_try_at
		WHERE checkouts.state = 'failed' AND json_extract(checkouts.record, '$.ErrCode') = 'unavailable'`,
		w.customer, key, saga, request, "reserving", string(js), ms, ms, 0, 0, w.cart, mark); err != nil {
		return stepFailed("checkout: begin", err)
	}

	// The Inventory: the copy held.
	if err := absent(`SELECT id FROM reservations WHERE idempotency_key = ?`, holdKey); err != nil {
		return stepFailed("inventory: reserve: key", err)
	}
	var onHand, held int
	if err := tx.QueryRowContext(ctx, `SELECT s.on_hand,
		coalesce((SELECT sum(h.quantity) FROM holds h WHERE h.book_id = s.book_id AND h.expires_at > ?1), 0)
		FROM stock s WHERE s.book_id IN (?2)`, ms, t.book).Scan(&onHand, &held); err != nil {
		return stepFailed("inventory: reserve: stock", err)
	}
	if onHand-held < 1 {
		return stepFailed("inventory: reserve", errors.New("sold out"))
	}
	if err := errors.Join(
		exec(`INSERT INTO reservations (id, idempotency_key, state, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`, reserved, holdKey, "held", ms, expires),
		exec(`INSERT INTO reservation_lines (reservation_id, seq, book_id, quantity) VALUES (?, ?, ?, ?)`, reserved, 0, t.book, 1),
		exec(`INSERT INTO holds (book_id, reservation_id, quantity, expires_at) VALUES (?, ?, ?, ?)`, t.book, reserved, 1, expires),
	); err != nil {
		return stepFailed("inventory: reserve", err)
	}

	// Payments: the charge.
	if err := errors.Join(
		absent(`SELECT id FROM charges WHERE idempotency_key = ?`, payKey),
		absent(`SELECT 1 FROM cancelled_keys WHERE idempotency_key = ?`, payKey),
	); err != nil {
		return stepFailed("payments: charge: key", err)
	}
	if err := exec(`INSERT INTO charges (id, idempotency_key, amount_units, currency, brand, last4, state, decline_reason, created, refunded)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`, charge, payKey, price.Units, price.Currency, "visa", "4242", "approved", "", ms); err != nil {
		return stepFailed("payments: charge", err)
	}

	// The Checkout: charged.
	record.ReservationID, record.ChargeID, record.ChargeTried = reserved, charge, true
	if err := saved("charged"); err != nil {
		return stepFailed("checkout: charged", err)
	}

	// The Inventory: the hold committed, the copy taken off the stock.
	if err := absent(`SELECT state FROM reservations WHERE id = ? AND state <> 'held'`, reserved); err != nil {
		return stepFailed("inventory: commit: read", err)
	}
	if _, err := readAll(`SELECT book_id, quantity FROM reservation_lines WHERE reservation_id = ? ORDER BY seq`, reserved); err != nil {
		return stepFailed("inventory: commit: read", err)
	}
	if err := errors.Join(
		exec(`UPDATE stock SET on_hand = on_hand - ?, updated_at = ? WHERE book_id = ?`, 1, ms, t.book),
		exec(`DELETE FROM holds WHERE reservation_id = ?`, reserved),
		exec(`UPDATE reservations SET state = ?, ended_at = ? WHERE id = ?`, "committed", ms, reserved),
	); err != nil {
		return stepFailed("inventory: commit", err)
	}

	// The Checkout: committed.
	if err := saved("committed"); err != nil {
		return stepFailed("checkout: committed", err)
	}

	// Orders: the order.
	if err := absent(`SELECT id, fingerprint FROM orders WHERE idempotency_key = ?`, orderKey); err != nil {
		return stepFailed("orders: create: key", err)
	}
	a := order.Shipping
	if err := errors.Join(
		exec(`INSERT INTO orders (id, idempotency_key, fingerprint, customer_id, currency,
			subtotal, discount, total, payment_id, ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,
			state, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			order.ID, orderKey, fp[:], order.CustomerID, price.Currency, price.Units, 0, price.Units, charge,
			a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country, order.State, ms, ms),
		exec(`INSERT INTO order_lines (order_id, n, book_id, title, unit_price, quantity, total) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			order.ID, 1, t.book, limitTitle, price.Units, 1, price.Units),
	); err != nil {
		return stepFailed("orders: create", err)
	}

	// The Cart: the line bought taken out, and with it the cart.
	if err := absent(`SELECT lines FROM cart_remove_keys WHERE cart_id = ? AND key = ? AND created_at >= ?`, w.cart, removeKey, secs-86400); err != nil {
		return stepFailed("cart: remove: key", err)
	}
	if n, err := readAll(`SELECT book_id, quantity, seq FROM cart_lines WHERE cart_id = ? ORDER BY seq`, w.cart); err != nil || n != 1 {
		return stepFailed("cart: remove: read", errors.Join(err, fmt.Errorf("%d lines, want the 1 added", n)))
	}
	if err := errors.Join(
		exec(`DELETE FROM carts WHERE id = ?`, w.cart),
		exec(`INSERT INTO cart_remove_keys (cart_id, key, lines, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (cart_id, key) DO UPDATE SET lines = excluded.lines, created_at = excluded.created_at`,
			w.cart, removeKey, strconv.Itoa(int(t.book))+":1", secs),
	); err != nil {
		return stepFailed("cart: remove", err)
	}

	// The Checkout: done.
	record.Order = &order
	if err := saved("done"); err != nil {
		return stepFailed("checkout: done", err)
	}
	if err := tx.Commit(); err != nil {
		return stepFailed("commit", err)
	}
	return 1, nil
}

func (*checkoutLimitWorker) Close() error { return nil }
