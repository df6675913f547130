package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The handlers of NewTextHandler and NewJSONHandler must write what the
// standard library's write, byte for byte: the tests log the same records
// through both and compare.

// handlerPair is one of ours and the standard library's, of one format,
// each writing to its own buffer.
type handlerPair struct {
	name          string
	ours, std     slog.Handler
	oursOut, stdO *bytes.Buffer
}

func newPairs(opts *slog.HandlerOptions) []handlerPair {
	var pairs []handlerPair
	for _, format := range []struct {
		name string
		ours func(io.Writer, *slog.HandlerOptions) slog.Handler
		std  func(io.Writer, *slog.HandlerOptions) slog.Handler
	}{
		{"text", telemetry.NewTextHandler, func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) }},
		{"json", telemetry.NewJSONHandler, func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) }},
	} {
		var a, b bytes.Buffer
		pairs = append(pairs, handlerPair{name: format.name, ours: format.ours(&a, opts), std: format.std(&b, opts), oursOut: &a, stdO: &b})
	}
	return pairs
}

// check logs r through both handlers of each pair, made by derive from the
// pair's handlers, and fails when their lines differ.
func check(t *testing.T, what string, r slog.Record, derive func(slog.Handler) slog.Handler) {
	t.Helper()
	for _, p := range newPairs(nil) {
		ours, std := derive(p.ours), derive(p.std)
		if err := ours.Handle(context.Background(), r.Clone()); err != nil {
			t.Fatalf("%s, %s: Handle: %v", p.name, what, err)
		}
		if err := std.Handle(context.Background(), r.Clone()); err != nil {
			t.Fatalf("%s, %s: the standard handler: %v", p.name, what, err)
		}
		if got, want := p.oursOut.String(), p.stdO.String(); got != want {
			t.Errorf("%s, %s:\n got %q\nwant %q", p.name, what, got, want)
		}
	}
}

var at = time.Date(2026, 12, 1, 21, 22, 33, 456789123, time.UTC)

