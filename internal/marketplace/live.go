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
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/bookshop"
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
// LiveRecommender, by session id, with a cap on all of them and another on
// those of one client, so that one client cannot take every place. It is
// safe for concurrent use.
type liveSessions struct {
	mu        sync.Mutex
	max       int
	perClient int
	byID      map[string]*liveSession
	byClient  map[string]int   // sessions open by client key
	open      prometheus.Gauge // bookshop_live_sessions
}

// liveSession is one place of liveSessions.
type liveSession struct {
	stream bookshop.LiveStream // nil while it opens
	client string
	// secret is what the browser that opened the session holds, in the
	// cookie liveCookieName scoped to the session's events path: an event
	// post must bring it, so that knowing the id is not enough.
	secret string
}

// liveCookieName is the cookie that binds a live session to the browser
// that opened it. It is set with the event stream, HttpOnly, SameSite=
// Strict, Secure over HTTPS, for the path of that session's events only
// (a browser with several book pages open holds one per session), and
// lasts as long as the browser.
const liveCookieName = "bookshop_live"

func newLiveSessions(max, perClient int, open prometheus.Gauge) *liveSessions {
	return &liveSessions{max: max, perClient: perClient, open: open,
		byID: make(map[string]*liveSession), byClient: make(map[string]int)}
}

// reserve takes a place for a new session of client, before its stream is
// opened, so that no more than the caps are ever open, and returns the
// session's new random id and its secret. It returns false when max
// sessions, or perClient of client's, are open.
func (l *liveSessions) reserve(client string) (id, secret string, ok bool) {
	// 128 bits from crypto/rand each: neither can be guessed. The id goes
	// in URLs (and so may be seen: a proxy's log, a shared screen); the
	// secret only in the cookie of the browser that opened the session.
	id, secret = rand.Text(), rand.Text()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.byID) >= l.max || l.byClient[client] >= l.perClient {
		return "", "", false
	}
	l.byID[id] = &liveSession{client: client, secret: secret}
	l.byClient[client]++
	l.open.Inc()
	return id, secret, true
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
	l.open.Dec()
}

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
// ends, or at shutdown. It answers 503 when the LiveRecommender cannot be
// reached or too many sessions are open.
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

		client := clientKey(r, s.trustedProxies)
		id, secret, ok := s.sessions.reserve(client)
		if !ok {
			s.logger.WarnContext(r.Context(), "live: too many sessions; refusing one",
				"max", s.sessions.max, "max_per_client", s.sessions.perClient, "client", client)
			writePlain(w, http.StatusServiceUnavailable, messageLiveBusy)
			return
		}
		defer s.sessions.remove(id)
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stream, err := s.live.Open(ctx, visitorOf(r).userID(), livePanelSize)
		if err != nil {
			s.logger.WarnContext(ctx, "live: cannot open a stream", "err", err)
			writePlain(w, http.StatusServiceUnavailable, messageLiveUnavailable)
			return
		}
		defer stream.Close()
		s.sessions.attach(id, stream)

		http.SetCookie(w, &http.Cookie{
			Name:     liveCookieName,
			Value:    secret,
			Path:     "/live/" + id + "/",
			HttpOnly: true,
			Secure:   s.isSecure(r),
			SameSite: http.SameSiteStrictMode,
		})
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // tells nginx not to buffer
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "retry: %d\nevent: session\ndata: %s\n\n", liveRetry.Milliseconds(), id)
		if err := rc.Flush(); err != nil {
			return
		}

		// Receive in a goroutine of its own, so that this one can watch the
		// browser, the heartbeat and shutdown. It ends when the stream
		// does, which the deferred Close ensures.
		lists := make(chan []bookshop.Book)
		ended := make(chan error, 1)
		go func() {
			for {
				books, err := stream.Recv()
				if err != nil {
					ended <- err
					return
				}
				select {
				case lists <- books:
				case <-ctx.Done():
					return
				}
			}
		}()

		heartbeat := time.NewTicker(s.liveHeartbeat)
		defer heartbeat.Stop()
		for n := 1; ; {
			select {
			case <-ctx.Done(): // the browser went away
				return
			case <-s.shutdown:
				return
			case err := <-ended:
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					s.logger.WarnContext(ctx, "live: the stream ended", "err", err)
				}
				return
			case books := <-lists:
				data, err := json.Marshal(s.jsonOf(ctx, books))
				if err != nil {
					s.logger.ErrorContext(ctx, "live: encode a list", "err", err)
					return
				}
				// JSON has no raw newlines, so the data is one line.
				fmt.Fprintf(w, "id: %d\nevent: books\ndata: %s\n\n", n, data)
				n++
			case <-heartbeat.C:
				_, _ = io.WriteString(w, ": heartbeat\n\n")
			}
			if err := rc.Flush(); err != nil {
				return // the browser went away
			}
		}
	})
}

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
// not have; 503 when the catalog or the stream cannot take it.
func (s *server) handleLiveEvent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var secret string
		if c, err := r.Cookie(liveCookieName); err == nil {
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
				writeJSONError(w, http.StatusServiceUnavailable, noticeCatalogUnavailable)
				return
			}
		}
		if err := stream.Send(ev); err != nil {
			s.logger.WarnContext(r.Context(), "live: cannot send an event", "err", err)
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

// writePlain writes a short plain-text response.
func writePlain(w http.ResponseWriter, status int, message string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, message+"\n")
}
