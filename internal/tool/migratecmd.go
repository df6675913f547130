package tool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookshop-go/bookshop/internal/accounts"
	accountspg "github.com/bookshop-go/bookshop/internal/accounts/postgres"
	accountssqlite "github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/cart"
	cartpg "github.com/bookshop-go/bookshop/internal/cart/postgres"
	cartsqlite "github.com/bookshop-go/bookshop/internal/cart/sqlite"
	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogpg "github.com/bookshop-go/bookshop/internal/catalog/postgres"
	catalogsqlite "github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/checkout"
	checkoutpg "github.com/bookshop-go/bookshop/internal/checkout/postgres"
	checkoutsqlite "github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	"github.com/bookshop-go/bookshop/internal/inventory"
	inventorypg "github.com/bookshop-go/bookshop/internal/inventory/postgres"
	inventorysqlite "github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	"github.com/bookshop-go/bookshop/internal/orders"
	orderspg "github.com/bookshop-go/bookshop/internal/orders/postgres"
	orderssqlite "github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/payments"
	paymentspg "github.com/bookshop-go/bookshop/internal/payments/postgres"
	paymentssqlite "github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/fromsqlite"
	"github.com/bookshop-go/bookshop/internal/promotions"
	promotionspg "github.com/bookshop-go/bookshop/internal/promotions/postgres"
	promotionssqlite "github.com/bookshop-go/bookshop/internal/promotions/sqlite"
)

// A movable is a service whose data `bookshop migrate-data` moves from
// SQLite to PostgreSQL: one that has both stores. Its functions are the
// service's own Opens, so that both schemas are the binary's.
type movable struct {
	name   string // the service, as `bookshop NAME` runs it
	db     string // its SQLite file by default: its -db
	schema string // its PostgreSQL schema
	// sqlite makes or migrates the SQLite file at path with the service's
	// SQLite store, and closes it.
	sqlite func(ctx context.Context, path string) error
	// postgres makes or migrates the service's schema on the database of
	// st with its PostgreSQL store (no seed), and closes it.
	postgres func(ctx context.Context, st pgdb.Settings) error
}

// movables returns the services that migrate-data moves, in the order
// of services(). A service that gains a PostgreSQL store gains an entry
// here; a test fails while a postgres/ package has none.
func movables() []movable {
	return []movable{
		{
			name: "catalog", db: catalog.DefaultConfig().DB, schema: catalogpg.Schema,
			sqlite: func(ctx context.Context, path string) error { return closed(catalogsqlite.Open(ctx, path, nil)) },
			postgres: func(ctx context.Context, st pgdb.Settings) error {
				return closed(catalogpg.Open(ctx, st, nil, catalogpg.Limits{}))
			},
		},
		{
			name: "cart", db: cart.DefaultConfig().DB, schema: cartpg.Schema,
			sqlite:   func(ctx context.Context, path string) error { return closed(cartsqlite.Open(ctx, path)) },
			postgres: func(ctx context.Context, st pgdb.Settings) error { return closed(cartpg.Open(ctx, st)) },
		},
		{
			name: "accounts", db: accounts.DefaultConfig().DB, schema: accountspg.Schema,
			sqlite:   func(ctx context.Context, path string) error { return closed(accountssqlite.Open(ctx, path)) },
			postgres: func(ctx context.Context, st pgdb.Settings) error { return closed(accountspg.Open(ctx, st)) },
		},
		{
			name: "inventory", db: inventory.DefaultConfig().DB, schema: inventorypg.Schema,
			sqlite:   func(ctx context.Context, path string) error { return closed(inventorysqlite.Open(ctx, path, nil)) },
			postgres: func(ctx context.Context, st pgdb.Settings) error { return closed(inventorypg.Open(ctx, st, nil)) },
		},
		{
			name: "orders", db: orders.DefaultConfig().DB, schema: orderspg.Schema,
			sqlite:   func(ctx context.Context, path string) error { return closed(orderssqlite.Open(ctx, path)) },
			postgres: func(ctx context.Context, st pgdb.Settings) error { return closed(orderspg.Open(ctx, st)) },
		},
		{
			name: "payments", db: payments.DefaultConfig().DB, schema: paymentspg.Schema,
			sqlite:   func(ctx context.Context, path string) error { return closed(paymentssqlite.Open(ctx, path)) },
			postgres: func(ctx context.Context, st pgdb.Settings) error { return closed(paymentspg.Open(ctx, st)) },
		},
		{
			name: "promotions", db: promotions.DefaultConfig().DB, schema: promotionspg.Schema,
			sqlite:   func(ctx context.Context, path string) error { return closed(promotionssqlite.Open(ctx, path)) },
			postgres: func(ctx context.Context, st pgdb.Settings) error { return closed(promotionspg.Open(ctx, st)) },
		},
		{
			name: "checkout", db: checkout.DefaultConfig().DB, schema: checkoutpg.Schema,
			sqlite:   func(ctx context.Context, path string) error { return closed(checkoutsqlite.Open(ctx, path)) },
			postgres: func(ctx context.Context, st pgdb.Settings) error { return closed(checkoutpg.Open(ctx, st)) },
		},
	}
}

