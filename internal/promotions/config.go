package promotions

import (
	"fmt"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/promotions/postgres"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/promotions/sqlite"
)

// DefaultPort is the Promotions service's gRPC port, as its callers know
// it.
const DefaultPort = promotionsclient.DefaultPort

// Config is the Promotions service's own configuration; see Flags for
// each setting.
type Config struct {
	Port int    // the gRPC port
	DB   string // the database file, or sqlite.Memory; unused with Database.URL
	// Database, when its URL is set, keeps the claims in PostgreSQL, in
	// schema promotions, instead of the file DB, so that replicas share
	// them: see pgdb.Settings.
	Database pgdb.Settings
	// Starts is when the campaign starts; the zero time for the service's
	// first start with this campaign (Promotion) on its database, recorded
	// there by the campaign's code: the campaign before keeps its own.
	Starts time.Time
	// Ends is when the campaign ends; the zero time for never. It must be
	// after Starts (Validate), or, when Starts is zero, after the
	// campaign's first start recorded in the database (Run).
	Ends time.Time
	// ClaimTTL is how long a checkout's claim holds a customer's use,
	// unless confirmed or released before. Nothing rests on how it
	// compares with the Checkout's -hold-ttl: a claim that expired is
	// still confirmed unless another checkout took the use, and one that
	// cannot be is undone with its checkout, the books released.
	ClaimTTL time.Duration
	// Promotion is the campaign the service runs: not a setting, but the
	// code of a release (see Promotion); the zero Promotion is the
	// current one, Current(). Tests set another.
	Promotion Promotion
	// ReadyInterval is how often the database is checked for readiness
	// (rpc.Server.Watch); rpc.DefaultWatchInterval when 0. No setting
	// sets it: for tests.
	ReadyInterval time.Duration
}

// DefaultConfig returns the Promotions service's defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, DB: "promotions.db", Database: pgdb.DefaultSettings(), ClaimTTL: DefaultClaimTTL}
}

// Flags declares the Promotions service's settings on s, namespace
// "promotions", with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Promotions service's gRPC port")
	s.String(&c.DB, "db", c.DB, "the promotion's database file (SQLite): the customers' uses and the checkouts' claims, and each campaign's first start; "+
		sqlite.Memory+" keeps them in memory, lost at exit; unused with -"+s.Flag("database-url"))
	c.Database.Flags(s, postgres.Schema)
	s.Text((*instant)(&c.Starts), "starts", instant(c.Starts),
		"when the campaign starts: a `time` in RFC 3339, such as 2026-03-01T00:00:00Z; empty for the service's first start with this campaign on its database, recorded there")
	s.Text((*instant)(&c.Ends), "ends", instant(c.Ends),
		"when the campaign ends (no discount from then on): a `time` in RFC 3339, such as 2026-04-01T00:00:00Z; empty for never")
	s.Duration(&c.ClaimTTL, "claim-ttl", c.ClaimTTL,
		fmt.Sprintf("how long a checkout's claim of a customer's one use holds it, unless the checkout is paid or fails before: %v to %v; expired claims are swept every %v", MinClaimTTL, MaxClaimTTL, SweepInterval))
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	if c.DB == "" {
		return config.UsageErrorf("%s: want a file path, or %s for a database that lives in memory", s.Setting("db"), sqlite.Memory)
	}
	if err := c.Database.Validate(s); err != nil {
		return err
	}
	if c.ClaimTTL < MinClaimTTL || c.ClaimTTL > MaxClaimTTL {
		return config.UsageErrorf("%s %v: want %v to %v, such as 15m", s.Setting("claim-ttl"), c.ClaimTTL, MinClaimTTL, MaxClaimTTL)
	}
	if !c.Starts.IsZero() && !c.Ends.IsZero() && !c.Ends.After(c.Starts) {
		return config.UsageErrorf("%s %s is not after %s %s: the campaign would never run", s.Setting("ends"), instant(c.Ends), s.Setting("starts"), instant(c.Starts))
	}
	return nil
}

// instant is a time as a setting: RFC 3339, or empty for the zero time.
type instant time.Time

// MarshalText returns t in RFC 3339, or nothing for the zero time.
func (t instant) MarshalText() ([]byte, error) {
	if time.Time(t).IsZero() {
		return nil, nil
	}
	return []byte(time.Time(t).Format(time.RFC3339)), nil
}

// String returns t as MarshalText does.
func (t instant) String() string {
	b, _ := t.MarshalText()
	return string(b)
}

// UnmarshalText reads a time in RFC 3339, or the zero time from nothing.
func (t *instant) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*t = instant{}
		return nil
	}
	v, err := time.Parse(time.RFC3339, string(b))
	if err != nil {
		return fmt.Errorf("%q: want a time in RFC 3339, such as 2026-03-01T00:00:00Z", b)
	}
	*t = instant(v.UTC())
	return nil
}
