package tool_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	accountssqlite "github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	cartsqlite "github.com/bookshop-go/bookshop/internal/cart/sqlite"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogdb"
	catalogsqlite "github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	checkoutsqlite "github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	inventorysqlite "github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	orderssqlite "github.com/bookshop-go/bookshop/internal/orders/sqlite"
	paymentssqlite "github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
	promotionssqlite "github.com/bookshop-go/bookshop/internal/promotions/sqlite"
)

// A generated shop: the SQLite files of the services that have data to
// move, as a shop that has run for a while leaves them. Each file is made
// by the service's own SQLite store (so its schema is the binary's), then
// filled in one transaction with rows that keep every rule of the schema:
// SQLite checks each CHECK, UNIQUE and foreign key as they go in. The
// rows are drawn from a seeded source, so that every run makes the same
// shop, and hold what a move must keep: text in several scripts, quotes,
// tabs and newlines, empty strings, NULLs, blobs with zero bytes, numbers
// near the limits of their columns, and ids that do not sort in the order
// they were made.

// shopSize is how much a generated shop holds.
type shopSize struct {
	customers int // accounts, each with about 1.5 sessions
	orders    int // orders, 1 to 5 lines each, a charge each
	carts     int // carts, 1 to 5 lines each
	books     int // books with stock
}

// bigShop is the shop of the migration's figures: 100,000 orders.
var bigShop = shopSize{customers: 20_000, orders: 100_000, carts: 10_000, books: 2_000}

// raceShop is bigShop's twentieth, which TestMigrateDataBigShop moves
// under -race: the detector makes the shop's making and moving some ten
// times slower (nine minutes for bigShop). scripts/test.sh runs the test
// again without -race, for bigShop and its figures.
var raceShop = shopSize{customers: 1_000, orders: 5_000, carts: 500, books: 200}

// smallShop is a shop for the tests of refusals, quick to move.
var smallShop = shopSize{customers: 60, orders: 300, carts: 40, books: 30}

// The services a generated shop has a file of, in the order a move takes
// them.
var shopServices = []string{"catalog", "cart", "accounts", "inventory", "orders", "payments", "promotions", "checkout"}

// titles are the books' titles, in several scripts and with characters
// that a careless copy would mangle.
var titles = []string{
	"The Go Programming Language", "Ficciones", "Cien años de soledad", "Война и мир", "吾輩は猫である",
	"L'Étranger", `"Quoted" title`, "Tab\tand\nnewline", "العربية", "Ελληνικά", "😀 emoji", "back\\slash", "x",
}

// genShop makes a shop of size in dir and returns its files by service.
func genShop(tb testing.TB, dir string, size shopSize) map[string]string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	files := make(map[string]string)
	for _, s := range shopServices {
		files[s] = filepath.Join(dir, s+".db")
	}
	// Each file made by the service's own store, at the binary's version.
	opens := map[string]func(path string) error{
		"catalog":    func(p string) error { return closeStore(catalogsqlite.Open(ctx, p, nil)) },
		"cart":       func(p string) error { return closeStore(cartsqlite.Open(ctx, p)) },
		"accounts":   func(p string) error { return closeStore(accountssqlite.Open(ctx, p)) },
		"inventory":  func(p string) error { return closeStore(inventorysqlite.Open(ctx, p, nil)) },
		"orders":     func(p string) error { return closeStore(orderssqlite.Open(ctx, p)) },
		"payments":   func(p string) error { return closeStore(paymentssqlite.Open(ctx, p)) },
		"promotions": func(p string) error { return closeStore(promotionssqlite.Open(ctx, p)) },
		"checkout":   func(p string) error { return closeStore(checkoutsqlite.Open(ctx, p)) },
	}
	for _, s := range shopServices {
		if err := opens[s](files[s]); err != nil {
			tb.Fatalf("make %s: %v", files[s], err)
		}
	}
	g := &shopGen{rnd: rand.New(rand.NewPCG(16, 2026)), size: size, start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}
	for _, s := range []struct {
		name string
		fill func(context.Context, *genTx) error
	}{
		{"catalog", g.catalog}, {"accounts", g.accounts}, {"orders", g.orders}, {"payments", g.payments},
		{"promotions", g.promotions}, {"cart", g.carts}, {"inventory", g.inventory}, {"checkout", g.checkouts},
	} {
		if err := fillFile(ctx, files[s.name], s.fill); err != nil {
			tb.Fatalf("fill %s: %v", files[s.name], err)
		}
	}
	return files
}