func record(msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(at, slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

// logValuer is a slog.LogValuer.
type logValuer struct{ v slog.Value }

func (l logValuer) LogValue() slog.Value { return l.v }

func TestLineHandlersWriteWhatTheStandardOnesWrite(t *testing.T) {
	same := func(h slog.Handler) slog.Handler { return h }
	accessLog := []slog.Attr{
		slog.String("method", "/Recommendations/Recommend"),
		slog.String("kind", "unary"),
		slog.String("code", "OK"),
		slog.Duration("duration", 1234567*time.Nanosecond),
		slog.String("peer", "127.0.0.1:53412"),
		slog.String("identity", ""),
		slog.String("request_id", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
	}
	for _, tt := range []struct {
		name string
		r    slog.Record
	}{
		{"the access log", record("rpc", accessLog...)},
		{"no attributes", record("started")},
		{"empty message", record("")},
		{"message to quote", record("a message with spaces, \"quotes\" and =")},
		{"every kind", record("kinds",
			slog.String("s", "plain"), slog.Int("i", -42), slog.Uint64("u", math.MaxUint64),
			slog.Bool("t", true), slog.Bool("f", false), slog.Float64("x", 0.1), slog.Float64("big", 1e21),
			slog.Duration("d", 90*time.Minute+500*time.Millisecond), slog.Duration("neg", -time.Microsecond),
			slog.Time("when", at.Add(time.Hour)), slog.Time("zero", time.Time{}))},
		{"strings to quote or escape", record("strings",
			slog.String("empty", ""), slog.String("space", "a b"), slog.String("equals", "a=b"),
			slog.String("quote", `a"b`), slog.String("backslash", `a\b`), slog.String("newline", "a\nb"),
			slog.String("tab", "a\tb"), slog.String("control", "a\x01b\x7f"), slog.String("unicode", "naïve µs"),
			slog.String("unicode space", "a\u00a0b"), slog.String("invalid", "a\xffb"), slog.String("separators", "a\u2028b\u2029"),
			slog.String("not printable", "a\u200bb"), slog.String("html", "<a href='x'>&</a>"))},
		{"keys to quote", record("keys", slog.String("a key", "v"), slog.String("k=v", "v"), slog.String(`"`, "v"), slog.String("ключ", "v"))},
		{"empty attribute", record("empty", slog.Attr{}, slog.String("after", "v"))},
		{"only empty attributes", record("empty", slog.Attr{}, slog.Attr{})},
		{"log valuer", record("valuer", slog.Any("lv", logValuer{slog.StringValue("resolved value")}), slog.Any("lvi", logValuer{slog.IntValue(7)}))},
		// For the standard handler: these the handlers hand over.
		{"error", record("failed", slog.Any("err", errors.New("it broke: badly")))},
		{"nil any", record("nil", slog.Any("nothing", nil))},
		{"text marshaler", record("addr", slog.Any("addr", netip.MustParseAddr("127.0.0.1")))},
		{"group", record("group", slog.Group("g", slog.String("a", "b"), slog.Int("n", 1)))},
		{"inline group", record("group", slog.Group("", slog.String("a", "b")))},
		{"empty key", record("empty key", slog.String("", "value"))},
		{"float in JSON", record("float", slog.Float64("nan", math.NaN()))},
		{"far year", record("far", slog.Time("t", time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)))},
		{"bytes", record("bytes", slog.Any("b", []byte("raw")))},
	} {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.name, tt.r, same) })
	}

	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2, slog.LevelError + 4}
	for _, level := range levels {
		r := slog.NewRecord(at, level, "leveled", 0)
		check(t, "level "+level.String(), r, same)
	}
	check(t, "zero time", slog.NewRecord(time.Time{}, slog.LevelInfo, "timeless", 0), same)
	local := slog.NewRecord(time.Date(2026, 6, 1, 8, 0, 0, 5e6, time.FixedZone("CEST", 2*3600)), slog.LevelInfo, "zoned", 0)
	check(t, "time zone", local, same)

	with := func(attrs ...slog.Attr) func(slog.Handler) slog.Handler {
		return func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) }
	}
	check(t, "with attributes", record("rpc", accessLog...), with(slog.String("service", "recommendations")))
	check(t, "with an empty attribute", record("rpc", accessLog...), with(slog.Attr{}, slog.String("service", "a b")))
	check(t, "with an error", record("rpc", accessLog...), with(slog.Any("err", errors.New("e"))))
	check(t, "with a group", record("rpc", accessLog...), with(slog.Group("g", slog.Int("n", 1))))
	check(t, "with twice", record("rpc", accessLog...), func(h slog.Handler) slog.Handler {
		return h.WithAttrs([]slog.Attr{slog.String("a", "1")}).WithAttrs([]slog.Attr{slog.Int("b", 2)})
	})
	check(t, "with a group name", record("rpc", accessLog...), func(h slog.Handler) slog.Handler {
		return h.WithAttrs([]slog.Attr{slog.String("service", "s")}).WithGroup("call").WithAttrs([]slog.Attr{slog.Int("n", 1)})
	})
	check(t, "with an empty group name", record("rpc", accessLog...), func(h slog.Handler) slog.Handler { return h.WithGroup("") })
}

