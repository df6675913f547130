package tool_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
)

// findChromium returns the browser to drive: $CHROMIUM if set, else the
// first of Debian's chromium and its usual names on PATH.
func findChromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Fatal("no Chromium found: install Debian's chromium package (./scripts/test.sh does), or set CHROMIUM to a Chrome or Chromium binary")
	return ""
}

// screenshotDir is where the browser tests keep their screenshots:
// $SCREENSHOT_DIR, which ./scripts/test.sh sets to test-artifacts/, else
// the test's artifact directory (t.ArtifactDir), which
// "go test -artifacts" keeps under -outputdir's _artifacts/ and names in
// its output, and which is otherwise removed after the test.
func screenshotDir(t *testing.T) string {
	if dir := os.Getenv("SCREENSHOT_DIR"); dir != "" {
		return dir
	}
	return t.ArtifactDir()
}

// newBrowser starts headless Chromium for the test and returns a tab.
func newBrowser(tb testing.TB) context.Context {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(tb)),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.NoSandbox, // tests may run as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
	)
	ctx := testContext(tb, 60*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	return tab
}

// TestEndToEnd starts the system as the README's first command does, opens
// the homepage in a real browser, and switches category.
func TestEndToEnd(t *testing.T) {
	books, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	titlesOf := func(c bookshop.Category) []string {
		bs, _ := books.BooksInCategory(context.Background(), c)
		var out []string
		for _, b := range bs {
			out = append(out, b.Title)
		}
		return out
	}

	url := startUp(t)
	tab := newBrowser(t)

	// Collect what the page writes to the console: a blocked stylesheet or
	// a Content-Security-Policy violation shows up there.
	consoleCtx, stopConsole := context.WithCancel(tab)
	var (
		mu       sync.Mutex
		messages []chromedp.ConsoleMessage
	)
	consoleDone := make(chan struct{})
	stream := chromedp.Console(consoleCtx)
	go func() {
		defer close(consoleDone)
		for m, err := range stream {
			if err != nil {
				return
			}
			mu.Lock()
			messages = append(messages, m)
			mu.Unlock()
		}
	}()

	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	title, err := chromedp.Run(tab, chromedp.Title())
	if err != nil || title != "Online Books For You" {
		t.Errorf("page title = %q, %v; want %q", title, err, "Online Books For You")
	}
	heading, err := chromedp.Run(tab, chromedp.Text("h1"))
	if err != nil || heading != "Mystery books you may like" {
		t.Errorf("heading = %q, %v; want %q", heading, err, "Mystery books you may like")
	}
	mystery, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".book-title")].map(e => e.textContent)`))
	if err != nil {
		t.Fatalf("read book titles: %v", err)
	}
	checkTitles(t, "homepage", mystery, titlesOf(bookshop.Mystery))

	// The embedded stylesheet is applied: the cards have rounded corners.
	radius, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".book")).borderTopLeftRadius`))
	if err != nil || radius != "8px" {
		t.Errorf("book card border radius = %q, %v; want 8px from the stylesheet", radius, err)
	}

	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := screenshotDir(t)
	shot := filepath.Join(dir, "homepage.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// Switch category as a shopper does: click the link.
	if err := chromedp.Do(tab,
		chromedp.Click(`nav a[href="/?category=science_fiction"]`, chromedp.NodeVisible),
	); err != nil {
		t.Fatalf("click the science fiction link: %v", err)
	}
	// The click starts a navigation; read the heading until the new page
	// is there (a read can fail while the old page goes away).
	want := "Science fiction books you may like"
	var heading2 string
	for deadline := time.Now().Add(10 * time.Second); heading2 != want && time.Now().Before(deadline); {
		heading2, _ = chromedp.Run(tab, chromedp.Text("h1"))
		if heading2 != want {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if heading2 != want {
		t.Fatalf("after the click, heading = %q, want %q", heading2, want)
	}
	scifi, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".book-title")].map(e => e.textContent)`))
	if err != nil {
		t.Fatalf("read book titles: %v", err)
	}
	checkTitles(t, "science fiction page", scifi, titlesOf(bookshop.ScienceFiction))
	if slices.Equal(scifi, mystery) {
		t.Errorf("book list did not change when switching category: %v", scifi)
	}
	current, err := chromedp.Run(tab, chromedp.Text(`nav a[aria-current="page"]`))
	if err != nil || current != "Science fiction" {
		t.Errorf("current category link = %q, %v; want %q", current, err, "Science fiction")
	}
	png, err = chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err == nil {
		_ = os.WriteFile(filepath.Join(dir, "science-fiction.png"), png, 0o644)
	}

	// On a phone-sized screen the page fits its width: no sideways scroll.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(375, 812)); err != nil {
		t.Fatalf("emulate a phone screen: %v", err)
	}
	overflow, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || overflow {
		t.Errorf("at 375px wide the page scrolls sideways (%v, %v)", overflow, err)
	}
	if png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "phone.png"), png, 0o644)
	}

	stopConsole()
	<-consoleDone
	mu.Lock()
	defer mu.Unlock()
	for _, m := range messages {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
			t.Errorf("browser console: %s (%s)", m, m.URL)
		}
	}
}

// checkTitles asserts that the page shows three distinct titles, all of
// the wanted category.
func checkTitles(t *testing.T, page string, got, category []string) {
	t.Helper()
	if len(got) != 3 {
		t.Fatalf("%s shows %d books %q, want 3", page, len(got), got)
	}
	seen := make(map[string]bool)
	for _, title := range got {
		title = strings.TrimSpace(title)
		if !slices.Contains(category, title) {
			t.Errorf("%s shows %q, which is not in its category %q", page, title, category)
		}
		if seen[title] {
			t.Errorf("%s shows %q twice", page, title)
		}
		seen[title] = true
	}
}