// closeStore closes the store an Open returned, and returns the first
// error.
func closeStore[T interface{ Close() error }](db T, err error) error {
	if err != nil {
		return err
	}
	return db.Close()
}

// fillFile runs fill in one transaction on the SQLite file at path, with
// its foreign keys checked.
func fillFile(ctx context.Context, path string, fill func(context.Context, *genTx) error) error {
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncNormal})
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	g := &genTx{tx: tx, stmts: make(map[string]*sql.Stmt)}
	defer g.close()
	if err := fill(ctx, g); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// Fold the write-ahead log into the file, so that readers need no
	// more than the file.
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// genTx is a transaction that prepares each statement once: a shop is
// hundreds of thousands of inserts of a dozen kinds.
type genTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// ExecContext runs query, prepared on its first run, with args.
func (g *genTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, ok := g.stmts[query]
	if !ok {
		var err error
		if st, err = g.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		g.stmts[query] = st
	}
	return st.ExecContext(ctx, args...)
}

// close closes the prepared statements.
func (g *genTx) close() {
	for _, st := range g.stmts {
		st.Close()
	}
}

// shopGen draws a shop's rows. Its fills run in the order of genShop:
// the orders, their charges and their claims agree.
type shopGen struct {
	rnd   *rand.Rand
	size  shopSize
	start int64 // the shop's first day, Unix ms

	customers  int32 // the largest customer id
	orderIDs   []string
	orderTotal []int64
	orderCust  []int32
	cancelled  []bool
	discounted []bool
	chargeIDs  []string
}

// at returns a time in the shop's first 90 days, Unix ms.
func (g *shopGen) at() int64 { return g.start + g.rnd.Int64N(90*24*3600*1000) }

// word returns n characters from alphabet.
func (g *shopGen) word(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rnd.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	lower36 = "0123456789abcdefghijklmnopqrstuvwxyz"
	mixed62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// blob returns n random bytes, zeros among them.
func (g *shopGen) blob(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rnd.UintN(256))
	}
	b[0] = 0
	return b
}

