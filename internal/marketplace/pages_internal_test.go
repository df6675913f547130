package marketplace

import "testing"

// parsedPages returns the embedded assets and the pages parsed from the
// embedded templates, as a server starts with them.
func parsedPages(tb testing.TB) (*pages, *assets) {
	tb.Helper()
	a, err := newAssets()
	if err != nil {
		tb.Fatal(err)
	}
	p, err := parsePages(a.urls)
	if err != nil {
		tb.Fatal(err)
	}
	return p, a
}
