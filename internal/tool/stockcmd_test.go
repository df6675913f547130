package tool_test

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/tool"
)

// runStock runs `bookshop stock args` with env, and returns what it
// printed.
func runStock(tb testing.TB, vars map[string]string, args ...string) (string, error) {
	tb.Helper()
	var out bytes.Buffer
	err := tool.Run(testContext(tb, 30*time.Second), append([]string{"stock"}, args...), env(vars), &out, io.Discard)
	return out.String(), err
}

// TestStockCommand runs `bookshop inventory` on a new database, seeded
// with the built-in books' stock, and reads and sets it with `bookshop
// stock`.
func TestStockCommand(t *testing.T) {
	port := itoa(freePort(t))
	startCommand(t, []string{"inventory", "-port", port, "-db=:memory:"}, nil)
	addr := "127.0.0.1:" + port
	waitServing(t, addr, "bookshop.inventory.v1.InventoryService")
	vars := map[string]string{"INVENTORY_HOST": addr}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-book", "5"}, "Book 5: 3 on hand, 0 held by checkouts, 3 available.\n"},
		{[]string{"-book", "5", "-set", "12"}, "Book 5: 12 on hand, 0 held by checkouts, 12 available.\n"},
		{[]string{"-book", "5,12, 99"}, "Book 5: 12 on hand, 0 held by checkouts, 12 available.\n" +
			"Book 12: 0 on hand, 0 held by checkouts, 0 available.\n" +
			"Book 99: 0 on hand, 0 held by checkouts, 0 available.\n"},
		{[]string{"-book", "99", "-set=0"}, "Book 99: 0 on hand, 0 held by checkouts, 0 available.\n"},
		// A range, as after an import, set and then read, a book twice
		// counted once.
		{[]string{"-book", "46-48", "-set", "7"}, "Book 46: 7 on hand, 0 held by checkouts, 7 available.\n" +
			"Book 47: 7 on hand, 0 held by checkouts, 7 available.\n" +
			"Book 48: 7 on hand, 0 held by checkouts, 7 available.\n"},
		{[]string{"-book", "47, 46-48,5"}, "Book 47: 7 on hand, 0 held by checkouts, 7 available.\n" +
			"Book 46: 7 on hand, 0 held by checkouts, 7 available.\n" +
			"Book 48: 7 on hand, 0 held by checkouts, 7 available.\n" +
			"Book 5: 12 on hand, 0 held by checkouts, 12 available.\n"},
	} {
		out, err := runStock(t, vars, tc.args...)
		if err != nil || out != tc.want {
			t.Errorf("bookshop stock %s = %q, %v; want %q", strings.Join(tc.args, " "), out, err, tc.want)
		}
	}

	// More books than one GetStock call takes: read in batches.
	if out, err := runStock(t, vars, "-book", "1-250"); err != nil || strings.Count(out, "\n") != 250 ||
		!strings.HasPrefix(out, "Book 1: ") || !strings.HasSuffix(out, "Book 250: 0 on hand, 0 held by checkouts, 0 available.\n") {
		t.Errorf("bookshop stock -book 1-250 = %d lines, %v; want 250, books 1 to 250", strings.Count(out, "\n"), err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-book: which book?"},
		{[]string{"-book", "five"}, `"five" is not a book id`},
		{[]string{"-book", "0"}, `"0" is not a book id`},
		{[]string{"-book", "9-3"}, `the range "9-3" ends before it starts`},
		{[]string{"-book", "1-x"}, `"1-x" is not a book id`},
		{[]string{"-book", "1-200000"}, "more than 100000 books"},
		{[]string{"-book", "1-1001", "-set", "5"}, "at most 1000 at once, not 1001"},
		{[]string{"-book", "1", "-set", "many"}, `invalid value "many" for flag -set: want a whole number`},
		{[]string{"-book", "1", "-set", "-1"}, `invalid value "-1" for flag -set: want a whole number from 0 to 1000000`},
		{[]string{"-book", "1", "-set", "2000000"}, `invalid value "2000000" for flag -set: want a whole number from 0 to 1000000`},
		{[]string{"-book", "1", "-inventory-host", "localhost:99999"}, "-inventory-host or INVENTORY_HOST"},
		{[]string{"-book", "1", "-timeout", "0s"}, "-timeout 0s"},
	} {
		out, err := runStock(t, vars, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
			t.Errorf("bookshop stock %s = %q, %v; want an error with %q and no output", strings.Join(tc.args, " "), out, err, tc.want)
		}
	}
}

// TestStockCommandMutualTLS runs the Inventory with mutual TLS: admin
// sets the stock; the Marketplace's identity may read it but not set it.
func TestStockCommandMutualTLS(t *testing.T) {
	dir := t.TempDir()
	if err := tool.RunCerts(testContext(t, 10*time.Second), []string{dir}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	at := func(name string) string { return filepath.Join(dir, name) }
	port := itoa(freePort(t))
	startCommand(t, []string{"inventory", "-port", port, "-db=:memory:", "-health-addr=127.0.0.1:0",
		"-tls-cert", at("server.crt"), "-tls-key", at("server.key"), "-tls-client-ca", at("ca.crt")}, nil)
	as := func(identity string) map[string]string {
		return map[string]string{"INVENTORY_HOST": "localhost:" + port, "TLS_CA": at("ca.crt"), "TLS_CERT": at(identity + ".crt"), "TLS_KEY": at(identity + ".key")}
	}
	var (
		out string
		err error
	)
	waitFor(t, "the Inventory to answer admin", func() bool {
		out, err = runStock(t, as("admin"), "-book", "7", "-set", "4")
		return err == nil
	})
	if want := "Book 7: 4 on hand, 0 held by checkouts, 4 available.\n"; out != want {
		t.Errorf("stock -set as admin = %q, want %q", out, want)
	}
	if out, err := runStock(t, as("marketplace"), "-book", "7"); err != nil || !strings.HasPrefix(out, "Book 7: 4 on hand") {
		t.Errorf("stock as marketplace = %q, %v; want the stock", out, err)
	}
	if _, err := runStock(t, as("marketplace"), "-book", "7", "-set", "40"); err == nil || !strings.Contains(err.Error(), `identity "marketplace" may not call`) {
		t.Errorf("stock -set as marketplace = %v, want PERMISSION_DENIED", err)
	}
	if _, err := runStock(t, map[string]string{"INVENTORY_HOST": "localhost:" + port, "TLS_CA": at("ca.crt")}, "-book", "7"); err == nil {
		t.Error("stock without a client certificate succeeded, want it refused")
	}
}