// checkouts: the saga log of the last orders' checkouts (a fiftieth of
// the orders), in every state, a few leased to a replica, their records
// encoded as the Checkout encodes them (saga.Encode).
func (g *shopGen) checkouts(ctx context.Context, tx *genTx) error {
	states := []saga.State{saga.Done, saga.Done, saga.Done, saga.Failed, saga.Reserving, saga.Charged, saga.Committed, saga.Ordered, saga.Undoing}
	usd := func(units int64) bookshop.Money { return bookshop.Money{Units: units, Currency: "USD"} }
	for i := len(g.orderIDs) - len(g.orderIDs)/50; i < len(g.orderIDs); i++ {
		state := states[i%len(states)]
		r := &saga.Record{
			CustomerID: g.orderCust[i], Key: "checkout-" + g.word(30, mixed62), ID: "att_" + g.word(24, lower36),
			Request: g.word(43, mixed62), State: state, CartID: fmt.Sprintf("customer:%d", g.orderCust[i]),
			Lines:    []bookshop.OrderLine{{BookID: 7, Title: titles[i%len(titles)], UnitPrice: usd(1250), Quantity: 2, Total: usd(2500)}},
			Subtotal: usd(2500), Total: usd(2500),
			Shipping: bookshop.Address{Name: fmt.Sprintf("Customer %d", g.orderCust[i]), Line1: "1 Rue de l'Été", City: "Paris", PostalCode: "75001", Country: "FR"},
		}
		if state != saga.Reserving {
			r.ReservationID, r.ChargeID, r.ChargeTried = "r_"+g.word(24, lower36), g.chargeIDs[i], true
		}
		if state == saga.Failed {
			r.ErrCode, r.ErrMessage = bookshop.Conflict, "The card was declined: \"insufficient funds\"."
		}
		record, err := saga.Encode(r)
		if err != nil {
			return err
		}
		created := g.at()
		owner, until := "", int64(0)
		if i%11 == 0 {
			owner, until = "checkout-"+g.word(8, lower36), created+30_000
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkouts (customer_id, key, id, request, state, record, created_at, updated_at, attempts, next_try_at, lease_owner, lease_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.CustomerID, r.Key, r.ID, r.Request, string(state), record, created, created+g.rnd.Int64N(60_000), i%4, created+int64(i%4)*1000, owner, until); err != nil {
			return fmt.Errorf("checkout %d: %w", i, err)
		}
	}
	return nil
}

// accounts: customers (AUTOINCREMENT ids; the last three deleted, so
// that the counter is past the largest id) and their sessions.
func (g *shopGen) accounts(ctx context.Context, tx *genTx) error {
	n := g.size.customers + 3
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("Customer %d %s", i, titles[i%len(titles)])
		if _, err := tx.ExecContext(ctx, `INSERT INTO customers (email, name, password_hash, created) VALUES (?, ?, ?, ?)`,
			fmt.Sprintf("customer%d@example.com", i), name,
			"$argon2id$v=19$m=19456,t=2,p=1$"+g.word(22, mixed62)+"$"+g.word(43, mixed62), g.at()); err != nil {
			return fmt.Errorf("customer %d: %w", i, err)
		}
	}
	for i := 0; i < g.size.customers*3/2; i++ {
		created := g.at()
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, customer_id, created, expires) VALUES (?, ?, ?, ?)`,
			g.blob(32), 1+g.rnd.IntN(n), created, created+30*24*3600*1000); err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM customers WHERE id > ?`, g.size.customers); err != nil {
		return err
	}
	g.customers = int32(g.size.customers)
	return nil
}

