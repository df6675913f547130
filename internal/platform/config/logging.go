package config

import (
	"io"
	"log/slog"
	"strings"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// Logging is how a command logs: -log-level (LOG_LEVEL) and -log-format
// (LOG_FORMAT), settings of the process.
type Logging struct {
	Level  slog.Level
	Format string
}

// Flags declares the logging settings on s.
func (c *Logging) Flags(s *Set) {
	s.Text(&c.Level, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	s.String(&c.Format, "log-format", "text", "log format: text or json")
}

// Logger returns a logger that writes to w as c says, in the standard
// library's text or JSON format (with telemetry's handlers, which write
// the access log's lines for less). Errors: a *UsageError for an unknown
// format.
func (c *Logging) Logger(w io.Writer) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: c.Level}
	switch strings.ToLower(c.Format) {
	case "text":
		return slog.New(telemetry.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(telemetry.NewJSONHandler(w, opts)), nil
	default:
		return nil, UsageErrorf("-log-format or LOG_FORMAT %q: want text or json", c.Format)
	}
}

// ServiceLogger is Logger for a service, whose access log writes a line
// for every call: the lines go out in batches, from a goroutine of their
// own (see telemetry.LogWriter). Call the returned function at exit: it
// writes what is left.
func (c *Logging) ServiceLogger(w io.Writer) (*slog.Logger, func(), error) {
	lw := telemetry.NewLogWriter(w)
	logger, err := c.Logger(lw)
	if err != nil {
		lw.Close()
		return nil, nil, err
	}
	return logger, func() { lw.Close() }, nil
}