// TestLineHandlersRandomRecords compares the handlers on records made at
// random from pieces that need every kind of quoting and escaping.
func TestLineHandlersRandomRecords(t *testing.T) {
	pieces := []string{"", "a", "Z9", " ", "=", `"`, `\`, "\n", "\t", "\x00", "\x7f", "é", "µ", "\u00a0", "\u2028", "\xff", "\xc3", "🙂", "<&>", "/path", "-", "_.:"}
	str := func(r *rand.Rand) string {
		var b strings.Builder
		for range r.IntN(4) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	value := func(r *rand.Rand) slog.Value {
		switch r.IntN(8) {
		case 0:
			return slog.IntValue(int(r.Int64()) - math.MaxInt64/2)
		case 1:
			return slog.Uint64Value(r.Uint64())
		case 2:
			return slog.BoolValue(r.IntN(2) == 0)
		case 3:
			return slog.DurationValue(time.Duration(r.Int64N(int64(100*time.Hour))) - time.Hour)
		case 4:
			return slog.TimeValue(at.Add(time.Duration(r.Int64N(int64(1000 * time.Hour)))))
		case 5:
			return slog.Float64Value(r.NormFloat64() * 1e6)
		default:
			return slog.StringValue(str(r))
		}
	}
	r := rand.New(rand.NewPCG(1, 18))
	for i := range 2000 {
		rec := slog.NewRecord(at.Add(time.Duration(r.Int64N(int64(time.Hour)))), slog.Level(r.IntN(16)-4), str(r), 0)
		for range r.IntN(9) {
			key := str(r)
			if key == "" {
				key = "k"
			}
			rec.AddAttrs(slog.Attr{Key: key, Value: value(r)})
		}
		var with []slog.Attr
		for range r.IntN(3) {
			with = append(with, slog.Attr{Key: "w" + str(r), Value: value(r)})
		}
		check(t, "record "+string(rune('0'+i%10)), rec, func(h slog.Handler) slog.Handler { return h.WithAttrs(with) })
		if t.Failed() {
			return
		}
	}
}

// TestLineHandlersTimes logs records of many times through one pair of
// handlers: the handlers keep the text of the last second, which the next
// records of that second share, in any zone.
func TestLineHandlersTimes(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("CEST", 2*3600), time.FixedZone("", -(3*3600 + 30*60)), time.Local}
	r := rand.New(rand.NewPCG(18, 1))
	for _, p := range newPairs(nil) {
		when := at
		for i := range 3000 {
			switch r.IntN(4) {
			case 0: // the same second
				when = when.Truncate(time.Second).Add(time.Duration(r.Int64N(int64(time.Second))))
			case 1: // the next
				when = when.Add(time.Second)
			case 2: // round values, which RFC3339Nano trims
				when = when.Truncate(time.Duration([]int64{1, 1e3, 1e6, 1e8, 1e9}[r.IntN(5)]))
			default:
				when = when.Add(time.Duration(r.Int64N(int64(48 * time.Hour))))
			}
			when = when.In(zones[r.IntN(len(zones))])
			rec := slog.NewRecord(when, slog.LevelInfo, "tick", 0)
			rec.AddAttrs(slog.Int("i", i), slog.Time("when", when))
			if err := p.ours.Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			if err := p.std.Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := p.oursOut.String(), p.stdO.String(); got != want {
			gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					t.Fatalf("%s, line %d:\n got %q\nwant %q", p.name, i, gl[i], wl[i])
				}
			}
			t.Fatalf("%s: %d lines, want %d", p.name, len(gl), len(wl))
		}
	}
}

func TestLineHandlersEnabled(t *testing.T) {
	var levelVar slog.LevelVar
	levelVar.Set(slog.LevelWarn)
	for _, tt := range []struct {
		opts  *slog.HandlerOptions
		level slog.Level
		want  bool
	}{
		{nil, slog.LevelInfo, true},
		{nil, slog.LevelDebug, false},
		{&slog.HandlerOptions{Level: slog.LevelDebug}, slog.LevelDebug, true},
		{&slog.HandlerOptions{Level: &levelVar}, slog.LevelInfo, false},
		{&slog.HandlerOptions{Level: &levelVar}, slog.LevelWarn, true},
	} {
		for _, h := range []slog.Handler{telemetry.NewTextHandler(io.Discard, tt.opts), telemetry.NewJSONHandler(io.Discard, tt.opts)} {
			if got := h.Enabled(context.Background(), tt.level); got != tt.want {
				t.Errorf("Enabled(%v) with options %+v = %v, want %v", tt.level, tt.opts, got, tt.want)
			}
		}
	}
}

// TestLineHandlersOptions checks that options the handlers do not
// implement get the standard handler's behaviour.
func TestLineHandlersOptions(t *testing.T) {
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	var buf bytes.Buffer
	logger := slog.New(telemetry.NewTextHandler(&buf, opts))
	logger.Info("replaced", "n", 1)
	if got, want := buf.String(), "level=INFO msg=replaced n=1\n"; got != want {
		t.Errorf("with ReplaceAttr: got %q, want %q", got, want)
	}
}

// TestLineHandlersConcurrentLines checks that lines written at once, by
// clones and by the standard handler behind them, are never interleaved
// in a writer that is not safe for concurrent use.
func TestLineHandlersConcurrentLines(t *testing.T) {
	var buf bytes.Buffer
	base := telemetry.NewTextHandler(&buf, nil)
	handlers := []slog.Handler{base, base.WithAttrs([]slog.Attr{slog.String("service", "s")}), base.WithGroup("g")}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			logger := slog.New(handlers[i%len(handlers)])
			for range 200 {
				logger.Info("line", "err", errors.New("e"), "n", 1)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("got %d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "time=") || strings.Count(l, "time=") != 1 {
			t.Fatalf("a line is mixed with another: %q", l)
		}
	}
}

// BenchmarkAccessLogLine measures one line of the gRPC access log through
// the text handlers, ours and the standard library's, to io.Discard.
func BenchmarkAccessLogLine(b *testing.B) {
	for _, h := range []struct {
		name string
		h    slog.Handler
	}{
		{"ours", telemetry.NewTextHandler(io.Discard, nil)},
		{"std", slog.NewTextHandler(io.Discard, nil)},
		{"ours json", telemetry.NewJSONHandler(io.Discard, nil)},
		{"std json", slog.NewJSONHandler(io.Discard, nil)},
	} {
		handler := h.h.WithAttrs([]slog.Attr{slog.String("service", "recommendations")})
		b.Run(h.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				r := slog.NewRecord(time.Now(), slog.LevelInfo, "rpc", 0)
				r.AddAttrs(
					slog.String("method", "/Recommendations/Recommend"),
					slog.String("kind", "unary"),
					slog.String("code", "OK"),
					slog.Duration("duration", 1234567*time.Nanosecond),
					slog.String("peer", "127.0.0.1:53412"),
					slog.String("identity", ""),
					slog.String("request_id", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
				_ = handler.Handle(ctx, r)
			}
		})
	}
}

// TestLogAttrs checks that LogAttrs writes what the standard handlers
// write for the same record, through our handlers (which format the
// attributes themselves, or hand them over) and through any other.
func TestLogAttrs(t *testing.T) {
	accessLog := []slog.Attr{
		slog.String("method", "/Recommendations/Recommend"),
		slog.String("kind", "unary"),
		slog.String("code", "OK"),
		slog.Duration("duration", 1234567*time.Nanosecond),
		slog.String("peer", "127.0.0.1:53412"),
		slog.String("identity", ""),
		slog.String("request_id", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
	}
	for _, tt := range []struct {
		name  string
		level slog.Level
		attrs []slog.Attr
	}{
		{"the access log", slog.LevelInfo, accessLog},
		{"a warning, nine attributes", slog.LevelWarn, append(append([]slog.Attr(nil), accessLog...), slog.String("reason", "no certificate"), slog.String("subject", "CN=a b"))},
		{"none", slog.LevelInfo, nil},
		{"for the standard handler", slog.LevelError, []slog.Attr{slog.String("a", "b"), slog.Any("err", errors.New("it broke"))}},
	} {
		for _, p := range newPairs(nil) {
			ours := slog.New(p.ours.WithAttrs([]slog.Attr{slog.String("service", "recommendations")}))
			std := p.std.WithAttrs([]slog.Attr{slog.String("service", "recommendations")})
			if err := telemetry.LogAttrs(context.Background(), ours, at, tt.level, "rpc", tt.attrs...); err != nil {
				t.Fatalf("%s, %s: LogAttrs: %v", p.name, tt.name, err)
			}
			r := slog.NewRecord(at, tt.level, "rpc", 0)
			r.AddAttrs(tt.attrs...)
			if err := std.Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if got, want := p.oursOut.String(), p.stdO.String(); got != want {
				t.Errorf("%s, %s:\n got %q\nwant %q", p.name, tt.name, got, want)
			}
			// Through a handler of another kind: the standard one itself.
			var buf bytes.Buffer
			other := slog.New(slog.NewTextHandler(&buf, nil).WithAttrs([]slog.Attr{slog.String("service", "recommendations")}))
			if err := telemetry.LogAttrs(context.Background(), other, at, tt.level, "rpc", tt.attrs...); err != nil {
				t.Fatal(err)
			}
			if p.name == "text" && buf.String() != p.stdO.String() {
				t.Errorf("%s, through the standard handler:\n got %q\nwant %q", tt.name, buf.String(), p.stdO.String())
			}
		}
	}
}

// TestLogAttrsAllocatesNothing checks that an access log line costs the
// garbage collector nothing: the attributes stay on the caller's stack and
// the line is formatted into a buffer used again.
func TestLogAttrsAllocatesNothing(t *testing.T) {
	logger := slog.New(telemetry.NewTextHandler(io.Discard, nil).WithAttrs([]slog.Attr{slog.String("service", "recommendations")}))
	ctx := context.Background()
	start := time.Now()
	allocs := testing.AllocsPerRun(1000, func() {
		_ = telemetry.LogAttrs(ctx, logger, time.Now(), slog.LevelInfo, "rpc",
			slog.String("method", "/Recommendations/Recommend"),
			slog.String("kind", "unary"),
			slog.String("code", "OK"),
			slog.Duration("duration", time.Since(start)),
			slog.String("peer", "127.0.0.1:53412"),
			slog.String("identity", ""),
			slog.String("request_id", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
	})
	if allocs != 0 {
		t.Errorf("LogAttrs of the access log's seven attributes: %v allocations a line, want 0", allocs)
	}
}
