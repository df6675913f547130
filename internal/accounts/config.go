package accounts

import (
	"fmt"
	"time"

	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/accounts/postgres"
	"github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// DefaultPort is the Accounts service's gRPC port, as its callers know it.
const DefaultPort = accountsclient.DefaultPort

// MaxSessionTTL bounds -session-ttl: a year.
const MaxSessionTTL = 365 * 24 * time.Hour

// MaxSignUpsPerHour bounds -signups-per-hour.
const MaxSignUpsPerHour = 100_000

// Config is the Accounts service's own configuration; see Flags for each
// setting. The rest of the Service's Options (hashing, the throttling of
// failed sign-ins, the cap of sessions per customer) take their defaults,
// which fit the memory budget.
type Config struct {
	Port           int           // the gRPC port
	DB             string        // the database file, or sqlite.Memory; unused with Database.URL
	SessionTTL     time.Duration // how long a session lasts
	SignUpsPerHour int           // the most sign-ups of one client in an hour
	// Database, when its URL is set, keeps the accounts in PostgreSQL, in
	// schema accounts, instead of the file DB: see pgdb.Settings.
	Database pgdb.Settings
	// ReadyInterval is how often the database is checked for readiness
	// (rpc.Server.Watch); rpc.DefaultWatchInterval when 0. No setting
	// sets it: for tests.
	ReadyInterval time.Duration
}

// DefaultConfig returns the Accounts service's defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, DB: "accounts.db", Database: pgdb.DefaultSettings(), SessionTTL: DefaultSessionTTL, SignUpsPerHour: DefaultLimits.SignUpsPerClient}
}

// Flags declares the Accounts service's settings on s, namespace
// "accounts", with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Accounts service's gRPC port")
	s.String(&c.DB, "db", c.DB, "the accounts database file (SQLite), created on first start; "+sqlite.Memory+" keeps it in memory, and loses every account at exit; unused with -"+s.Flag("database-url"))
	c.Database.Flags(s, postgres.Schema)
	s.Duration(&c.SessionTTL, "session-ttl", c.SessionTTL, fmt.Sprintf("how long a session lasts from sign-in, from 1m to a year; expired sessions are refused, and deleted every %.0f minutes", SweepInterval.Minutes()))
	s.Int(&c.SignUpsPerHour, "signups-per-hour", c.SignUpsPerHour, fmt.Sprintf("the most sign-ups one client (the shopper's address as the Marketplace sees it) may attempt in an hour, 1 to %d; past it sign-up answers 429; raise it when many shoppers share an address, or the Marketplace trusts no proxy in front of it; each replica counts its own", MaxSignUpsPerHour))
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	if c.DB == "" {
		return config.UsageErrorf("%s: want a file path, or %s for accounts that live in memory", s.Setting("db"), sqlite.Memory)
	}
	if err := c.Database.Validate(s); err != nil {
		return err
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > MaxSessionTTL {
		return config.UsageErrorf("%s %s: want from 1m to %s (such as 720h for 30 days)", s.Setting("session-ttl"), c.SessionTTL, MaxSessionTTL)
	}
	if c.SignUpsPerHour < 1 || c.SignUpsPerHour > MaxSignUpsPerHour {
		return config.UsageErrorf("%s %d: want from 1 to %d sign-ups of one client in an hour", s.Setting("signups-per-hour"), c.SignUpsPerHour, MaxSignUpsPerHour)
	}
	return nil
}

// options returns the Service's Options for c.
func (c *Config) options() Options {
	return Options{SessionTTL: c.SessionTTL, Limits: Limits{SignUpWindow: time.Hour, SignUpsPerClient: c.SignUpsPerHour}}
}
