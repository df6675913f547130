package telemetry

import (
	"context"
	"log/slog"
	"time"
)

// LogAttrs writes the record of msg and attrs at level, made at t, with
// logger's handler, for a caller that has checked logger.Enabled: what
// logger.LogAttrs writes, at less cost, for the access logs, which write
// a line for every call and page. It does not look up its caller's program
// counter (runtime.Callers) for a source that no handler of ours prints;
// and with the handlers of NewTextHandler and NewJSONHandler (as the
// logger's own, or given attributes by WithAttrs), it formats the line
// from attrs themselves, where a slog.Record keeps five attributes and
// allocates room for the rest (the access logs have seven). attrs are
// not kept: the caller's array can live on its stack. It returns the
// handler's error.
func LogAttrs(ctx context.Context, logger *slog.Logger, t time.Time, level slog.Level, msg string, attrs ...slog.Attr) error {
	h := logger.Handler()
	if lh, ok := h.(*lineHandler); ok {
		return lh.handleAttrs(ctx, t, level, msg, attrs)
	}
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	return h.Handle(ctx, r)
}