// closed closes the store an Open returned, and returns Open's error, or
// Close's.
func closed[T io.Closer](db T, err error) error {
	if err != nil {
		return err
	}
	return db.Close()
}

// migrateTarget is one service's move, as the flags give it.
type migrateTarget struct {
	movable
	file string // the SQLite file
	url  string // the PostgreSQL database; holds a password
}

// RunMigrateData is the `bookshop migrate-data` command: it moves the
// data of services from their SQLite files to their schemas in
// PostgreSQL, and verifies every row (see package fromsqlite), or with
// -verify-only verifies a move made before. It returns an error, and the
// process exits 1, unless every table of every service named was
// verified. No password reaches its output or its errors.
func RunMigrateData(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	all := movables()
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = m.name
	}
	fs := flagSet("bookshop migrate-data -service NAME[,NAME...]|all",
		"Moves services' data from their SQLite files to PostgreSQL, each into its\n"+
			"own schema, and verifies it: every table's rows counted and checksummed on\n"+
			"both sides. Stop the services' writes first (docs/database.md). The\n"+
			"files are only read. A move cut off (even by kill -9) is finished by\n"+
			"running it again; a schema that holds other data is refused. It exits\n"+
			"non-zero unless every table is verified.\n\n"+
			"Services: "+strings.Join(names, ", ")+".\n\n"+
			"Give the database URL in the environment (DATABASE_URL, or\n"+
			"<SERVICE>_DATABASE_URL), not on the command line, where ps shows it.", stderr)
	var (
		service    string
		shared     string
		batchRows  int
		verifyOnly bool
	)
	fs.StringVar(&service, "service", "", "the services to move, separated by commas, or all: "+strings.Join(names, ", "))
	fs.Process().String(&shared, "database-url", "", "the PostgreSQL database to move into, each service into its schema, unless -SERVICE-database-url names its own: postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE")
	fs.IntVar(&batchRows, "batch-rows", fromsqlite.DefaultBatchRows, fmt.Sprintf("rows copied in one transaction, 1 to %d", fromsqlite.MaxBatchRows))
	fs.BoolVar(&verifyOnly, "verify-only", false, "write nothing: only compare every table on both sides, and check each sequence, as the move's last step does")
	targets := make([]migrateTarget, len(all))
	for i, m := range all {
		s := fs.Service(m.name, false)
		targets[i].movable = m
		s.String(&targets[i].file, "db", m.db, "the "+m.name+" service's SQLite file, as its -db")
		s.String(&targets[i].url, "database-url", "", "the PostgreSQL database to move the "+m.name+" service into, in schema "+m.schema+"; else -database-url")
	}
	if err := parseFlags(fs, args, getenv, nil); err != nil {
		return err
	}
	if batchRows < 1 || batchRows > fromsqlite.MaxBatchRows {
		return usageErrorf("-batch-rows %d: want 1 to %d", batchRows, fromsqlite.MaxBatchRows)
	}
	chosen, err := chooseServices(service, targets)
	if err != nil {
		return err
	}
	var secrets []string
	for i := range chosen {
		if chosen[i].url == "" {
			chosen[i].url = shared
		}
		if chosen[i].url == "" {
			return usageErrorf("no PostgreSQL database for %s: set DATABASE_URL (or %s_DATABASE_URL), or give -database-url",
				chosen[i].name, strings.ToUpper(chosen[i].name))
		}
		secrets = append(secrets, passwords(chosen[i].url)...)
	}
	err = migrateData(ctx, chosen, fromsqlite.Options{BatchRows: batchRows}, verifyOnly, stdout)
	return hideSecrets(err, secrets)
}

