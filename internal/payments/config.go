package payments

import (
	"time"

	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/config"
)

// DefaultPort is the Payments service's gRPC port, as its callers know
// it.
const DefaultPort = paymentsclient.DefaultPort

// Config is the Payments service's own configuration; see Flags for each
// setting.
type Config struct {
	Port int    // the gRPC port
	DB   string // the database file, or sqlite.Memory
	// Latency is how long the fake processor takes to answer a new charge
	// or a refund: a slow processor, for fault tests.
	Latency time.Duration
}

// DefaultConfig returns the Payments service's defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, DB: "payments.db"}
}

// Flags declares the Payments service's settings on s, namespace
// "payments", with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Payments service's gRPC port")
	s.String(&c.DB, "db", c.DB, "the payments database file (SQLite), created on first start: the charges, with only the brand and last four digits of each card; "+sqlite.Memory+" keeps it in memory, and loses every charge at exit")
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
	if c.Latency < 0 || c.Latency > MaxLatency {
		return config.UsageErrorf("%s %s: want from 0 (the default: no delay) to %s, such as 2s", s.Setting("latency"), c.Latency, MaxLatency)
	}
	return nil
}
