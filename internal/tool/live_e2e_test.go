package tool_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
)

// livePage is what the live end-to-end test reads from a book page.
type livePage struct {
	Book    int32    `json:"book"`    // the book in the main section
	Title   string   `json:"title"`   // its h1
	Author  string   `json:"author"`  // #book-author
	Price   string   `json:"price"`   // #book-price, "" when hidden
	Path    string   `json:"path"`    // location.pathname
	Doc     string   `json:"doc"`     // document.title
	Panel   []int32  `json:"panel"`   // the ids of the panel's books, in order
	Prices  []string `json:"prices"`  // the price shown on each of them
	Labels  []string `json:"labels"`  // the aria-labels of the panel's buttons
	Live    string   `json:"live"`    // the panel's aria-live
	Sent    int      `json:"sent"`    // events the page sent in its session
	Events  int      `json:"events"`  // lists it received
	Loaded  float64  `json:"loaded"`  // window.__bookshopLoaded
	Session string   `json:"session"` // "live" once the page has a session
}

const readLivePage = `(() => {
  const panel = document.getElementById("live-panel");
  return {
    book: Number(document.getElementById("book").dataset.bookId),
    title: document.getElementById("book-title").textContent,
    author: document.getElementById("book-author").textContent,
    price: document.getElementById("book-price").hidden ? "" : document.getElementById("book-price").textContent,
    path: location.pathname,
    doc: document.title,
    panel: [...panel.querySelectorAll("li.book")].map(li => Number(li.dataset.bookId)),
    prices: [...panel.querySelectorAll("li.book")].map(li => li.querySelector(".book-price")?.textContent ?? ""),
    labels: [...panel.querySelectorAll("button.dismiss")].filter(b => !b.hidden).map(b => b.getAttribute("aria-label")),
    live: panel.getAttribute("aria-live"),
    sent: Number(panel.dataset.sent || 0),
    events: Number(panel.dataset.events || 0),
    loaded: window.__bookshopLoaded || 0,
    session: panel.dataset.session || "",
  };
})()`

// settled is true once the page has a session and has received the list
// answering each event it sent, and has sent more than after events.
func settled(after int) string {
	return fmt.Sprintf(`(() => {
  const p = document.getElementById("live-panel");
  return p.dataset.session === "live" && Number(p.dataset.sent) > %d && p.dataset.events === p.dataset.sent;
})()`, after)
}

// watchConsole collects what the page writes to the console until the
// returned function is called; that function returns the messages.
func watchConsole(tab context.Context) func() []chromedp.ConsoleMessage {
	ctx, stop := context.WithCancel(tab)
	var (
		mu       sync.Mutex
		messages []chromedp.ConsoleMessage
	)
	done := make(chan struct{})
	stream := chromedp.Console(ctx) // starts the browser and subscribes, here and now
	go func() {
		defer close(done)
		for m, err := range stream {
			if err != nil {
				return
			}
			mu.Lock()
			messages = append(messages, m)
			mu.Unlock()
		}
	}()
	return func() []chromedp.ConsoleMessage {
		stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return messages
	}
}