// chooseServices returns the targets that -service names, in the order of
// targets, each once.
func chooseServices(service string, targets []migrateTarget) ([]migrateTarget, error) {
	if strings.TrimSpace(service) == "" {
		return nil, usageErrorf("-service: which services? such as -service orders, -service cart,accounts or -service all")
	}
	want := make(map[string]bool)
	for name := range strings.SplitSeq(service, ",") {
		name = strings.TrimSpace(name)
		if name == "all" {
			return targets, nil
		}
		if !slices.ContainsFunc(targets, func(t migrateTarget) bool { return t.name == name }) {
			var names []string
			for _, t := range targets {
				names = append(names, t.name)
			}
			return nil, usageErrorf("-service %q: %q has no data to move to PostgreSQL; want some of %s, or all", service, name, strings.Join(names, ", "))
		}
		want[name] = true
	}
	var chosen []migrateTarget
	for _, t := range targets {
		if want[t.name] {
			chosen = append(chosen, t)
		}
	}
	return chosen, nil
}

// migrateData checks every target first (its file is there, of the schema
// version this binary knows), then moves (or verifies) each in turn,
// printing a line for each table.
func migrateData(ctx context.Context, targets []migrateTarget, opts fromsqlite.Options, verifyOnly bool, stdout io.Writer) error {
	start := time.Now()
	versions := make([]int, len(targets))
	for i, t := range targets {
		v, err := checkSQLiteFile(ctx, t)
		if err != nil {
			return err
		}
		versions[i] = v
	}
	var rows int64
	for i, t := range targets {
		rep, err := migrateOne(ctx, t, versions[i], opts, verifyOnly, stdout)
		rows += rep.Rows()
		if err != nil {
			return err
		}
	}
	did := "moved and verified"
	if verifyOnly {
		did = "verified"
	}
	fmt.Fprintf(stdout, "Every service %s: %s, %d rows, in %v.\n", did, plural(len(targets), "service"), rows, time.Since(start).Round(time.Millisecond))
	if !verifyOnly {
		fmt.Fprintln(stdout, "Now point each service at PostgreSQL (DATABASE_URL, or <SERVICE>_DATABASE_URL) and start it: docs/database.md.")
	}
	return nil
}

// checkSQLiteFile returns the schema version of t's SQLite file, after
// checking that it is the version this binary's store of the service
// makes: a move copies the tables as this binary knows them.
func checkSQLiteFile(ctx context.Context, t migrateTarget) (int, error) {
	src, err := fromsqlite.OpenSource(ctx, t.file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("%s: no SQLite file %s: give -%s-db (or %s_DB) the service's file, as its -db", t.name, t.file, t.name, strings.ToUpper(t.name))
		}
		return 0, fmt.Errorf("%s: %w", t.name, err)
	}
	defer src.Close()
	have, err := src.Version(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.name, err)
	}
	want, err := sqliteVersion(ctx, t.movable)
	if err != nil {
		return 0, err
	}
	switch {
	case have < want:
		return 0, fmt.Errorf("%s: the SQLite file %s has schema version %d, older than this bookshop's (%d): run this bookshop's %s service on it once first (it migrates the file as it starts), stop it, then move",
			t.name, t.file, have, want, t.name)
	case have > want:
		return 0, fmt.Errorf("%s: the SQLite file %s has schema version %d, newer than this bookshop knows (%d): run the migrate-data of a bookshop as new as the one that last ran the %s service",
			t.name, t.file, have, want, t.name)
	}
	return have, nil
}

