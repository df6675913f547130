package loadgen

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	cartpostgres "github.com/bookshop-go/bookshop/internal/cart/postgres"
	checkoutpostgres "github.com/bookshop-go/bookshop/internal/checkout/postgres"
	inventorypostgres "github.com/bookshop-go/bookshop/internal/inventory/postgres"
	orderspostgres "github.com/bookshop-go/bookshop/internal/orders/postgres"
	paymentspostgres "github.com/bookshop-go/bookshop/internal/payments/postgres"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	promotionspostgres "github.com/bookshop-go/bookshop/internal/promotions/postgres"
)

// PostgresCheckoutLimitPrefix starts the name of the database that a
// PostgresCheckoutLimit makes on its server.
const PostgresCheckoutLimitPrefix = "bookshop_limit_"

// limitLeaseOwner is the lease that the limit's saga records carry, as a
// Checkout replica's do, and its lease's length.
const (
	limitLeaseOwner = "checkout-limit"
	limitLeaseTTL   = 35 * time.Second
)

// PostgresCheckoutLimit is [CheckoutLimit] on PostgreSQL: the limit that
// a purchase's database writes set when the services keep their data in
// one PostgreSQL server (docs/database.md). It needs no service. It makes
// a database of its own on the server it is given, and in it the schemas
// of the Cart, the Checkout, the Inventory, Orders, Payments and
// Promotions, each made by the service's own Open (its migrations, under
// its advisory lock: the same tables, constraints and indexes); it drops
// the database at Close. Each worker holds one connection (pgx, each
// statement prepared once and kept, as the services' pools do), and each
// call writes in ONE transaction, READ COMMITTED, every row that one
// purchase of one copy of a book writes across the services, with the
// statements of their PostgreSQL stores: the same reads that guard each
// write (the idempotency keys looked up), the same locks (the cart's row
// FOR UPDATE, the book's stock row FOR UPDATE before its holds are
// counted and again before the copy is taken, the customer's advisory
// lock before the look for another checkout of the cart, the payment
// key's advisory lock, the reservation's row), and the same batches. Promotions gets no
// row: a purchase of one copy earns nothing, and the Checkout does not
// ask it. The statements come in the order [CheckoutLimit] lists, but
// for the Inventory's, which come last: every purchase buys the same
// book, as those of [Checkout] do, so the limit's transactions take
// turns at its stock row, locked from the hold to the commit, and the
// limit holds it for the fewest statements that the same writes allow.
//
// The services make these in ten transactions and three statements of
// the saga log, each committed on its own, over gRPC; the limit is what
// the same writes cost in one transaction when nothing else is done.
type PostgresCheckoutLimit struct {
	server string // the server, as given: the database that the limit's was made from
	url    string // the limit's own database
	name   string // its name
	book   int32
}

// NewPostgresCheckoutLimit returns a PostgresCheckoutLimit target on the
// server of serverURL (postgres://USER:PASSWORD@HOST:PORT/DATABASE, or
// key=value pairs), whose user may create databases: it makes a new
// database there, named PostgresCheckoutLimitPrefix and a random suffix,
// with the services' schemas and the book's stock. Its calls buy book.
// Errors name the server without its password.
func NewPostgresCheckoutLimit(ctx context.Context, serverURL string, book int32) (*PostgresCheckoutLimit, error) {
	if book < 1 {
		return nil, fmt.Errorf("book %d: want a book id from 1", book)
	}
	if serverURL == "" {
		return nil, errors.New("no PostgreSQL server: want a URL such as postgres://postgres@127.0.0.1:5432/postgres")
	}
	t := &PostgresCheckoutLimit{server: serverURL, book: book, name: PostgresCheckoutLimitPrefix + strings.ToLower(rand.Text()[:12])}
	u, err := withDatabase(serverURL, t.name)
	if err != nil {
		return nil, err
	}
	if err := t.admin(ctx, `CREATE DATABASE `+t.name); err != nil {
		return nil, err
	}
	t.url = u
	st := pgdb.DefaultSettings()
	st.URL, st.MaxConns = u, 1
	for _, svc := range []struct {
		name string
		open func() (interface{ Close() error }, error)
	}{
		{"cart", func() (interface{ Close() error }, error) { return cartpostgres.Open(ctx, st) }},
		{"checkout", func() (interface{ Close() error }, error) { return checkoutpostgres.Open(ctx, st) }},
		{"inventory", func() (interface{ Close() error }, error) {
			return inventorypostgres.Open(ctx, st, map[int32]int{book: checkoutLimitStock})
		}},
		{"orders", func() (interface{ Close() error }, error) { return orderspostgres.Open(ctx, st) }},
		{"payments", func() (interface{ Close() error }, error) { return paymentspostgres.Open(ctx, st) }},
		{"promotions", func() (interface{ Close() error }, error) { return promotionspostgres.Open(ctx, st) }},
	} {
		db, err := svc.open()
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("make the limit's %s schema: %w", svc.name, err)
		}
		db.Close()
	}
	return t, nil
}