// TestLiveEndToEnd opens a book page of `bookshop up` in a real browser,
// follows recommendations and dismisses one, and checks that each book is
// loaded into the page without a reload, that the URL follows, and that
// the live panel changes and never shows a book viewed or dismissed.
func TestLiveEndToEnd(t *testing.T) {
	books, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	url := startUp(t)
	tab := newBrowser(t)
	console := watchConsole(tab)

	read := func() livePage {
		t.Helper()
		p, err := chromedp.Run(tab, chromedp.Evaluate[livePage](readLivePage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return p
	}
	waitSettled := func(after int, what string) livePage {
		t.Helper()
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](settled(after), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("%s: the live panel did not update: %v; page: %+v", what, err, read())
		}
		return read()
	}
	// excluded are the books viewed or dismissed so far.
	excluded := map[int32]bool{1: true}
	check := func(p livePage, what string, want int32, loaded float64) {
		t.Helper()
		book, err := books.Book(context.Background(), want)
		if err != nil {
			t.Fatal(err)
		}
		if p.Book != want || p.Title != book.Title || p.Author != book.Author || p.Price != book.Price.Format() {
			t.Errorf("%s: main section shows book %d %q by %q at %q, want %d %q by %q at %q", what, p.Book, p.Title, p.Author, p.Price, want, book.Title, book.Author, book.Price.Format())
		}
		if wantPath := fmt.Sprintf("/books/%d", want); p.Path != wantPath {
			t.Errorf("%s: path = %q, want %q", what, p.Path, wantPath)
		}
		if wantDoc := book.Title + " · Online Books For You"; p.Doc != wantDoc {
			t.Errorf("%s: document title = %q, want %q", what, p.Doc, wantDoc)
		}
		if loaded != 0 && p.Loaded != loaded {
			t.Errorf("%s: window.__bookshopLoaded = %v, want %v: the page reloaded", what, p.Loaded, loaded)
		}
		if len(p.Panel) != 4 {
			t.Errorf("%s: panel shows %d books %v, want 4", what, len(p.Panel), p.Panel)
		}
		for i, id := range p.Panel {
			if excluded[id] {
				t.Errorf("%s: panel %v shows book %d, which was viewed or dismissed", what, p.Panel, id)
			}
			if b, _ := books.Book(context.Background(), id); i >= len(p.Prices) || p.Prices[i] != b.Price.Format() {
				t.Errorf("%s: panel prices %q for books %v, want book %d at %s", what, p.Prices, p.Panel, id, b.Price.Format())
			}
		}
		if p.Live != "polite" {
			t.Errorf("%s: panel aria-live = %q, want polite", what, p.Live)
		}
		if len(p.Labels) != len(p.Panel) {
			t.Errorf("%s: %d dismiss buttons with labels %q for %d books", what, len(p.Labels), p.Labels, len(p.Panel))
		}
	}

	if err := chromedp.Do(tab, chromedp.Navigate(url+"books/1")); err != nil {
		t.Fatalf("navigate to %sbooks/1: %v", url, err)
	}
	page := waitSettled(0, "first load")
	loaded := page.Loaded
	if loaded == 0 {
		t.Fatalf("window.__bookshopLoaded is not set: live.js did not run; page %+v", page)
	}
	check(page, "first load", 1, loaded)

	dir := screenshotDir(t)
	shot := func(name string) {
		if png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(filepath.Join(dir, name), png, 0o644)
		}
	}
	shot("book-page.png")

	// Follow the first recommendation, five times.
	var visited []int32
	for i := range 5 {
		before := page
		next := before.Panel[0]
		what := fmt.Sprintf("click %d (book %d)", i+1, next)
		if err := chromedp.Do(tab, chromedp.Click(fmt.Sprintf(`#live-panel li.book[data-book-id="%d"] a.book-link`, next))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		excluded[next] = true
		page = waitSettled(before.Sent, what)
		check(page, what, next, loaded)
		if slices.Equal(page.Panel, before.Panel) {
			t.Errorf("%s: the panel did not change: %v", what, page.Panel)
		}
		visited = append(visited, next)
	}

	// Dismiss the second recommendation: it leaves the panel, and never
	// comes back.
	before := page
	dismissed := before.Panel[1]
	if err := chromedp.Do(tab, chromedp.Click(fmt.Sprintf(`#live-panel button.dismiss[data-book-id="%d"]`, dismissed))); err != nil {
		t.Fatalf("dismiss book %d: %v", dismissed, err)
	}
	excluded[dismissed] = true
	page = waitSettled(before.Sent, "dismiss")
	check(page, "dismiss", before.Book, loaded)
	for i := range 3 {
		before := page
		next := before.Panel[len(before.Panel)-1]
		what := fmt.Sprintf("click %d after the dismissal (book %d)", i+1, next)
		if err := chromedp.Do(tab, chromedp.Click(fmt.Sprintf(`#live-panel li.book[data-book-id="%d"] a.book-link`, next))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		excluded[next] = true
		page = waitSettled(before.Sent, what)
		check(page, what, next, loaded)
		visited = append(visited, next)
	}
	shot("book-page-after-clicks.png")

	// Back goes to the book before, still without a reload.
	before = page
	// (history.back, not NavigateBack, which waits for a load that a
	// same-document navigation never fires.)
	if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](`history.back()`)); err != nil {
		t.Fatalf("back: %v", err)
	}
	page = waitSettled(before.Sent, "back")
	check(page, "back", visited[len(visited)-2], loaded)

	for _, m := range console() {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
			t.Errorf("browser console: %s (%s)", m, m.URL)
		}
	}
}
