package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// newTransport returns an HTTP/1.1 transport that keeps up to idle
// connections to the server open between calls, as browsers and proxies
// do.
func newTransport(idle int) *http.Transport {
	return &http.Transport{
		Proxy:               nil, // straight to the server: loads go to 127.0.0.1
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}

// parseBase checks a site's URL and returns it as the base that paths are
// added to ("http://host:port/").
func parseBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http:// or https:// URL", raw)
	}
	return u.Scheme + "://" + u.Host + "/", nil
}

// Page is the target of a web page, such as the Marketplace's homepage:
// each call gets the page and reads it to the end. An answer other than
// 200 fails the call.
type Page struct {
	url    string
	client *http.Client
}

// NewPage returns a Page target of pageURL whose workers share up to
// idleConns connections.
func NewPage(pageURL string, idleConns int) (*Page, error) {
	if _, err := parseBase(pageURL); err != nil {
		return nil, err
	}
	return &Page{url: pageURL, client: &http.Client{Transport: newTransport(idleConns)}}, nil
}

// Worker implements [Target].
func (t *Page) Worker(context.Context, int) (Worker, error) { return pageWorker{t}, nil }

// Close implements [Target].
func (t *Page) Close() error {
	t.client.CloseIdleConnections()
	return nil
}

type pageWorker struct{ t *Page }

func (w pageWorker) Call(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.t.url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := w.t.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", w.t.url, resp.Status)
	}
	return 1, nil
}

func (pageWorker) Close() error { return nil }

// sessionTimeout bounds how long a live web worker waits for its session
// to open.
const sessionTimeout = 10 * time.Second

// LiveWeb is the target of the Marketplace's live recommendations, as a
// browser uses them: each worker holds one event stream (GET /live, a
// session, and behind it one LiveRecommend stream from the Marketplace to
// Recommendations) for the whole run, and each call posts one event (a
// view, or now and then a dismissal, of a random book) to
// /live/{session}/events and waits for the fresh list to arrive on the
// event stream. The latency of a call is the shopper's: from the click to
// the updated panel.
type LiveWeb struct {
	base    string
	streams *http.Client // one connection per event stream
	posts   *http.Client // shared by the workers' events
	maxBook int32
}

// NewLiveWeb returns a LiveWeb target of the site at siteURL whose events
// name books 1 to maxBook, which must all be in the catalog. The workers'
// events share up to idleConns connections.
func NewLiveWeb(siteURL string, maxBook int32, idleConns int) (*LiveWeb, error) {
	base, err := parseBase(siteURL)
	if err != nil {
		return nil, err
	}
	if maxBook < 1 {
		return nil, fmt.Errorf("highest book id %d: want 1 or more", maxBook)
	}
	streams := newTransport(0)
	streams.ResponseHeaderTimeout = sessionTimeout
	return &LiveWeb{
		base:    base,
		streams: &http.Client{Transport: streams},
		posts:   &http.Client{Transport: newTransport(idleConns)},
		maxBook: maxBook,
	}, nil
}

// Worker implements [Target]: it opens the worker's event stream and waits
// for its session id.
func (t *LiveWeb) Worker(ctx context.Context, _ int) (Worker, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"live", nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := t.streams.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET /live: %s", resp.Status)
	}
	w := &liveWebWorker{
		t:       t,
		cancel:  cancel,
		cookies: resp.Cookies(), // the session's, which its events must bring
		body:    resp.Body,
		session: make(chan string, 1),
		lists:   make(chan struct{}, 1),
		ended:   make(chan struct{}),
	}
	go w.read()
	timer := time.NewTimer(sessionTimeout)
	defer timer.Stop()
	select {
	case w.id = <-w.session:
		return w, nil
	case <-w.ended:
		w.Close()
		return nil, fmt.Errorf("GET /live: the event stream ended before its session event: %w", w.err)
	case <-timer.C:
		w.Close()
		return nil, fmt.Errorf("GET /live: no session event within %v", sessionTimeout)
	}
}

// Close implements [Target].
func (t *LiveWeb) Close() error {
	t.streams.CloseIdleConnections()
	t.posts.CloseIdleConnections()
	return nil
}

type liveWebWorker struct {
	t       *LiveWeb
	cancel  context.CancelFunc
	body    io.ReadCloser
	cookies []*http.Cookie
	id      string
	session chan string   // the session id, once
	lists   chan struct{} // a "books" event arrived
	ended   chan struct{} // closed when the event stream ends; then err says why
	err     error
}

// read reads the event stream until it ends, passing on the session event
// and each "books" event. Comments (heartbeats) and ids are skipped.
func (w *liveWebWorker) read() {
	defer close(w.ended)
	sc := bufio.NewScanner(w.body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			switch event {
			case "session":
				w.session <- data
			case "books":
				select {
				case w.lists <- struct{}{}:
				default: // one is already waiting; a call takes one at a time
				}
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
	w.err = sc.Err()
	if w.err == nil {
		w.err = io.EOF
	}
}

func (w *liveWebWorker) Call(ctx context.Context) (int, error) {
	typ := "viewed"
	if mathrand.IntN(4) == 0 {
		typ = "dismissed"
	}
	body := `{"type":"` + typ + `","book_id":` + strconv.Itoa(1+int(mathrand.Int32N(w.t.maxBook))) + `}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.t.base+"live/"+w.id+"/events", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for _, c := range w.cookies {
		req.AddCookie(c)
	}
	resp, err := w.t.posts.Do(req)
	if err != nil {
		return 0, err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return 0, fmt.Errorf("POST /live/{session}/events: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	select {
	case <-w.lists:
		return 1, nil
	case <-w.ended:
		return 0, fmt.Errorf("the event stream ended: %w", w.err)
	case <-ctx.Done():
		return 0, fmt.Errorf("no list on the event stream: %w", ctx.Err())
	}
}

func (w *liveWebWorker) Close() error {
	w.cancel()
	err := w.body.Close()
	<-w.ended
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
