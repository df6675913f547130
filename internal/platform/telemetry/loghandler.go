package telemetry

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// NewTextHandler returns a slog.Handler that writes what
// slog.NewTextHandler(w, opts) writes, byte for byte, at a fraction of its
// cost for the records that services write on every call and page: the
// access log's. See NewJSONHandler.
func NewTextHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	return newLineHandler(w, opts, false)
}

// NewJSONHandler returns a slog.Handler that writes what
// slog.NewJSONHandler(w, opts) writes, byte for byte.
//
// The handlers of NewTextHandler and NewJSONHandler format a record
// themselves, into a buffer that is reused, when its attributes and those
// given to WithAttrs are strings, integers, booleans, durations, times
// (and, in text, floats), with no groups: the access log's lines, and most
// others. They do the same work as the standard library's handlers (the
// same quoting and escaping), without the steps that serve what such
// records lack: no allocation for a duration or for a seventh attribute,
// no check of each attribute for a LogValuer, no pool of states. Any other
// record goes to the standard library's handler, made with the same
// options and attributes and writing to the same writer, so the output is
// always the standard handler's. Options other than Level (AddSource,
// ReplaceAttr) get the standard library's handler itself.
//
// Lines are written to w with one Write each, under a lock, as the
// standard handlers write them.
func NewJSONHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	return newLineHandler(w, opts, true)
}

func newLineHandler(w io.Writer, opts *slog.HandlerOptions, json bool) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	lw := &lockedWriter{w: w}
	var std slog.Handler
	if json {
		std = slog.NewJSONHandler(lw, opts)
	} else {
		std = slog.NewTextHandler(lw, opts)
	}
	if opts.AddSource || opts.ReplaceAttr != nil {
		return std
	}
	return &lineHandler{json: json, level: opts.Level, w: lw, std: std, clock: new(atomic.Pointer[stamp])}
}

// lineHandler is the handler of NewTextHandler and NewJSONHandler.
type lineHandler struct {
	json  bool
	level slog.Leveler // nil: info
	w     *lockedWriter
	// attrs are the attributes given to WithAttrs, formatted, each after
	// its separator.
	attrs []byte
	// std is the standard library's handler with the same options and
	// attributes, for the records this one does not format.
	std slog.Handler
	// clock is the text of the last second written, shared with clones.
	clock *atomic.Pointer[stamp]
}

// lockedWriter serializes the writes of a handler and its clones, and of
// the standard handler beside them.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Enabled implements slog.Handler.
func (h *lineHandler) Enabled(_ context.Context, level slog.Level) bool {
	min := slog.LevelInfo
	if h.level != nil {
		min = h.level.Level()
	}
	return level >= min
}

// WithAttrs implements slog.Handler.
func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	std := h.std.WithAttrs(attrs)
	b := append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		var ok bool
		if b, ok = h.appendAttr(b, a); !ok {
			return std
		}
	}
	return &lineHandler{json: h.json, level: h.level, w: h.w, attrs: b, std: std, clock: h.clock}
}

// WithGroup implements slog.Handler: the group's records go to the
// standard library's handler (even for an empty name, which it does not
// ignore).
func (h *lineHandler) WithGroup(name string) slog.Handler {
	return h.std.WithGroup(name)
}

// maxKeptLine is the largest buffer put back in the pool: a record with a
// stack trace makes one that would be kept in vain.
const maxKeptLine = 4 << 10

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Handle implements slog.Handler.
func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	p := linePool.Get().(*[]byte)
	b, ok := h.appendHead((*p)[:0], r.Time, r.Level, r.Message)
	if ok {
		r.Attrs(func(a slog.Attr) bool {
			b, ok = h.appendAttr(b, a)
			return ok
		})
	}
	var err error
	if ok {
		_, err = h.w.Write(h.appendEnd(b))
	}
	h.keep(p, b)
	if !ok {
		return h.std.Handle(ctx, r)
	}
	return err
}

// handleAttrs is Handle for the record of msg and attrs at level, made at
// t, without the record: see LogAttrs.
func (h *lineHandler) handleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	p := linePool.Get().(*[]byte)
	b, ok := h.appendHead((*p)[:0], t, level, msg)
	for i := 0; ok && i < len(attrs); i++ {
		b, ok = h.appendAttr(b, attrs[i])
	}
	var err error
	if ok {
		_, err = h.w.Write(h.appendEnd(b))
	}
	h.keep(p, b)
	if !ok {
		r := slog.NewRecord(t, level, msg, 0)
		r.AddAttrs(attrs...)
		return h.std.Handle(ctx, r)
	}
	return err
}

// keep puts b, the buffer of a line taken from linePool as p, back in the
// pool, unless it grew too large to keep.
func (h *lineHandler) keep(p *[]byte, b []byte) {
	if cap(b) <= maxKeptLine {
		*p = b
		linePool.Put(p)
	}
}

