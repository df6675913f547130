package pgdb

import (
	"cmp"
	"fmt"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/config"
)

// SharedURLEnv is the environment variable that points every service at
// one PostgreSQL server, each in its own schema; a service's own
// <SERVICE>_DATABASE_URL wins over it.
const SharedURLEnv = "DATABASE_URL"

// Settings are how a service reaches its PostgreSQL database, and how
// many connections it keeps to it. The zero value, but for URL, is the
// defaults.
type Settings struct {
	// URL is the database, as postgres://USER:PASSWORD@HOST:PORT/DATABASE
	// or key=value pairs (see pgx's ParseConfig); empty keeps the service
	// on SQLite. It holds a password: log Redact(URL), never URL.
	URL string
	// MaxConns is the most connections open at once; 0 is
	// DefaultMaxConns. A call waits for one past it.
	MaxConns int
	// MinConns is how many connections are kept open while idle.
	MinConns int
	// ConnectTimeout bounds the opening of one connection; 0 is
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// DefaultSettings returns the defaults: no URL (SQLite), and a pool of
// DefaultMaxConns.
func DefaultSettings() Settings {
	return Settings{MaxConns: DefaultMaxConns, MinConns: DefaultMinConns, ConnectTimeout: DefaultConnectTimeout}
}

// Flags declares the settings on s, with st's values as defaults:
// database-url (its variable, such as INVENTORY_DATABASE_URL, falls back
// to DATABASE_URL), database-max-conns, database-min-conns and
// database-connect-timeout. schema names the service's schema in the
// usage. The URL's default is never printed, as it would show a password:
// it has none.
func (st *Settings) Flags(s *config.Set, schema string) {
	s.StringOr(&st.URL, "database-url", SharedURLEnv,
		fmt.Sprintf("keep the data in this PostgreSQL database, in schema %s, instead of SQLite: postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE; replicas may share it (docs/database.md)", schema))
	s.Int(&st.MaxConns, "database-max-conns", st.MaxConns, fmt.Sprintf("with -%s, the most connections open to PostgreSQL at once, 1 to %d", s.Flag("database-url"), MaxConns))
	s.Int(&st.MinConns, "database-min-conns", st.MinConns, fmt.Sprintf("with -%s, the connections kept open while idle, up to -%s", s.Flag("database-url"), s.Flag("database-max-conns")))
	s.Duration(&st.ConnectTimeout, "database-connect-timeout", st.ConnectTimeout, fmt.Sprintf("with -%s, how long to wait for a new connection to PostgreSQL", s.Flag("database-url")))
}

// Validate checks st after parsing, naming the setting at fault through
// s. It does not connect: Open does.
func (st *Settings) Validate(s *config.Set) error {
	switch {
	case st.MaxConns < 1 || st.MaxConns > MaxConns:
		return config.UsageErrorf("%s %d: want 1 to %d", s.Setting("database-max-conns"), st.MaxConns, MaxConns)
	case st.MinConns < 0 || st.MinConns > st.MaxConns:
		return config.UsageErrorf("%s %d: want 0 to %d, the most connections", s.Setting("database-min-conns"), st.MinConns, st.MaxConns)
	case st.ConnectTimeout <= 0:
		return config.UsageErrorf("%s %v: want a positive duration, such as 5s", s.Setting("database-connect-timeout"), st.ConnectTimeout)
	}
	return nil
}

// check returns an error for settings out of their bounds, as Open is
// given them (zero values are defaults).
func (st Settings) check() error {
	switch {
	case st.MaxConns < 0 || st.MaxConns > MaxConns:
		return fmt.Errorf("%d connections at most: want 1 to %d", st.MaxConns, MaxConns)
	case st.MinConns < 0 || st.MinConns > cmp.Or(st.MaxConns, DefaultMaxConns):
		return fmt.Errorf("%d connections at least: want 0 to the most", st.MinConns)
	case st.ConnectTimeout < 0:
		return fmt.Errorf("connect timeout %v: want 0 or more", st.ConnectTimeout)
	}
	return nil
}
