package rpctest

import (
	"context"
	"log/slog"
	"sync"
)

// Calls is a log handler that counts the calls a server's access log
// records (its "rpc" lines), by method, and drops every line: give a
// service slog.New(calls) as its logger to learn how often it was asked,
// retries included. It is safe for concurrent use.
type Calls struct {
	mu sync.Mutex
	n  map[string]int
}

// Of returns how many calls of method ("/pkg.Service/Method") were
// served.
func (c *Calls) Of(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

var _ slog.Handler = (*Calls)(nil)

// Enabled implements slog.Handler: every level.
func (c *Calls) Enabled(context.Context, slog.Level) bool { return true }

// WithAttrs implements slog.Handler: the attributes are dropped.
func (c *Calls) WithAttrs([]slog.Attr) slog.Handler { return c }

// WithGroup implements slog.Handler: the group is dropped.
func (c *Calls) WithGroup(string) slog.Handler { return c }

// Handle implements slog.Handler: it counts an access-log line by its
// method, and drops it.
func (c *Calls) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "rpc" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "method" {
			return true
		}
		c.mu.Lock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		c.n[a.Value.String()]++
		c.mu.Unlock()
		return false
	})
	return nil
}