// appendHead appends the start of a record's line: its time, level and
// message, and the attributes given to WithAttrs; or reports that the
// record is for the standard library's handler.
func (h *lineHandler) appendHead(b []byte, t time.Time, level slog.Level, msg string) ([]byte, bool) {
	first := true
	if h.json {
		b = append(b, '{')
	}
	// The keys of the built-in attributes, and the names of the four
	// levels, need no quoting or escaping.
	if !t.IsZero() {
		b = h.appendPlainKey(b, slog.TimeKey, first)
		first = false
		var ok bool
		if b, ok = h.appendTime(b, t.Round(0)); !ok {
			return b, false
		}
	}
	b = h.appendPlainKey(b, slog.LevelKey, first)
	switch level {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
		if h.json {
			b = append(append(append(b, '"'), level.String()...), '"')
		} else {
			b = append(b, level.String()...)
		}
	default:
		b = h.appendString(b, level.String())
	}
	b = h.appendPlainKey(b, slog.MessageKey, false)
	b = h.appendString(b, msg)
	return append(b, h.attrs...), true
}

// appendEnd ends the line that appendHead and the record's attributes
// began.
func (h *lineHandler) appendEnd(b []byte) []byte {
	if h.json {
		b = append(b, '}')
	}
	return append(b, '\n')
}

// appendAttr appends a's separator, key and value, nothing for an empty
// attribute, or reports that a is for the standard library's handler.
func (h *lineHandler) appendAttr(b []byte, a slog.Attr) ([]byte, bool) {
	v := a.Value
	if v.Kind() == slog.KindLogValuer {
		v = v.Resolve()
	}
	if a.Key == "" {
		// An empty attribute is left out; any other without a key is the
		// standard handler's to write.
		return b, v.Kind() == slog.KindAny && v.Any() == nil
	}
	n := len(b)
	b = h.appendKey(b, a.Key, false)
	switch v.Kind() {
	case slog.KindString:
		return h.appendString(b, v.String()), true
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindDuration:
		if h.json {
			return strconv.AppendInt(b, int64(v.Duration()), 10), true
		}
		return appendDuration(b, v.Duration()), true
	case slog.KindTime:
		return h.appendTime(b, v.Time())
	case slog.KindFloat64:
		if !h.json { // JSON's floats are encoding/json's to write
			return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64), true
		}
	}
	return b[:n], false
}

// appendKey appends key as the handler writes keys, after a separator
// unless it is the first.
func (h *lineHandler) appendKey(b []byte, key string, first bool) []byte {
	if !first {
		if h.json {
			b = append(b, ',')
		} else {
			b = append(b, ' ')
		}
	}
	b = h.appendString(b, key)
	if h.json {
		return append(b, ':')
	}
	return append(b, '=')
}

// appendPlainKey is appendKey for a key that needs no quoting or
// escaping.
func (h *lineHandler) appendPlainKey(b []byte, key string, first bool) []byte {
	if h.json {
		if !first {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, key...)
		return append(b, '"', ':')
	}
	if !first {
		b = append(b, ' ')
	}
	b = append(b, key...)
	return append(b, '=')
}