// withDatabase returns u, a URL or key=value connection string, with its
// database set to name.
func withDatabase(u, name string) (string, error) {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		parsed, err := url.Parse(u)
		if err != nil { // its text would quote u, password and all
			return "", fmt.Errorf("database URL %s does not parse", pgdb.Redact(u))
		}
		parsed.Path = "/" + name
		return parsed.String(), nil
	}
	return u + " dbname=" + name, nil // the last of a key wins
}

// admin runs sql on the server's database, on a connection of its own.
func (t *PostgresCheckoutLimit) admin(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, t.server)
	if err != nil {
		return pgdb.Classify(fmt.Errorf("PostgreSQL %s: %w", pgdb.Redact(t.server), err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("PostgreSQL %s: %s: %w", pgdb.Redact(t.server), sql, err)
	}
	return nil
}

// URL returns the connection string of the limit's database (with the
// server's password, if it has one: log pgdb.Redact(URL())).
func (t *PostgresCheckoutLimit) URL() string { return t.url }

// Database returns the name of the limit's database.
func (t *PostgresCheckoutLimit) Database() string { return t.name }

// Worker implements [Target]: worker i is customer i+1, with cart
// c-(i+1), on a connection of its own.
func (t *PostgresCheckoutLimit) Worker(ctx context.Context, i int) (Worker, error) {
	conn, err := pgx.Connect(ctx, t.url)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", pgdb.Redact(t.url), err)
	}
	return &postgresLimitWorker{t: t, conn: conn, customer: int32(i + 1), cart: "c-" + strconv.Itoa(i+1)}, nil
}

// Close implements [Target]: it drops the limit's database, and the
// connections still open to it.
func (t *PostgresCheckoutLimit) Close() error {
	if t.url == "" {
		return nil
	}
	t.url = ""
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return t.admin(ctx, `DROP DATABASE IF EXISTS `+t.name+` WITH (FORCE)`)
}

type postgresLimitWorker struct {
	t        *PostgresCheckoutLimit
	conn     *pgx.Conn
	customer int32
	cart     string
}

// checkoutCustomerLock is the first key of the Checkout's advisory lock
// of a customer, as its PostgreSQL store computes it (the customer's id
// is the second).
var checkoutCustomerLock = func() int32 {
	h := fnv.New32a()
	h.Write([]byte("bookshop checkout customers"))
	return int32(h.Sum32())
}()

// paymentsKeyLock is the key of Payments' advisory lock of an
// idempotency key, as its PostgreSQL store computes it.
func paymentsKeyLock(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte("bookshop payments key " + key))
	return int64(h.Sum64())
}

