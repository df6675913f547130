package payments

import (
	"time"

	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/payments/postgres"
	"github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// DefaultPort is the Payments service's gRPC port, as its callers know
// it.
const DefaultPort = paymentsclient.DefaultPort

// Config is the Payments service's own configuration; see Flags for each
// setting.
type Config struct {
	Port int    // the gRPC port
	DB   string // the database file, or sqlite.Memory; unused with Database.URL
	// Database, when its URL is set, keeps the charges in PostgreSQL, in
	// schema payments, instead of the file DB, so that replicas may share
	// them: see pgdb.Settings.
	Database pgdb.Settings
	// Latency is how long the fake processor takes to answer a new charge
	// or a refund: a slow processor, for fault tests.
	Latency time.Duration
	// ReadyInterval is how often the database is checked for readiness
	// (rpc.Server.Watch); rpc.DefaultWatchInterval when 0. No setting
	// sets it: for tests.
	ReadyInterval time.Duration
}

// DefaultConfig returns the Payments service's defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, DB: "payments.db", Database: pgdb.DefaultSettings()}
}

// Flags declares the Payments service's settings on s, namespace
// "payments", with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Payments service's gRPC port")
	s.String(&c.DB, "db", c.DB, "the payments database file (SQLite), created on first start: the charges, with only the brand and last four digits of each card; "+sqlite.Memory+" keeps it in memory, and loses every charge at exit; unused with -"+s.Flag("database-url"))
	c.Database.Flags(s, postgres.Schema)
	s.Duration(&c.Latency, "latency", c.Latency, "how long the fake card processor takes to answer each new charge and refund, from 0 to 1m: a slow processor, for fault tests (a retry of a charge already made answers at once)")
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	if c.DB == "" {
		return config.UsageErrorf("%s: want a file path, or %s for charges that live in memory", s.Setting("db"), sqlite.Memory)
	}
	if err := c.Database.Validate(s); err != nil {
		return err
	}
	if c.Latency < 0 || c.Latency > MaxLatency {
		return config.UsageErrorf("%s %s: want from 0 (the default: no delay) to %s, such as 2s", s.Setting("latency"), c.Latency, MaxLatency)
	}
	return nil
}
