package catalog

import (
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogdb"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/catalog/postgres"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// DefaultPort is the Catalog's gRPC port, as its callers know it.
const DefaultPort = catalogclient.DefaultPort

// maxTextMiB bounds -max-text-mib: a gibibyte of titles and authors would
// need some 12 GiB of memory.
const maxTextMiB = 1 << 10

// Config is the Catalog's own configuration; see Flags for each setting.
type Config struct {
	Port int    // the gRPC port
	DB   string // the database file, or sqlite.Memory; unused with Database.URL
	File string // a CSV file that seeds a new database; "" for the built-in catalog
	// Currency is the shop's one currency, an ISO 4217 code: every price
	// is in it, and an import priced in another is refused.
	Currency string
	// MaxBooks and MaxTextMiB cap the catalog's size, in books and in
	// mebibytes of titles and authors: an import past either is refused.
	// The memory the Catalog needs grows with both (docs/capacity.md).
	MaxBooks   int
	MaxTextMiB int
	// MaxFeedBooks bounds the books of recent imports kept for watchers
	// (see NewService). Not a flag: the default fits the memory budget.
	MaxFeedBooks int
	// Database, when its URL is set, keeps the catalog in PostgreSQL, in
	// schema catalog, instead of the file DB: replicas on one database
	// share the catalog, and follow each other's imports (see
	// pgdb.Settings, and package postgres).
	Database pgdb.Settings
}

// DefaultConfig returns the Catalog's defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, DB: "catalog.db", Currency: bookshop.DefaultCurrency,
		MaxBooks: DefaultMaxBooks, MaxTextMiB: DefaultMaxTextBytes >> 20, MaxFeedBooks: DefaultMaxFeedBooks,
		Database: pgdb.DefaultSettings()}
}

// Limits returns the caps of c as the database holds imports to them.
func (c Config) Limits() catalogdb.Limits {
	return catalogdb.Limits{Books: c.MaxBooks, TextBytes: int64(c.MaxTextMiB) << 20}
}

// Flags declares the Catalog's settings on s, namespace "catalog", with
// c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Catalog's gRPC port")
	s.String(&c.DB, "db", c.DB, "the catalog's database file (SQLite), created and seeded on first start; "+sqlite.Memory+" keeps it in memory; unused with -"+s.Flag("database-url"))
	c.Database.Flags(s, postgres.Schema)
	s.String(&c.File, "file", c.File, "a catalog CSV file that seeds a new database, instead of the built-in catalog (format in docs/configuration.md); its prices are in -currency")
	s.String(&c.Currency, "currency", c.Currency, "the shop's currency, an ISO 4217 code such as EUR: every price is in it, and imports priced in another are refused")
	s.Int(&c.MaxBooks, "max-books", c.MaxBooks, "the most books the catalog holds, all in memory: an import past it is refused; raise it with the memory limit (docs/capacity.md), and Recommendations' -max-books with it")
	s.Int(&c.MaxTextMiB, "max-text-mib", c.MaxTextMiB, "the most mebibytes of titles and authors the catalog holds, all books together, in memory with the search index: an import past it is refused; raise it with the memory limit (docs/capacity.md)")
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	if c.DB == "" {
		return config.UsageErrorf("%s: want a file path, or %s for a catalog that lives in memory", s.Setting("db"), sqlite.Memory)
	}
	if err := c.Database.Validate(s); err != nil {
		return err
	}
	if c.MaxBooks < 1 {
		return config.UsageErrorf("%s %d: want 1 or more", s.Setting("max-books"), c.MaxBooks)
	}
	if c.MaxTextMiB < 1 || c.MaxTextMiB > maxTextMiB {
		return config.UsageErrorf("%s %d: want 1 to %d", s.Setting("max-text-mib"), c.MaxTextMiB, maxTextMiB)
	}
	if err := bookshop.CheckCurrency(c.Currency); err != nil {
		return config.UsageErrorf("%s: %s", s.Setting("currency"), bookshop.ErrorMessage(err))
	}
	if c.Currency != catalogfile.BuiltinCurrency && c.File == "" {
		return config.UsageErrorf("%s is %s, but the built-in catalog is priced in %s: give %s a catalog priced in %s", s.Setting("currency"), c.Currency, catalogfile.BuiltinCurrency, s.Setting("file"), c.Currency)
	}
	return nil
}
