package pgdb

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/config"
)

// SharedURLEnv is the environment variable that points every service at
// one PostgreSQL server, each in its own schema; a service's own
// <SERVICE>_DATABASE_URL wins over it.
const SharedURLEnv = "DATABASE_URL"

// Settings are how a service reaches its PostgreSQL database, how many
// connections it keeps to it, and how long its start waits for it. The
// zero value, but for URL and Wait, is the defaults: a zero Wait fails at
// once, where DefaultSettings waits DefaultWait.
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
	// Wait bounds how long Open tries to reach a database that does not
	// answer yet (see Open), as when the service starts before its
	// database; 0 fails at the first attempt.
	Wait time.Duration
	// Logger, if not nil, is told of each attempt to reach the database
	// that failed while Open waits for it (at Warn), naming the database
	// without its password. It is not a setting: the service's Run gives
	// it its logger.
	Logger *slog.Logger
}

// DefaultSettings returns the defaults: no URL (SQLite), a pool of
// DefaultMaxConns, and a start that waits up to DefaultWait for the
// database.
func DefaultSettings() Settings {
	return Settings{MaxConns: DefaultMaxConns, MinConns: DefaultMinConns, ConnectTimeout: DefaultConnectTimeout, Wait: DefaultWait}
}

// Flags declares the settings on s, with st's values as defaults:
// database-url (its variable, such as INVENTORY_DATABASE_URL, falls back
// to DATABASE_URL), database-max-conns, database-min-conns,
// database-connect-timeout and database-wait. schema names the service's schema in the
// usage. The URL's default is never printed, as it would show a password:
// it has none.
func (st *Settings) Flags(s *config.Set, schema string) {
	s.StringOr(&st.URL, "database-url", SharedURLEnv,
		fmt.Sprintf("keep the data in this PostgreSQL database, in schema %s, instead of SQLite: postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE; replicas may share it (docs/database.md)", schema))
	s.Int(&st.MaxConns, "database-max-conns", st.MaxConns, fmt.Sprintf("with -%s, the most connections open to PostgreSQL at once, 1 to %d", s.Flag("database-url"), MaxConns))
	s.Int(&st.MinConns, "database-min-conns", st.MinConns, fmt.Sprintf("with -%s, the connections kept open while idle, up to -%s", s.Flag("database-url"), s.Flag("database-max-conns")))
	s.Duration(&st.ConnectTimeout, "database-connect-timeout", st.ConnectTimeout, fmt.Sprintf("with -%s, how long to wait for a new connection to PostgreSQL", s.Flag("database-url")))
	s.Duration(&st.Wait, "database-wait", st.Wait, fmt.Sprintf("with -%s, how long a start waits for PostgreSQL to answer, trying again with growing pauses, before it fails; 0 fails at the first attempt. A login refused (a wrong password, no such database) fails at once", s.Flag("database-url")))
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
	case st.Wait < 0:
		return config.UsageErrorf("%s %v: want 0 (give up at once) or a positive duration, such as 1m", s.Setting("database-wait"), st.Wait)
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
	case st.Wait < 0:
		return fmt.Errorf("wait %v: want 0 or more", st.Wait)
	}
	return nil
}