// orders: orders of 1 to 5 lines, a tenth with the promotion's discount
// (the cheapest copy free) and a twentieth cancelled.
func (g *shopGen) orders(ctx context.Context, tx *genTx) error {
	countries := []string{"DE", "US", "JP", "FR", "BR"}
	for i := range g.size.orders {
		id := "o_" + g.word(16, lower36) + fmt.Sprintf("%010d", i) // unique, and not in the order made
		cust := 1 + g.rnd.Int32N(g.customers)
		nLines := 1 + g.rnd.IntN(5)
		type line struct {
			book          int32
			price, qty, n int64
		}
		lines := make([]line, 0, nLines)
		used := make(map[int32]bool)
		var subtotal, cheapest int64
		for n := 1; n <= nLines; n++ {
			book := 1 + g.rnd.Int32N(int32(g.size.books))
			if n == 5 {
				book = 2147483647 // the largest book id
			}
			if used[book] {
				continue
			}
			used[book] = true
			l := line{book: book, price: 100 + g.rnd.Int64N(9900), qty: 1 + g.rnd.Int64N(3), n: int64(len(lines) + 1)}
			if n == 3 {
				l.price = 0 // a free book
			}
			lines = append(lines, l)
			subtotal += l.price * l.qty
			if len(lines) == 1 || l.price < cheapest {
				cheapest = l.price
			}
		}
		discounted := i%10 == 3 && cheapest > 0
		var discount int64
		if discounted {
			discount = cheapest
		}
		cancelled := i%20 == 7
		state := "placed"
		created := g.at()
		updated := created
		if cancelled {
			state, updated = "cancelled", created+g.rnd.Int64N(3600_000)
		}
		charge := "ch_" + g.word(22, mixed62)
		line2 := ""
		if i%4 == 0 {
			line2 = "Apt. " + fmt.Sprint(i%97) + " — «rear»"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, idempotency_key, fingerprint, customer_id, currency, subtotal, discount, total,
			payment_id, ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country, state, created, updated)
			VALUES (?, ?, ?, ?, 'USD', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, fmt.Sprintf("checkout:%d:%s", cust, g.word(36, lower36)), g.blob(32), cust, subtotal, discount, subtotal-discount,
			charge, fmt.Sprintf("Customer %d", cust), fmt.Sprintf("%d Main St.\t'%s'", i%999, titles[i%len(titles)]), line2,
			[]string{"Berlin", "São Paulo", "東京", "New York"}[i%4], fmt.Sprintf("%05d", i%99999), countries[i%len(countries)],
			state, created, updated); err != nil {
			return fmt.Errorf("order %d: %w", i, err)
		}
		for _, l := range lines {
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, n, book_id, title, unit_price, quantity, total) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				id, l.n, l.book, titles[int(l.book)%len(titles)], l.price, l.qty, l.price*l.qty); err != nil {
				return fmt.Errorf("order %d, line %d: %w", i, l.n, err)
			}
		}
		if discounted {
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_promotions (order_id, n, code) VALUES (?, 1, 'buy_two_get_one_free')`, id); err != nil {
				return fmt.Errorf("order %d, promotion: %w", i, err)
			}
		}
		g.orderIDs = append(g.orderIDs, id)
		g.orderTotal = append(g.orderTotal, subtotal-discount)
		g.orderCust = append(g.orderCust, cust)
		g.cancelled = append(g.cancelled, cancelled)
		g.discounted = append(g.discounted, discounted)
		g.chargeIDs = append(g.chargeIDs, charge)
	}
	return nil
}

// payments: a charge for each order (refunded for a cancelled one), a
// declined charge for every twentieth, and cancelled keys.
func (g *shopGen) payments(ctx context.Context, tx *genTx) error {
	brands := []string{"visa", "mastercard", "amex"}
	insert := func(id, key string, amount int64, state, reason string, created int64, refunded any) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO charges (id, idempotency_key, amount_units, currency, brand, last4, state, decline_reason, created, refunded)
			VALUES (?, ?, ?, 'USD', ?, ?, ?, ?, ?, ?)`,
			id, key, amount, brands[g.rnd.IntN(3)], fmt.Sprintf("%04d", g.rnd.IntN(10000)), state, reason, created, refunded)
		return err
	}
	for i, id := range g.chargeIDs {
		amount := max(g.orderTotal[i], 1)
		state, refunded := "approved", any(nil)
		created := g.at()
		if g.cancelled[i] {
			state, refunded = "refunded", created+60_000
		}
		if err := insert(id, g.orderIDs[i]+":charge", amount, state, "", created, refunded); err != nil {
			return fmt.Errorf("charge %d: %w", i, err)
		}
		if i%20 == 11 {
			if err := insert("ch_"+g.word(22, mixed62), g.orderIDs[i]+":declined", amount, "declined", "card_declined: insufficient funds", created-1000, nil); err != nil {
				return fmt.Errorf("declined charge %d: %w", i, err)
			}
		}
	}
	for i := range len(g.chargeIDs) / 200 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cancelled_keys (idempotency_key, cancelled) VALUES (?, ?)`, fmt.Sprintf("cancelled-%d-%s", i, g.word(8, lower36)), g.at()); err != nil {
			return err
		}
	}
	return nil
}

// promotions: the campaigns' first starts (one row of service_start
// before the schema knew several campaigns, a row a campaign of
// campaign_starts after), a confirmed claim for the first discounted
// order of each customer, and released or expired claims.
func (g *shopGen) promotions(ctx context.Context, tx *genTx) error {
	var campaigns bool
	if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'campaign_starts'`).Scan(&campaigns); err != nil {
		return err
	}
	if campaigns {
		for i, code := range []string{"buy_two_get_one_free", "ten_percent_off"} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_starts (code, started_at) VALUES (?, ?)`, code, g.start+int64(i)*86_400_000); err != nil {
				return err
			}
		}
	} else if _, err := tx.ExecContext(ctx, `INSERT INTO service_start (id, started_at) VALUES (1, ?)`, g.start); err != nil {
		return err
	}
	used := make(map[int32]bool)
	claim := func(cust int32, key, state string, book int32) error {
		created := g.at()
		_, err := tx.ExecContext(ctx, `INSERT INTO claims (customer_id, idempotency_key, state, discount_units, discount_currency, discount_book_id,
			discount_code, created_at, expires_at, updated_at) VALUES (?, ?, ?, ?, 'USD', ?, 'buy_two_get_one_free', ?, ?, ?)`,
			cust, key, state, 100+g.rnd.Int64N(5000), book, created, created+15*60_000, created+g.rnd.Int64N(60_000))
		return err
	}
	for i, cust := range g.orderCust {
		state := "released"
		if i%3 == 0 {
			state = "expired"
		}
		if g.discounted[i] && !used[cust] {
			used[cust], state = true, "confirmed"
		} else if i%7 != 0 {
			continue
		}
		if err := claim(cust, "checkout:"+g.orderIDs[i], state, int32(i%50)); err != nil { // book 0: a discount of no book
			return fmt.Errorf("claim %d: %w", i, err)
		}
	}
	return nil
}

// carts: the customers' and guests' carts, their lines, and the keys of
// recent additions and removals.
func (g *shopGen) carts(ctx context.Context, tx *genTx) error {
	for i := range g.size.carts {
		id := fmt.Sprintf("customer:%d", i+1)
		if i%2 == 1 {
			id = "guest:" + g.word(22, mixed62)
		}
		now := g.at() / 1000
		if _, err := tx.ExecContext(ctx, `INSERT INTO carts (id, updated_at) VALUES (?, ?)`, id, now); err != nil {
			return fmt.Errorf("cart %d: %w", i, err)
		}
		used := make(map[int32]bool)
		for n := range 1 + g.rnd.IntN(5) {
			book := 1 + g.rnd.Int32N(int32(g.size.books))
			if used[book] {
				continue
			}
			used[book] = true
			qty := 1 + g.rnd.IntN(10)
			if _, err := tx.ExecContext(ctx, `INSERT INTO cart_lines (cart_id, book_id, quantity, seq) VALUES (?, ?, ?, ?)`, id, book, qty, n+1); err != nil {
				return fmt.Errorf("cart %d, line %d: %w", i, n, err)
			}
			if n%2 == 0 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO cart_add_keys (cart_id, key, book_id, quantity, created_at) VALUES (?, ?, ?, ?, ?)`,
					id, "add-"+g.word(20, mixed62), book, qty, now); err != nil {
					return fmt.Errorf("cart %d, key: %w", i, err)
				}
			}
		}
		if i%5 == 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cart_remove_keys (cart_id, key, lines, created_at) VALUES (?, ?, ?, ?)`,
				id, "remove-"+g.word(20, mixed62), fmt.Sprintf("%d:1,%d:2", 1+i%g.size.books, 2+i%g.size.books), now); err != nil {
				return fmt.Errorf("cart %d, removal: %w", i, err)
			}
		}
	}
	return nil
}

// catalog: the books, of every category, most with a price and some
// without (from before prices), each with the version of the import
// that brought it (0 for the first, from before versions), and the
// largest id there is; and the keys of a few imports. import_items is
// empty outside an import, but for rows an earlier version might have
// left there (the next import empties it): a few, that the move keeps as
// they are, NULLs and all.
func (g *shopGen) catalog(ctx context.Context, tx *genTx) error {
	categories := []string{"mystery", "science_fiction", "self_help"}
	add := func(id int32, title string, version int64) error {
		b := bookshop.Book{ID: id, Title: title, Author: g.word(1+g.rnd.IntN(20), mixed62), Year: 1 + g.rnd.IntN(9999)}
		price, currency := int64(0), ""
		if id%50 != 0 {
			price, currency = 1+g.rnd.Int64N(1_000_000), "EUR"
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO books (id, category, title, author, year, match_key, price, currency, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, categories[g.rnd.IntN(len(categories))], b.Title, b.Author, b.Year, catalogdb.MatchKey(b), price, currency, version)
		if err != nil {
			return fmt.Errorf("book %d: %w", id, err)
		}
		return nil
	}
	for b := 1; b <= g.size.books; b++ {
		// Titles hold no control character: the Catalog takes none.
		title := titles[g.rnd.IntN(len(titles))]
		if title == "Tab\tand\nnewline" {
			title = "Tab and newline"
		}
		if err := add(int32(b), fmt.Sprintf("%s %d", title, b), int64((b-1)/100)); err != nil {
			return err
		}
	}
	if err := add(2147483647, "The Last Book", int64(g.size.books/100)+1); err != nil {
		return err
	}
	for i := range 5 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO import_keys (key, fingerprint, result, created_at) VALUES (?, ?, ?, ?)`,
			"import-"+g.word(20, mixed62), g.blob(32), fmt.Sprintf(`{"imported":%d,"rejected":[{"index":0,"line":2,"reason":"title: must not be empty"}]}`, 100+i), g.at()); err != nil {
			return fmt.Errorf("import key %d: %w", i, err)
		}
	}
	for i := range 10 {
		var reject any
		if i%3 == 0 {
			reject = "price: 12.00 USD is not in the shop's currency, EUR"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO import_items (idx, line, id, category, title, author, year, price, currency, reject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			i, i+2, g.rnd.Int32N(1000)-10, g.rnd.IntN(5), titles[g.rnd.IntN(len(titles))], g.word(g.rnd.IntN(10), mixed62), g.rnd.IntN(10000), g.rnd.Int64N(100_000), "EUR", reject); err != nil {
			return fmt.Errorf("import item %d: %w", i, err)
		}
	}
	return nil
}