// sqliteVersion returns the schema version that this binary's SQLite
// store of m makes: that of a new file it opens, in a directory of its
// own, removed after.
func sqliteVersion(ctx context.Context, m movable) (int, error) {
	dir, err := os.MkdirTemp("", "bookshop-migrate-data-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, m.name+".db")
	if err := m.sqlite(ctx, path); err != nil {
		return 0, fmt.Errorf("%s: this bookshop's SQLite schema: %w", m.name, err)
	}
	src, err := fromsqlite.OpenSource(ctx, path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	return src.Version(ctx)
}

// migrateOne moves (or verifies) the data of one service and prints what
// it did, a line a table. A move first makes or migrates the service's
// schema with its own store; a verification writes nothing, and finds a
// schema not made as not verified.
func migrateOne(ctx context.Context, t migrateTarget, version int, opts fromsqlite.Options, verifyOnly bool, stdout io.Writer) (fromsqlite.Report, error) {
	if !verifyOnly {
		st := pgdb.DefaultSettings()
		// A command run by hand says at once that the database is not there.
		st.URL, st.MaxConns, st.Wait = t.url, 2, 0
		if err := t.postgres(ctx, st); err != nil {
			return fromsqlite.Report{}, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	src, err := fromsqlite.OpenSource(ctx, t.file)
	if err != nil {
		return fromsqlite.Report{}, fmt.Errorf("%s: %w", t.name, err)
	}
	defer src.Close()
	dst, err := fromsqlite.OpenTarget(ctx, t.url, t.schema)
	if err != nil {
		return fromsqlite.Report{}, fmt.Errorf("%s: %w", t.name, err)
	}
	defer dst.Close()

	verb := "Moving"
	if verifyOnly {
		verb = "Verifying"
	}
	fmt.Fprintf(stdout, "%s %s: SQLite file %s (schema version %d) to PostgreSQL %s\n", verb, t.name, t.file, version, dst)
	opts.Progress = func(step fromsqlite.Step, r fromsqlite.TableReport) {
		switch step {
		case fromsqlite.Copied:
			fmt.Fprintf(stdout, "  copied    %-18s %9d rows: %d copied, %d there before, in %v\n", r.Table, r.Rows, r.Copied, r.Before, r.CopyTime.Round(time.Millisecond))
		case fromsqlite.Verified:
			fmt.Fprintf(stdout, "  verified  %-18s %9d rows, sha256 %.16s, in %v\n", r.Table, r.Rows, r.Checksum, r.VerifyTime.Round(time.Millisecond))
		case fromsqlite.Differs:
			fmt.Fprintf(stdout, "  DIFFERS   %-18s %s\n", r.Table, r.Problem)
		}
	}
	var rep fromsqlite.Report
	if verifyOnly {
		rep, err = fromsqlite.Verify(ctx, src, dst, opts)
	} else {
		rep, err = fromsqlite.Move(ctx, src, dst, opts)
	}
	for _, s := range rep.Sequences {
		fmt.Fprintf(stdout, "  sequence  %s\n", s)
	}
	if err != nil {
		if errors.Is(err, fromsqlite.ErrNotVerified) {
			return rep, fmt.Errorf("%s: %w. Do not point the %s service at PostgreSQL: run the move again with the service stopped, or keep it on SQLite (docs/database.md)", t.name, err, t.name)
		}
		return rep, fmt.Errorf("%s: %w", t.name, err)
	}
	did := "moved and verified"
	if verifyOnly {
		did = "verified"
	}
	fmt.Fprintf(stdout, "%s: %s: %s, %d rows, in %v.\n", t.name, did, plural(len(rep.Tables), "table"), rep.Rows(), rep.Time.Round(time.Millisecond))
	return rep, nil
}

// plural returns "1 table" or "N tables".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// passwords returns the password of the connection string u, if it has
// one, in the forms a message could quote it: as given, and as its URL
// escapes it.
func passwords(u string) []string {
	cfg, err := pgconn.ParseConfig(u)
	if err != nil || cfg.Password == "" {
		// A string that does not parse is named redacted (pgdb.Redact)
		// and never quoted.
		return nil
	}
	out := []string{cfg.Password}
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.LastIndex(u, "@"); at > i {
			if _, pw, ok := strings.Cut(u[i+3:at], ":"); ok && pw != cfg.Password {
				out = append(out, pw)
			}
		}
	}
	return out
}

// hideSecrets returns err with every one of secrets in its text replaced
// by xxxxx, as pgdb.Redact does: a last guard, should a driver's message
// quote a connection string. A password is replaced where a connection
// string would hold it (":PASSWORD@", "password=PASSWORD"), and, when it
// is long enough not to be in a message by chance (minSecretLen), wherever
// it is: replaced everywhere, a password such as "p" or "postgres" took
// the letters out of every word that held them, and showed where it was
// not.
func hideSecrets(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if len(s) >= minSecretLen {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			continue
		}
		msg = strings.ReplaceAll(msg, ":"+s+"@", ":xxxxx@")
		msg = strings.ReplaceAll(msg, "password="+s, "password=xxxxx")
		msg = strings.ReplaceAll(msg, "password='"+s+"'", "password=xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return redactedError{msg: msg, err: err}
}

// minSecretLen is the length from which hideSecrets replaces a password
// wherever it is in a message.
const minSecretLen = 12

// redactedError is an error whose text had a secret taken out; it wraps
// the original, for errors.Is, whose text must not be printed.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }
