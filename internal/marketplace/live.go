package marketplace

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// liveRetry is how long a browser waits before it reconnects a live event
// stream that ended, as the stream tells it.
const liveRetry = 2 * time.Second

// Messages of the live routes, for the shopper's script.
const (
	messageLiveUnavailable = "Live recommendations are unavailable right now."
	messageLiveBusy        = "Too many shoppers are browsing right now. Please try again in a moment."
	messageNoSession       = "There is no live session with this id: it may have ended."
	messageBadEvent        = `Send a JSON object such as {"type": "viewed", "book_id": 1}; type is "viewed" or "dismissed".`
)

// liveSessions are the live sessions open at once, each a stream of the
// LiveRecommender, by session id, with a cap on all of them, another on
// those of one client and a third on those of one network, so that
// neither one client nor one network of many clients can take every
// place. It is safe for concurrent use.
type liveSessions struct {
	mu         sync.Mutex
	max        int
	perClient  int
	perNetwork int
	byID       map[string]*liveSession
	byClient   map[string]int   // sessions open by client key
	byNetwork  map[string]int   // sessions open by network key
	open       prometheus.Gauge // bookshop_live_sessions

	// shutdown is done once the server's Shutdown is closed; started by
	// the first session (see onShutdown).
	watchShutdown sync.Once
	shutdown      context.Context
}

// liveSession is one place of liveSessions.
type liveSession struct {
	stream  bookshop.LiveStream // nil while it opens
	client  string
	network string
	// secret is what the browser that opened the session holds, in the
	// cookie liveCookieName scoped to the session's events path: an event
	// post must bring it, so that knowing the id is not enough.
	secret string
}

// liveCookieName is the cookie that binds a live session to the browser
// that opened it. It is set with the event stream, HttpOnly, SameSite=
// Strict, for the path of that session's events only (a browser with
// several book pages open holds one per session); over HTTPS it is
// Secure, and named with the __Secure- prefix, which browsers take only
// from HTTPS (see liveCookie). It lasts as long as a session may (see
// liveCookieMaxAge), so that a browser does not keep one for every book
// page it opened until it closes.
const liveCookieName = "bookshop_live"

// liveCookie returns the name of the live session's cookie: with the
// __Secure- prefix when secure. (Not __Host-, which asks for the path /:
// the cookie's path is its session's.)
func liveCookie(secure bool) string {
	if secure {
		return "__Secure-" + liveCookieName
	}
	return liveCookieName
}

// liveCookieMaxAge is how long a live session's cookie lasts: as long as
// the session may (maxAge, after which runLive ends it at its next
// heartbeat) and a heartbeat, rounded up to a second.
func liveCookieMaxAge(maxAge, heartbeat time.Duration) int {
	return int((maxAge + heartbeat + time.Second - 1) / time.Second)
}

func newLiveSessions(max, perClient, perNetwork int, open prometheus.Gauge) *liveSessions {
	return &liveSessions{max: max, perClient: perClient, perNetwork: perNetwork, open: open,
		byID: make(map[string]*liveSession), byClient: make(map[string]int), byNetwork: make(map[string]int)}
}

// reserve takes a place for a new session of client, of network, before
// its stream is opened, so that no more than the caps are ever open, and
// returns the session's new random id and its secret. It returns false
// when max sessions, perClient of client's or perNetwork of network's are
// open.
func (l *liveSessions) reserve(client, network string) (id, secret string, ok bool) {
	// 128 bits from crypto/rand each: neither can be guessed. The id goes
	// in URLs (and so may be seen: a proxy's log, a shared screen); the
	// secret only in the cookie of the browser that opened the session.
	id, secret = rand.Text(), rand.Text()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.byID) >= l.max || l.byClient[client] >= l.perClient || l.byNetwork[network] >= l.perNetwork {
		return "", "", false
	}
	l.byID[id] = &liveSession{client: client, network: network, secret: secret}
	l.byClient[client]++
	l.byNetwork[network]++
	l.open.Inc()
	return id, secret, true
}

// onShutdown calls f once shutdown is closed, and returns a function
// that forgets f (false if f was called). One goroutine, started by the
// first call, waits for shutdown for every session; a nil shutdown never
// comes.
func (l *liveSessions) onShutdown(shutdown <-chan struct{}, f func()) (stop func() bool) {
	if shutdown == nil {
		return func() bool { return true }
	}
	l.watchShutdown.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		l.shutdown = ctx
		go func() {
			<-shutdown
			cancel()
		}()
	})
	return context.AfterFunc(l.shutdown, f)
}

// attach gives reserved session id its stream.
func (l *liveSessions) attach(id string, stream bookshop.LiveStream) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.byID[id]; ok {
		s.stream = stream
	}
}

// get returns the stream of session id, if it is open and secret is its
// secret.
func (l *liveSessions) get(id, secret string) (bookshop.LiveStream, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.byID[id]; ok && s.stream != nil && subtle.ConstantTimeCompare([]byte(s.secret), []byte(secret)) == 1 {
		return s.stream, true
	}
	return nil, false
}

// remove forgets session id, and frees its place.
func (l *liveSessions) remove(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.byID[id]
	if !ok {
		return
	}
	delete(l.byID, id)
	if l.byClient[s.client]--; l.byClient[s.client] <= 0 {
		delete(l.byClient, s.client)
	}
	if l.byNetwork[s.network]--; l.byNetwork[s.network] <= 0 {
		delete(l.byNetwork, s.network)
	}
	l.open.Dec()
}

// liveWriteTimeout bounds each write of a live event stream: a browser
// that reads nothing for that long, its connection's buffers full, is
// gone, and its session ends.
const liveWriteTimeout = 10 * time.Second

// handleLive serves GET /live, the event stream (Server-Sent Events) of one
// browser session of a book page. It opens one stream of the
// LiveRecommender for the session and sends, as SSE events:
//
//   - "session", first: the session's id, for POST /live/{session}/events;
//   - "books", for each list the stream answers with: a JSON array of
//     {id, title, author, year}, with the list's number as the event id;
//   - a comment every heartbeat, so that proxies keep the connection.
//
// It ends, closing the stream, when the browser goes away, when the stream
// ends, at shutdown, or once it has lasted Options.LiveSessionMaxAge (the
// browser then opens a new one, as after any break). It answers 503,
// with a Retry-After of liveRetry and before any event, when too many
// sessions are open here, when the LiveRecommender serves as many
// streams as it may (Exhausted), or when it cannot be reached.
//
// A session lasts as long as the page is open, and there may be
// thousands: once the headers and the session event are out, the handler
// takes the connection over from net/http (a hijack), which frees the
// request's buffers and goroutines, and serves the rest of the session
// from a goroutine of its own (see runLive). The body is not chunked: it
// lasts until the connection closes, as the SSE specification recommends
// over HTTP/1.1. Where the connection cannot be taken over (HTTP/2), the
// handler serves the session itself.
func (s *server) handleLive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// The response lasts as long as the browser stays: lift the
		// server's read and write deadlines for this one. (A read deadline
		// that passes would cancel the request's context.)
		if err := rc.SetWriteDeadline(time.Time{}); err != nil {
			s.logger.WarnContext(r.Context(), "live: cannot lift the write deadline", "err", err)
		}
		if err := rc.SetReadDeadline(time.Time{}); err != nil {
			s.logger.WarnContext(r.Context(), "live: cannot lift the read deadline", "err", err)
		}

		client, network := clientKeys(r, s.trustedProxies)
		id, secret, ok := s.sessions.reserve(client, network)
		if !ok {
			// Debug, not Warn: past a cap, a client that opens sessions
			// without end would flood the log at the rate it asks. The
			// request metrics count the refusals (route GET /live, 503).
			s.logger.DebugContext(r.Context(), "live: too many sessions; refusing one",
				"max", s.sessions.max, "max_per_client", s.sessions.perClient, "max_per_network", s.sessions.perNetwork,
				"client", client, "network", network)
			retryLater(w)
			writePlain(w, http.StatusServiceUnavailable, messageLiveBusy)
			return
		}
		// The session outlives the request when the connection is taken
		// over: its context keeps the request's values (its id, its
		// span), not its end. The request's end (the browser gone) ends
		// it while this handler serves it.
		ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
		stopRequest := context.AfterFunc(r.Context(), cancel)
		stream, err := s.live.Open(ctx, visitorOf(r).userID(), livePanelSize)
		if err != nil {
			stopRequest()
			cancel()
			s.sessions.remove(id)
			retryLater(w)
			switch {
			case bookshop.ErrorCode(err) == bookshop.Exhausted:
				// Recommendations' caps, which it reports itself: one
				// line each would flood the log when they are reached.
				s.logger.DebugContext(ctx, "live: recommendations refused a stream; refusing the session", "err", err)
				writePlain(w, http.StatusServiceUnavailable, messageLiveBusy)
			case errors.Is(err, rpc.ErrDraining):
				s.logger.DebugContext(ctx, "live: recommendations are shutting down; refusing the session", "err", err)
				writePlain(w, http.StatusServiceUnavailable, messageLiveUnavailable)
			default:
				s.logger.WarnContext(ctx, "live: cannot open a stream", "err", err)
				writePlain(w, http.StatusServiceUnavailable, messageLiveUnavailable)
			}
			return
		}
		s.sessions.attach(id, stream)
		session := &liveRun{id: id, stream: stream, cancel: cancel}

		secure := s.isSecure(r)
		http.SetCookie(w, &http.Cookie{
			Name:     liveCookie(secure),
			Value:    secret,
			Path:     "/live/" + id + "/",
			MaxAge:   liveCookieMaxAge(s.liveMaxAge, s.liveHeartbeat),
			HttpOnly: true,
			Secure:   secure,
			SameSite: http.SameSiteStrictMode,
		})
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // tells nginx not to buffer
		// Not chunked: net/http closes the connection after the body,
		// which ends with the session.
		h.Set("Transfer-Encoding", "identity")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "retry: %d\nevent: session\ndata: %s\n\n", liveRetry.Milliseconds(), id)
		if err := rc.Flush(); err != nil {
			stopRequest()
			s.runLive(ctx, session, nil) // ends at once: the browser went away
			return
		}
		conn, buf, err := rc.Hijack()
		if err != nil {
			// HTTP/2, say: serve the session here, where the request's
			// end is the browser's.
			defer stopRequest()
			s.runLive(ctx, session, &responseOut{w: w, rc: rc})
			return
		}
		if !stopRequest() { // the browser went away before the takeover
			conn.Close()
			s.runLive(ctx, session, nil)
			return
		}
		// A browser sends nothing more on an event stream's connection:
		// drop what net/http read ahead, and its buffers with it.
		buf.Reader.Discard(buf.Reader.Buffered()) //nolint:errcheck // what is buffered is there
		out := &connOut{conn: conn}
		go out.watch(cancel)
		go s.runLive(ctx, session, out)
	})
}

// liveRun is a live session being served: what runLive ends.
type liveRun struct {
	id     string
	stream bookshop.LiveStream
	cancel context.CancelFunc // ends ctx, and with it the stream
}

// liveOut is where a live session's events go.
type liveOut interface {
	// send writes b, whole, to the browser at once, within
	// liveWriteTimeout.
	send(b []byte) error
	// close ends the event stream.
	close()
}

// runLive serves session until ctx ends (the browser gone, shutdown),
// the stream ends, a write to out fails, or, at a heartbeat, the session
// has lasted s.liveMaxAge (its cookie is about to expire): each list the
// stream sends goes out as a "books" event, and a comment every
// heartbeat. It then closes the stream and out and frees the session's
// place. A nil out only does the latter.
//
// One goroutine, this one, receives the lists and writes them; a timer
// writes the heartbeat, under the same lock (see liveWriter). The
// session's cost is this goroutine and the stream's. What runLive does
// with a list, and at the stream's end, is in functions of their own, so
// that their frames are not on the goroutine's stack while it waits for
// the next list, which is most of its life: the stack then fits in
// 4 KiB, not 8 (TestLiveSessionMemory).
func (s *server) runLive(ctx context.Context, session *liveRun, out liveOut) {
	if out == nil {
		s.endLive(session, nil)
		return
	}
	w := s.startLiveWriter(session, out)
	defer s.endLive(session, w)
	for n := 1; ; n++ {
		// Recv returns once ctx ends: the stream's context is ctx's child.
		books, err := session.stream.Recv()
		if err != nil {
			s.liveEnded(ctx, err)
			return
		}
		if !s.sendBooks(ctx, w, n, books) {
			return
		}
	}
}

// endLive ends session: its writer w, if any, and its event stream, its
// stream of the LiveRecommender, and its place.
func (s *server) endLive(session *liveRun, w *liveWriter) {
	if w != nil {
		w.stop()
		w.out.close()
	}
	session.cancel()
	session.stream.Close()
	s.sessions.remove(session.id)
}

// liveWriter writes the events of a live session to its browser, one at
// a time: the lists that runLive receives, and a heartbeat that a timer
// writes.
type liveWriter struct {
	session   *liveRun
	out       liveOut
	heartbeat time.Duration
	ends      time.Time   // once the session has lasted its max age
	unwatch   func() bool // forgets the session's end at shutdown
	mu        sync.Mutex
	ended     bool
	beat      *time.Timer
}

// startLiveWriter returns the writer of session's events to out, its
// heartbeat started; and has the session end at shutdown.
func (s *server) startLiveWriter(session *liveRun, out liveOut) *liveWriter {
	w := &liveWriter{session: session, out: out, heartbeat: s.liveHeartbeat, ends: time.Now().Add(s.liveMaxAge)}
	w.unwatch = s.sessions.onShutdown(s.shutdown, session.cancel)
	// The timer is made under mu, which its first beat's send waits for,
	// so that the callback never reads beat before it is set.
	w.mu.Lock()
	w.beat = time.AfterFunc(w.heartbeat, w.beatOnce)
	w.mu.Unlock()
	return w
}

// send writes b, whole, to the browser, and reports whether it went. A
// failed write (the browser went away, or reads nothing) ends the
// session.
func (w *liveWriter) send(b []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return false
	}
	if err := w.out.send(b); err != nil {
		w.session.cancel()
		return false
	}
	return true
}

// beatOnce, the timer's, writes a heartbeat and sets the next; past the
// session's max age it ends the session instead, and the browser opens a
// new one.
func (w *liveWriter) beatOnce() {
	if !time.Now().Before(w.ends) {
		w.session.cancel()
		return
	}
	if w.send([]byte(": heartbeat\n\n")) {
		w.mu.Lock()
		t := w.beat
		w.mu.Unlock()
		t.Reset(w.heartbeat)
	}
}

// stop ends the writer: nothing is written once it returns.
func (w *liveWriter) stop() {
	w.unwatch()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	w.beat.Stop()
}

// sendBooks sends list n, books, with w, and reports whether it went.
func (s *server) sendBooks(ctx context.Context, w *liveWriter, n int, books []bookshop.Book) bool {
	data, err := json.Marshal(s.jsonOf(ctx, books))
	if err != nil {
		s.logger.ErrorContext(ctx, "live: encode a list", "err", err)
		return false
	}
	// JSON has no raw newlines, so the data is one line.
	return w.send(fmt.Appendf(nil, "id: %d\nevent: books\ndata: %s\n\n", n, data))
}

// liveEnded logs why a session's stream ended, err, unless ctx ended it
// or it ended as streams do.
func (s *server) liveEnded(ctx context.Context, err error) {
	switch {
	case errors.Is(err, io.EOF) || ctx.Err() != nil:
	case bookshop.ErrorCode(err) == bookshop.Exhausted || errors.Is(err, rpc.ErrDraining):
		// Recommendations' caps, or its shutdown: the browser opens
		// the session again.
		s.logger.DebugContext(ctx, "live: the stream ended", "err", err)
	default:
		s.logger.WarnContext(ctx, "live: the stream ended", "err", err)
	}
}

// connOut is a live session's connection, taken over from net/http.
type connOut struct{ conn net.Conn }

func (o *connOut) send(b []byte) error {
	if err := o.conn.SetWriteDeadline(time.Now().Add(liveWriteTimeout)); err != nil {
		return err
	}
	_, err := o.conn.Write(b)
	return err
}

func (o *connOut) close() { o.conn.Close() }

// watch reads the connection until it fails, as it does once the
// browser closes it or the session closes it, and then calls gone: what
// net/http's own read does for a request it serves.
func (o *connOut) watch(gone func()) {
	var b [64]byte
	for {
		if _, err := o.conn.Read(b[:]); err != nil {
			gone()
			return
		}
	}
}