// inventory: the stock of every book (and of the largest book id), and
// reservations in every state, with their lines and the holds of those
// held.
func (g *shopGen) inventory(ctx context.Context, tx *genTx) error {
	for b := 1; b <= g.size.books; b++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO stock (book_id, on_hand, updated_at) VALUES (?, ?, ?)`, b, g.rnd.IntN(1001), g.at()); err != nil {
			return fmt.Errorf("stock %d: %w", b, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO stock (book_id, on_hand, updated_at) VALUES (2147483647, 1000000, ?)`, g.at()); err != nil {
		return err
	}
	states := []string{"held", "committed", "committed", "released", "expired"}
	for i := range g.size.orders / 20 {
		id := "r_" + g.word(24, lower36)
		state := states[i%len(states)]
		created := g.at()
		expires := created + 10*60_000
		var ended any
		if state != "held" {
			ended = created + g.rnd.Int64N(10*60_000)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (id, idempotency_key, state, created_at, expires_at, ended_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, "checkout:"+g.word(30, lower36), state, created, expires, ended); err != nil {
			return fmt.Errorf("reservation %d: %w", i, err)
		}
		used := make(map[int32]bool)
		for seq := range 1 + g.rnd.IntN(3) {
			book := 1 + g.rnd.Int32N(int32(g.size.books))
			if used[book] {
				continue
			}
			used[book] = true
			qty := 1 + g.rnd.IntN(10)
			if _, err := tx.ExecContext(ctx, `INSERT INTO reservation_lines (reservation_id, seq, book_id, quantity) VALUES (?, ?, ?, ?)`, id, seq, book, qty); err != nil {
				return fmt.Errorf("reservation %d, line %d: %w", i, seq, err)
			}
			if state == "held" {
				if _, err := tx.ExecContext(ctx, `INSERT INTO holds (book_id, reservation_id, quantity, expires_at) VALUES (?, ?, ?, ?)`, book, id, qty, expires); err != nil {
					return fmt.Errorf("reservation %d, hold: %w", i, err)
				}
			}
		}
	}
	return nil
}

// shopFlags returns the flags of `bookshop migrate-data` that name the
// files of a generated shop.
func shopFlags(files map[string]string) []string {
	var args []string
	for _, s := range shopServices {
		args = append(args, "-"+s+"-db", files[s])
	}
	return args
}

// tableNames returns the names of the tables of the SQLite file at path,
// but SQLite's own and schema_migrations.
func tableNames(ctx context.Context, db *sqlitedb.DB) ([]string, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