func (w *postgresLimitWorker) Call(ctx context.Context) (int, error) {
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

	tx, err := w.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return stepFailed("begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	exec := func(query string, args ...any) error {
		_, err := tx.Exec(ctx, query, args...)
		return err
	}
	// batch sends queries in one round trip, as the stores send their
	// writes.
	batch := func(queue func(b *pgx.Batch)) error {
		var b pgx.Batch
		queue(&b)
		return tx.SendBatch(ctx, &b).Close()
	}
	// absent looks a key up, as a service does before it writes: it must
	// not be there.
	absent := func(query string, args ...any) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		found := rows.Next()
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if found {
			return errors.New("a fresh key was found")
		}
		return nil
	}
	// readAll reads the rows of a query to the end, as a service reads
	// what it is about to change (or locks).
	readAll := func(query string, args ...any) (int, error) {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		return n, rows.Err()
	}
	saved := func(state string) error {
		js, err := json.Marshal(record)
		if err != nil {
			return err
		}
		ended := state == "done"
		tag, err := tx.Exec(ctx, `UPDATE checkout.checkouts SET state = $1, record = $2, updated_at = $3, attempts = $4, next_try_at = $5,
				lease_owner = CASE WHEN $6 THEN '' ELSE lease_owner END, lease_until = CASE WHEN $6 THEN 0 ELSE lease_until END
			WHERE customer_id = $7 AND key = $8 AND id = $9 AND lease_owner = $10`,
			state, string(js), ms, 0, 0, ended, w.customer, key, saga, limitLeaseOwner)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("%d records updated, want 1", tag.RowsAffected())
		}
		return err
	}
	lockCart := func() error {
		_, err := readAll(`SELECT id FROM cart.carts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, []string{w.cart})
		return err
	}
	lockStock := func() error {
		return exec(`SELECT book_id FROM inventory.stock WHERE book_id = ANY($1) ORDER BY book_id FOR UPDATE`, []int32{t.book})
	}

	// The Cart: the book added.
	if err := lockCart(); err != nil {
		return stepFailed("cart: add: lock", err)
	}
	if err := absent(`SELECT book_id, quantity, created_at FROM cart.cart_add_keys WHERE cart_id = $1 AND key = $2 FOR UPDATE`, w.cart, addKey); err != nil {
		return stepFailed("cart: add: key", err)
	}
	if _, err := readAll(`SELECT book_id, quantity, seq FROM cart.cart_lines WHERE cart_id = $1 ORDER BY seq`, w.cart); err != nil {
		return stepFailed("cart: add: read", err)
	}
	if err := batch(func(b *pgx.Batch) {
		b.Queue(`INSERT INTO cart.carts (id, updated_at) VALUES ($1, $2)`, w.cart, secs)
		b.Queue(`INSERT INTO cart.cart_lines (cart_id, book_id, quantity, seq) VALUES ($1, $2, $3, $4)`, w.cart, t.book, 1, 1)
	}); err != nil {
		return stepFailed("cart: add", err)
	}
	if err := exec(`INSERT INTO cart.cart_add_keys (cart_id, key, book_id, quantity, created_at) VALUES ($1, $2, $3, $4, $5)`,
		w.cart, addKey, t.book, 1, secs); err != nil {
		return stepFailed("cart: add: key", err)
	}

	// The Checkout: the saga begun, leased.
	js, err := json.Marshal(record)
	if err != nil {
		return stepFailed("checkout: begin", err)
	}
	// As the store's Begin: the customer's lock and the insert, which
	// looks for another key's unfinished checkout of the cart, in one trip.
	var begun int64
	if err := batch(func(b *pgx.Batch) {
		b.Queue(`SELECT pg_advisory_xact_lock($1, $2)`, checkoutCustomerLock, w.customer)
		b.Queue(`INSERT INTO checkout.checkouts (customer_id, key, id, request, state, record, created_at, updated_at, attempts, next_try_at, lease_owner, lease_until)
			SELECT $1::integer, $2::text, $3::text, $4::text, $5::text, $6::text, $7::bigint, $8::bigint, $9::integer, $10::bigint,
				$11::text, CASE WHEN $11 = '' THEN 0 ELSE (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $12::bigint END
			WHERE NOT EXISTS (SELECT 1 FROM checkout.checkouts
				WHERE customer_id = $1 AND key <> $2 AND state NOT IN ('done', 'failed') AND record::jsonb ->> 'CartID' = $13::text)
			ON CONFLICT (customer_id, key) DO UPDATE SET
				id = excluded.id, request = excluded.request, state = excluded.state, record = excluded.record,
				created_at = excluded.created_at, updated_at = excluded.updated_at,
				attempts = excluded.attempts, next_try_at = excluded.next_try_at,
				lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
			WHERE checkouts.state = 'failed' AND checkouts.record::jsonb ->> 'ErrCode' = 'unavailable'`,
			w.customer, key, saga, request, "reserving", string(js), ms, ms, 0, 0, limitLeaseOwner, limitLeaseTTL.Milliseconds(), w.cart).
			Exec(func(tag pgconn.CommandTag) error { begun = tag.RowsAffected(); return nil })
	}); err != nil || begun != 1 {
		return stepFailed("checkout: begin", cmp.Or(err, errors.New("the key was taken, or another checkout of the cart is unfinished")))
	}

	// Payments: the charge, under its key's lock.
	if err := exec(`SELECT pg_advisory_xact_lock($1)`, paymentsKeyLock(payKey)); err != nil {
		return stepFailed("payments: charge: lock", err)
	}
	if err := absent(`SELECT id, idempotency_key, amount_units, currency, brand, last4, state, decline_reason, created, refunded
		FROM payments.charges WHERE idempotency_key = $1`, payKey); err != nil {
		return stepFailed("payments: charge: key", err)
	}
	var cancelled bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payments.cancelled_keys WHERE idempotency_key = $1)`, payKey).Scan(&cancelled); err != nil || cancelled {
		return stepFailed("payments: charge: key", errors.Join(err, fmt.Errorf("cancelled %v", cancelled)))
	}
	if err := exec(`INSERT INTO payments.charges (id, idempotency_key, amount_units, currency, brand, last4, state, decline_reason, created, refunded)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)`, charge, payKey, price.Units, price.Currency, "visa", "4242", "approved", "", ms); err != nil {
		return stepFailed("payments: charge", err)
	}

	// The Checkout: charged.
	record.ReservationID, record.ChargeID, record.ChargeTried = reserved, charge, true
	if err := saved("charged"); err != nil {
		return stepFailed("checkout: charged", err)
	}

	// The Checkout: committed.
	if err := saved("committed"); err != nil {
		return stepFailed("checkout: committed", err)
	}

	// Orders: the order.
	if err := absent(`SELECT id, fingerprint FROM orders.orders WHERE idempotency_key = $1`, orderKey); err != nil {
		return stepFailed("orders: create: key", err)
	}
	a := order.Shipping
	if err := batch(func(b *pgx.Batch) {
		b.Queue(`INSERT INTO orders.orders (id, idempotency_key, fingerprint, customer_id, currency,
			subtotal, discount, total, payment_id, ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,
			state, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			order.ID, orderKey, fp[:], order.CustomerID, price.Currency, price.Units, 0, price.Units, charge,
			a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country, order.State, ms, ms)
		b.Queue(`INSERT INTO orders.order_lines (order_id, n, book_id, title, unit_price, quantity, total)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, order.ID, 1, t.book, limitTitle, price.Units, 1, price.Units)
	}); err != nil {
		return stepFailed("orders: create", err)
	}

	// The Cart: the line bought taken out, and with it the cart.
	if err := lockCart(); err != nil {
		return stepFailed("cart: remove: lock", err)
	}
	if err := absent(`SELECT lines, created_at FROM cart.cart_remove_keys WHERE cart_id = $1 AND key = $2 FOR UPDATE`, w.cart, removeKey); err != nil {
		return stepFailed("cart: remove: key", err)
	}
	if n, err := readAll(`SELECT book_id, quantity, seq FROM cart.cart_lines WHERE cart_id = $1 ORDER BY seq`, w.cart); err != nil || n != 1 {
		return stepFailed("cart: remove: read", errors.Join(err, fmt.Errorf("%d lines, want the 1 added", n)))
	}
	if err := batch(func(b *pgx.Batch) {
		b.Queue(`DELETE FROM cart.carts WHERE id = $1`, w.cart) // its lines go with it
	}); err != nil {
		return stepFailed("cart: remove", err)
	}
	if err := exec(`INSERT INTO cart.cart_remove_keys (cart_id, key, lines, created_at) VALUES ($1, $2, $3, $4)`,
		w.cart, removeKey, strconv.Itoa(int(t.book))+":1", secs); err != nil {
		return stepFailed("cart: remove: key", err)
	}

	// The Checkout: done, its lease ended.
	record.Order = &order
	if err := saved("done"); err != nil {
		return stepFailed("checkout: done", err)
	}
	// The Inventory: the copy held, then committed, the copy taken off
	// the stock: last, so that the book's stock row, which every
	// purchase locks, is held for these statements and the commit alone.
	if err := absent(`SELECT id FROM inventory.reservations WHERE idempotency_key = $1`, holdKey); err != nil {
		return stepFailed("inventory: reserve: key", err)
	}
	if err := lockStock(); err != nil {
		return stepFailed("inventory: reserve: lock", err)
	}
	var (
		stocked      int32
		onHand, held int
	)
	if err := tx.QueryRow(ctx, `SELECT s.book_id, s.on_hand,
		coalesce((SELECT sum(h.quantity) FROM inventory.holds h WHERE h.book_id = s.book_id AND h.expires_at > $1), 0)
		FROM inventory.stock s WHERE s.book_id = ANY($2)`, ms, []int32{t.book}).Scan(&stocked, &onHand, &held); err != nil {
		return stepFailed("inventory: reserve: stock", err)
	}
	if onHand-held < 1 {
		return stepFailed("inventory: reserve", errors.New("sold out"))
	}
	if err := batch(func(b *pgx.Batch) {
		b.Queue(`INSERT INTO inventory.reservations (id, idempotency_key, state, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			reserved, holdKey, "held", ms, expires)
		b.Queue(`INSERT INTO inventory.reservation_lines (reservation_id, seq, book_id, quantity) VALUES ($1, $2, $3, $4)`, reserved, 0, t.book, 1)
		b.Queue(`INSERT INTO inventory.holds (book_id, reservation_id, quantity, expires_at) VALUES ($1, $2, $3, $4)`, t.book, reserved, 1, expires)
	}); err != nil {
		return stepFailed("inventory: reserve", err)
	}

	var state string
	var until int64
	if err := tx.QueryRow(ctx, `SELECT state, expires_at FROM inventory.reservations WHERE id = $1 FOR UPDATE`, reserved).Scan(&state, &until); err != nil || state != "held" {
		return stepFailed("inventory: commit: read", errors.Join(err, fmt.Errorf("state %q", state)))
	}
	if _, err := readAll(`SELECT book_id, quantity FROM inventory.reservation_lines WHERE reservation_id = $1 ORDER BY seq`, reserved); err != nil {
		return stepFailed("inventory: commit: read", err)
	}
	if err := lockStock(); err != nil {
		return stepFailed("inventory: commit: lock", err)
	}
	if err := exec(`UPDATE inventory.stock SET on_hand = on_hand - $1, updated_at = $2 WHERE book_id = $3`, 1, ms, t.book); err != nil {
		return stepFailed("inventory: commit", err)
	}
	if err := batch(func(b *pgx.Batch) {
		b.Queue(`DELETE FROM inventory.holds WHERE reservation_id = $1`, reserved)
		b.Queue(`UPDATE inventory.reservations SET state = $1, ended_at = $2 WHERE id = $3`, "committed", ms, reserved)
	}); err != nil {
		return stepFailed("inventory: commit", err)
	}

	if err := tx.Commit(ctx); err != nil {
		return stepFailed("commit", err)
	}
	return 1, nil
}

func (w *postgresLimitWorker) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.conn.Close(ctx)
}
