package marketplace_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// newBrowser starts headless Chromium ($CHROMIUM, or Debian's chromium on
// PATH) for the test and returns a tab.
func newBrowser(tb testing.TB) context.Context {
	tb.Helper()
	path := os.Getenv("CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path != "" {
			break
		}
		path, _ = exec.LookPath(name)
	}
	if path == "" {
		tb.Fatal("no Chromium found: install Debian's chromium package (./scripts/test.sh does), or set CHROMIUM")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.NoSandbox, // tests may run as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
	})
	return tab
}

// panelBook is a book of the live panel as the browser shows it.
type panelBook struct {
	ID   string  `json:"id"`
	Meta *string `json:"meta"` // p.book-meta's text; nil without one
}

// TestLivePanelWithoutAuthorOrYear opens a book page in Chromium with live
// recommendations of books without an author or a year, which live.js
// draws: no "by" with nothing after it; a book loaded into the page
// without a reload says "unknown" of what it lacks.
func TestLivePanelWithoutAuthorOrYear(t *testing.T) {
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, recommendations.NewLiveServer(
			func() *recommendations.Session { return recommendations.NewSession(tutorialCatalog{}, seededRand()) }, logger))
	})
	srv := startSite(t, marketplace.Options{
		Recommender: grpcRecommender(t, tutorialRecommender{}),
		Catalog:     tutorialCatalog{},
		Live:        recommendationsclient.NewLiveClient(mustDial(t, addr)),
	})
	tab := newBrowser(t)
	const panelLive = `document.getElementById("live-panel").dataset.session === "live" && Number(document.getElementById("live-panel").dataset.events) > 0`
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/books/3")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](panelLive, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the live panel of /books/3 did not update: %v", err)
	}
	books, err := chromedp.Run(tab, chromedp.Evaluate[[]panelBook](`[...document.querySelectorAll("#live-panel li.book")].map(li => ({
  id: li.dataset.bookId,
  meta: li.querySelector(".book-meta")?.textContent ?? null,
}))`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*string{"1": nil, "2": new("1934")}
	if len(books) != len(want) {
		t.Errorf("the live panel shows %d books, want books 1 and 2", len(books))
	}
	for _, b := range books {
		w, ok := want[b.ID]
		switch {
		case !ok:
			t.Errorf("the live panel shows book %s, want books 1 and 2", b.ID)
		case (w == nil) != (b.Meta == nil) || w != nil && *w != *b.Meta:
			t.Errorf("the live panel's book %s has book-meta %v, want %v", b.ID, deref(b.Meta), deref(w))
		}
	}

	// A click on book 1 loads it into the page, from its JSON.
	const loaded = `document.getElementById("book-title").textContent === "The Maltese Falcon"`
	if err := chromedp.Do(tab, chromedp.Click(`#live-panel li.book[data-book-id="1"] a.book-link`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](loaded, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("book 1 from the panel did not load: %v", err)
	}
	author, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[document.getElementById("book-author").textContent, document.getElementById("book-year").textContent, location.pathname]`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"unknown", "unknown", "/books/1"}; len(author) != 3 || author[0] != want[0] || author[1] != want[1] || author[2] != want[2] {
		t.Errorf("book 1 loaded from the panel: author, year, path = %q, want %q", author, want)
	}
}

// deref is *s, or "none".
func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}