// responseOut is a live session's response, where the connection cannot
// be taken over.
type responseOut struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (o *responseOut) send(b []byte) error {
	if err := o.rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout)); err != nil {
		return err
	}
	if _, err := o.w.Write(b); err != nil {
		return err
	}
	return o.rc.Flush()
}

func (o *responseOut) close() {}

// eventJSON is the body of POST /live/{session}/events.
type eventJSON struct {
	Type   string `json:"type"`    // "viewed" or "dismissed"
	BookID int64  `json:"book_id"` // a book of the catalog
}

// handleLiveEvent serves POST /live/{session}/events: it forwards one event
// of the shopper, a JSON object {"type": "viewed" or "dismissed", "book_id":
// N}, to the session's stream, whose answer goes out on the session's event
// stream. It answers 204 when the event is sent. Errors, as JSON {"error":
// message}: 404 for an unknown session, or one that the request's browser
// did not open (it lacks the session's cookie); 415 for a body that is not JSON;
// 413 for a body over 1 KiB; 400 for a bad event or a book the catalog does
// not have; 503, with a Retry-After of liveRetry, when the catalog or the
// stream cannot take it.
func (s *server) handleLiveEvent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var secret string
		if c, err := r.Cookie(liveCookie(s.isSecure(r))); err == nil {
			secret = c.Value
		}
		stream, ok := s.sessions.get(r.PathValue("session"), secret)
		if !ok {
			writeJSONError(w, http.StatusNotFound, messageNoSession)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeJSONError(w, http.StatusUnsupportedMediaType, messageBadEvent)
			return
		}
		ev, status, msg := readEvent(w, r)
		if status != 0 {
			writeJSONError(w, status, msg)
			return
		}
		// Refuse a book the catalog does not have here: the stream would
		// end on it. A book the catalog has confirmed before is not asked
		// about again (see knownBooks).
		if !s.known.has(ev.BookID) {
			switch _, err := s.book(r.Context(), ev.BookID); bookshop.ErrorCode(err) {
			case "":
			case bookshop.NotFound:
				writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("We have no book with id %d.", ev.BookID))
				return
			default:
				s.logger.WarnContext(r.Context(), "live: catalog failed; refusing an event", "book", ev.BookID, "err", err)
				retryLater(w)
				writeJSONError(w, http.StatusServiceUnavailable, noticeCatalogUnavailable)
				return
			}
		}
		if err := stream.Send(ev); err != nil {
			s.logger.WarnContext(r.Context(), "live: cannot send an event", "err", err)
			retryLater(w)
			writeJSONError(w, http.StatusServiceUnavailable, messageLiveUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	})
}

// readEvent reads and checks the event in r's body. On failure it returns
// the status to answer with and a message for the shopper.
func readEvent(w http.ResponseWriter, r *http.Request) (bookshop.Event, int, string) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEventBytes))
	dec.DisallowUnknownFields()
	var in eventJSON
	err := dec.Decode(&in)
	if err == nil {
		// Nothing may follow the object.
		if _, after := dec.Token(); !errors.Is(after, io.EOF) {
			err = cmp.Or(after, errors.New("more after the object"))
		}
	}
	if err != nil {
		// The limit may be passed in the object or after it.
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return bookshop.Event{}, http.StatusRequestEntityTooLarge, "An event is at most 1 KiB."
		}
		return bookshop.Event{}, http.StatusBadRequest, messageBadEvent
	}
	var ev bookshop.Event
	switch in.Type {
	case "viewed":
		ev.Type = bookshop.Viewed
	case "dismissed":
		ev.Type = bookshop.Dismissed
	default:
		return ev, http.StatusBadRequest, fmt.Sprintf(`%q is not an event type: use "viewed" or "dismissed".`, truncate(in.Type, 40))
	}
	if in.BookID < 1 || in.BookID > math.MaxInt32 {
		return ev, http.StatusBadRequest, fmt.Sprintf("%d is not a book id: a book id is a whole number from 1.", in.BookID)
	}
	ev.BookID = int32(in.BookID)
	return ev, 0, ""
}

// retryLater sets the Retry-After of a 503 of the live routes: as long as
// a browser waits before it opens an event stream again (liveRetry).
func retryLater(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(liveRetry/time.Second)))
}

// writePlain writes a short plain-text response.
func writePlain(w http.ResponseWriter, status int, message string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, message+"\n")
}