// appendString appends s as the standard handlers write a string: in
// JSON, quoted and escaped; in text, as it is, unless it is empty or holds
// a space, '=', '"', a control character or anything else that is not
// printable, which make it quoted (strconv.Quote).
func (h *lineHandler) appendString(b []byte, s string) []byte {
	if h.json {
		b = append(b, '"')
		b = appendJSONEscaped(b, s)
		return append(b, '"')
	}
	if textNeedsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// appendTime appends t as the standard handlers write times: in text,
// RFC 3339 with milliseconds; in JSON, quoted RFC 3339 with nanoseconds,
// or not at all for a year outside 0 to 9999, which the standard handler
// reports as an error.
func (h *lineHandler) appendTime(b []byte, t time.Time) ([]byte, bool) {
	if st := h.clock.Load(); st != nil && st.sec == t.Unix() && st.loc == t.Location() {
		return st.append(b, t, h.json), true
	}
	n := len(b)
	if !h.json {
		b = appendRFC3339Millis(b, t)
		h.remember(t, b[n:])
		return b, true
	}
	if y := t.Year(); y < 0 || y >= 10000 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	h.remember(t, b[n+1:])
	return append(b, '"'), true
}

// stamp is a second as the handlers write it: its date and time, to the
// second, and its zone, which the records of that second share. Made
// once a second, it saves formatting the whole time (a fifth of a line).
type stamp struct {
	sec  int64
	loc  *time.Location
	date string // "2006-01-02T15:04:05"
	zone string // "Z", "+02:00"
}

// remember keeps the second of t from its text, as appendTime wrote it:
// the date and time up to the second, and the zone after the fraction,
// when the year has four digits.
func (h *lineHandler) remember(t time.Time, text []byte) {
	const dateLen = len("2006-01-02T15:04:05")
	if len(text) <= dateLen || text[4] != '-' {
		return
	}
	zone := dateLen
	if text[zone] == '.' {
		zone++
		for zone < len(text) && '0' <= text[zone] && text[zone] <= '9' {
			zone++
		}
	}
	h.clock.Store(&stamp{sec: t.Unix(), loc: t.Location(), date: string(text[:dateLen]), zone: string(text[zone:])})
}

// append appends t, a time of st's second, as appendTime does.
func (st *stamp) append(b []byte, t time.Time, json bool) []byte {
	ns := t.Nanosecond()
	if !json {
		ms := ns / 1e6
		b = append(b, st.date...)
		b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		return append(b, st.zone...)
	}
	b = append(b, '"')
	b = append(b, st.date...)
	if ns != 0 { // RFC3339Nano: as many digits as it takes, none for none
		var f [10]byte
		f[0] = '.'
		for i := 9; i > 0; i-- {
			f[i] = byte('0' + ns%10)
			ns /= 10
		}
		end := 10
		for f[end-1] == '0' {
			end--
		}
		b = append(b, f[:end]...)
	}
	b = append(b, st.zone...)
	return append(b, '"')
}

// appendRFC3339Millis appends t in RFC 3339 with exactly three digits of
// milliseconds, truncated, as the standard text handler does:
// time.RFC3339Nano trims trailing zeros, so a tenth of a millisecond is
// added to keep four digits, and the fourth is dropped.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	b = t.Truncate(time.Millisecond).Add(time.Millisecond/10).AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// byteClass says, for each byte, whether it may appear as it is in a text
// value (textPlain) and in a JSON string (jsonPlain), as the standard
// handlers decide for ASCII: every byte from the space to DEL but '"'
// and, in JSON, '\\'; in text, a space or an '=' make a value quoted, and a
// '\\' does not. Bytes of UTF-8 sequences are neither: the rune decides.
var byteClass = func() (c [256]uint8) {
	for b := 0x20; b <= 0x7f; b++ {
		c[b] = textPlain | jsonPlain
	}
	c['"'] = 0
	c['\\'] = textPlain
	c[' '] = jsonPlain
	c['='] = jsonPlain
	return c
}()

const (
	textPlain = 1 << iota
	jsonPlain
)

// textNeedsQuoting reports whether the standard text handler quotes s.
func textNeedsQuoting(s string) bool {
	if s == "" {
		return true
	}
	i := 0
	for ; i+4 <= len(s); i += 4 {
		if byteClass[s[i]]&byteClass[s[i+1]]&byteClass[s[i+2]]&byteClass[s[i+3]]&textPlain == 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if byteClass[s[i]]&textPlain == 0 {
			return runesNeedQuoting(s[i:])
		}
	}
	return false
}

// runesNeedQuoting is textNeedsQuoting from the first byte that is not
// plain: an ASCII byte that is not is quoted, and a rune is when it is
// not valid UTF-8, a space or not printable.
func runesNeedQuoting(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if byteClass[c]&textPlain == 0 {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendJSONEscaped appends s escaped as the standard JSON handler
// escapes strings: '"' and '\\' with a backslash, \n, \r and \t by name,
// other control characters as \u00XX (but DEL as it is), invalid UTF-8 as
// \ufffd, and U+2028 and U+2029 as \u2028 and \u2029.
func appendJSONEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	i := 0
	for ; i+4 <= len(s); i += 4 {
		if byteClass[s[i]]&byteClass[s[i+1]]&byteClass[s[i+2]]&byteClass[s[i+3]]&jsonPlain == 0 {
			break
		}
	}
	for i < len(s) && byteClass[s[i]]&jsonPlain != 0 {
		i++
	}
	if i == len(s) {
		return append(b, s...)
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if byteClass[c]&jsonPlain != 0 {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}

// appendDuration appends d as d.String() makes it ("1.5ms", "2m3s",
// "-1h0m0.5s"), without making a string.
func appendDuration(b []byte, d time.Duration) []byte {
	if d == 0 {
		return append(b, "0s"...)
	}
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = -u // the magnitude, even of the smallest duration
	}
	switch {
	case u < uint64(time.Microsecond):
		return append(strconv.AppendUint(b, u, 10), "ns"...)
	case u < uint64(time.Millisecond):
		return append(appendDecimal(b, u, 3), "µs"...)
	case u < uint64(time.Second):
		return append(appendDecimal(b, u, 6), "ms"...)
	}
	hours := u / uint64(time.Hour)
	u -= hours * uint64(time.Hour)
	minutes := u / uint64(time.Minute)
	u -= minutes * uint64(time.Minute)
	if hours > 0 {
		b = append(strconv.AppendUint(b, hours, 10), 'h')
	}
	if hours > 0 || minutes > 0 {
		b = append(strconv.AppendUint(b, minutes, 10), 'm')
	}
	return append(appendDecimal(b, u, 9), 's')
}

// appendDecimal appends u/10^digits with its fraction, without trailing
// zeros, and without a point when the fraction is zero.
func appendDecimal(b []byte, u uint64, digits int) []byte {
	scale := uint64(1)
	for range digits {
		scale *= 10
	}
	b = strconv.AppendUint(b, u/scale, 10)
	frac := u % scale
	if frac == 0 {
		return b
	}
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	var f [9]byte
	for i := digits - 1; i >= 0; i-- {
		f[i] = byte('0' + frac%10)
		frac /= 10
	}
	b = append(b, '.')
	return append(b, f[:digits]...)
}
