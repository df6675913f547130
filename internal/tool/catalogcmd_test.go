package tool_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/tool"
)

// startCatalogService serves an in-memory catalog database seeded with
// seed over gRPC on loopback, and returns it and its address.
func startCatalogService(tb testing.TB, seed []bookshop.Book) (*sqlite.DB, string) {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb, 30*time.Second), sqlite.Memory, seed)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	addr := rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(catalog.NewService(db, "", 0, nil), logger))
	})
	return db, addr
}

// runCmd runs a bookshop command against the Catalog at addr.
func runCmd(tb testing.TB, addr string, args ...string) (stdout string, err error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	err = tool.Run(testContext(tb, 60*time.Second), args, env(map[string]string{"CATALOG_HOST": addr}), &out, &errOut)
	return out.String(), err
}

// TestExportImportRoundTrip exports a catalog, imports the file into an
// empty one, and exports that: the two files are the same, byte for byte,
// prices included, in both formats.
func TestExportImportRoundTrip(t *testing.T) {
	c, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	seed := append(c.Books(),
		bookshop.Book{ID: 900, Category: bookshop.Mystery, Title: `The "Quoted", Comma'd Title`, Author: "Ünïcödé Writer", Year: 1,
			Price: bookshop.Money{Units: 1, Currency: "EUR"}},
		bookshop.Book{ID: 901, Category: bookshop.SelfHelp, Title: "星の王子さま", Author: "Antoine de Saint-Exupéry", Year: 9999,
			Price: bookshop.Money{Units: 1_000_000, Currency: "EUR"}},
	)
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			_, from := startCatalogService(t, seed)
			into, to := startCatalogService(t, nil)
			dir := t.TempDir()
			first := filepath.Join(dir, "first."+format)
			second := filepath.Join(dir, "second."+format)

			if _, err := runCmd(t, from, "export", "-o", first); err != nil {
				t.Fatalf("export: %v", err)
			}
			// A flag after the file, as people type it.
			out, err := runCmd(t, to, "import", "-format", format, first, "-timeout", "1m")
			if err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			if want := "Imported 47 of 47 books"; !strings.Contains(out, want) {
				t.Errorf("import printed %q, want %q", out, want)
			}
			if into.Len() != len(seed) {
				t.Errorf("the new catalog holds %d books, want %d", into.Len(), len(seed))
			}
			if _, err := runCmd(t, to, "export", "-o", second); err != nil {
				t.Fatalf("second export: %v", err)
			}
			a, _ := os.ReadFile(first)
			b, _ := os.ReadFile(second)
			if !bytes.Equal(a, b) || len(a) == 0 {
				t.Errorf("export, import, export changed the file:\n%s\n---\n%s", a, b)
			}
			if !slices.Equal(into.All(), seed) {
				t.Errorf("the new catalog holds %v, want the books exported, prices included: %v", into.All(), seed)
			}
		})
	}
}

func TestExportCategoryToStdout(t *testing.T) {
	c, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startCatalogService(t, c.Books())
	out, err := runCmd(t, addr, "export", "-category", "science_fiction")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "id,category,title,author,year,price" || len(lines) != 16 {
		t.Fatalf("export of science fiction = %d lines starting %q, want a header and 15 books", len(lines), lines[0])
	}
	if lines[1] != "4,science_fiction,The Hitchhiker's Guide To The Galaxy,Douglas Adams,1979,10.49" {
		t.Errorf("first book = %q", lines[1])
	}
	if _, err := runCmd(t, addr, "export", "-category", "poetry"); err == nil || !strings.Contains(err.Error(), "poetry") {
		t.Errorf("export -category poetry = %v, want an error naming it", err)
	}
}

// TestImportReportsRejects checks that every bad row is reported with its
// line, the good ones are imported, and the command fails.
func TestImportReportsRejects(t *testing.T) {
	c, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	db, addr := startCatalogService(t, c.Books())
	tests := []struct {
		name     string
		content  string
		imported int
		want     []string
	}{
		{"books.csv", "# new books\ntitle,author,year,category,price\n" +
			"The Big Clock,Kenneth Fearing,1946,mystery,11.99\n" + // 3: good
			"Bad Year,Someone,19x5,mystery,9.99\n" + // 4
			",No Title,2000,mystery,9.99\n" + // 5
			"The Maltese Falcon,Dashiell Hammett,1930,mystery,9.99\n" + // 6: in the catalog
			"Poems,Someone,2000,poetry,9.99\n" + // 7
			"The Big Clock,Kenneth Fearing,1946,mystery,11.99\n" + // 8: earlier in this file
			"Free,Someone,2000,mystery,0\n" + // 9
			"Sub-cent,Someone,2000,mystery,9.999\n" + // 10
			"Unpriced,Someone,2000,mystery,\n", // 11
			1,
			[]string{
				"Imported 1 of 9 books",
				`books.csv:4: field "year"`,
				`books.csv:5: field "title": must not be empty`,
				`books.csv:6: title: "The Maltese Falcon" by Dashiell Hammett is already book 1`,
				`books.csv:7: field "category"`,
				"books.csv:8: title:",
				"earlier in this import (line 3)",
				`books.csv:9: field "price": 0.00 is not more than zero`,
				`books.csv:10: field "price": amount "9.999": EUR has 2 digits after the point, not 3`,
				`books.csv:11: field "price": missing`,
			}},
		{"books.json", "[\n" +
			`{"title":"Essentialism","author":"Greg McKeown","year":2014,"category":"self_help","price":"14.99"},` + "\n" + // 2: good
			`{"title":"Bad","author":"A","year":"1999","category":"self_help","price":"9.99"},` + "\n" + // 3
			`{"title":"Ok?","author":"A","year":1999,"category":"self_help","isbn":"x","price":"9.99"},` + "\n" + // 4
			`{"id":7,"title":"Taken","author":"A","year":1999,"category":"self_help","price":"9.99"},` + "\n" + // 5
			`{"title":"Float","author":"A","year":1999,"category":"self_help","price":9.99}` + "\n" + // 6
			"]\n",
			1,
			[]string{
				"Imported 1 of 5 books",
				`books.json:3: field "year"`,
				`books.json:4: field "isbn": unknown field`,
				"books.json:5: id: 7 is already used",
				`books.json:6: field "price": want a decimal in a string`,
			}},
		{"dollars.csv", "title,author,year,category,price\n" +
			"In Dollars,Someone,2000,mystery,12.99\n", // 2: good, but not in the shop's currency
			0,
			[]string{
				"Imported 0 of 1 books",
				"dollars.csv:2: price: 12.99 USD is not in the shop's currency, EUR",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := db.Len()
			path := filepath.Join(t.TempDir(), tt.name)
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"import", path}
			if tt.name == "dollars.csv" {
				args = append(args, "-currency", "USD")
			}
			out, err := runCmd(t, addr, args...)
			if err == nil || !strings.Contains(err.Error(), "rejected") {
				t.Errorf("import with bad rows = %v, want an error saying books were rejected", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("import output lacks %q:\n%s", want, out)
				}
			}
			if db.Len() != before+tt.imported {
				t.Errorf("catalog grew by %d, want %d", db.Len()-before, tt.imported)
			}
		})
	}
}

func TestImportRefusesBadUsage(t *testing.T) {
	addr := rpctest.ClosedAddr(t)
	good := filepath.Join(t.TempDir(), "books.csv")
	if err := os.WriteFile(good, []byte("title,author,year,category,price\nT,A,2000,mystery,9.99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "want one file"},
		{[]string{"import", "a.csv", "b.csv"}, "want one file"},
		{[]string{"import", "/nonexistent/books.csv"}, "no such file"},
		{[]string{"import", good, "-format", "xml"}, `-format "xml"`},
		{[]string{"import", good, "-currency", "euro"}, `-currency or CATALOG_CURRENCY: currency "euro": want an ISO 4217 code`},
		{[]string{"import", good}, "no Catalog answers at " + addr + " (connection refused): start it"},
	}
	for _, tt := range tests {
		_, err := runCmd(t, addr, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestExportFailureKeepsFile checks that an export that fails leaves the
// file it would have replaced as it was, and says why it failed.
func TestExportFailureKeepsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.csv")
	if err := os.WriteFile(path, []byte("id,category,title,author,year,price\n1,mystery,T,A,2000,9.99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runCmd(t, rpctest.ClosedAddr(t), "export", "-o", path, "-timeout", "2s")
	if err == nil || !strings.Contains(err.Error(), "(connection refused): start it") || strings.Contains(err.Error(), "retries") {
		t.Errorf("export to a closed port = %v, want it to say that nothing answers there, and how to start it", err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "1,mystery,T,A,2000,9.99") {
		t.Errorf("a failed export changed the file to %q", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("a failed export left %d files in the directory, want only the original", len(entries))
	}
}

// TestExportKeepsModeAndWarnsOfFormulas exports over a file kept private
// (0600): it stays 0600; new files are 0644 in a directory all may read,
// 0600 in a private one. A catalog with a title a spreadsheet would run
// as a formula is exported as it is, with a warning.
func TestExportKeepsModeAndWarnsOfFormulas(t *testing.T) {
	seed := []bookshop.Book{
		{ID: 1, Category: bookshop.Mystery, Title: "=HYPERLINK(\"http://evil\",\"x\")", Author: "A. Writer", Year: 2001, Price: bookshop.Money{Units: 999, Currency: "EUR"}},
		{ID: 2, Category: bookshop.Mystery, Title: "Plain", Author: "@handle", Year: 2002, Price: bookshop.Money{Units: 999, Currency: "EUR"}},
		{ID: 3, Category: bookshop.Mystery, Title: "Harmless", Author: "B. Writer", Year: 2003, Price: bookshop.Money{Units: 999, Currency: "EUR"}},
	}
	_, addr := startCatalogService(t, seed)
	export := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := tool.Run(testContext(t, 30*time.Second), append([]string{"export"}, args...),
			env(map[string]string{"CATALOG_HOST": addr}), &out, &errOut)
		return errOut.String(), err
	}
	mode := func(path string) os.FileMode {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}

	public := t.TempDir()
	if err := os.Chmod(public, 0o755); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(public, "private.csv")
	if err := os.WriteFile(private, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	msg, err := export("-o", private)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(private); m != 0o600 {
		t.Errorf("export over a 0600 file left it %v, want 0600", m)
	}
	if want := "Warning: 2 of the books have a title or an author that starts with"; !strings.Contains(msg, want) {
		t.Errorf("export printed %q, want %q", msg, want)
	}
	if b, _ := os.ReadFile(private); !bytes.Contains(b, []byte(`"=HYPERLINK(""http://evil"",""x"")"`)) || !bytes.Contains(b, []byte("@handle")) {
		t.Errorf("the export changed the cells:\n%s", b)
	}

	fresh := filepath.Join(public, "new.csv")
	if _, err := export("-o", fresh); err != nil {
		t.Fatal(err)
	}
	if m := mode(fresh); m != 0o644 {
		t.Errorf("a new export in a 0755 directory is %v, want 0644", m)
	}
	closed := filepath.Join(t.TempDir(), "mine")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := export("-o", filepath.Join(closed, "new.csv")); err != nil {
		t.Fatal(err)
	}
	if m := mode(filepath.Join(closed, "new.csv")); m != 0o600 {
		t.Errorf("a new export in a 0700 directory is %v, want 0600", m)
	}
	if msg, err := export("-format", "json", "-o", filepath.Join(closed, "b.json")); err != nil || strings.Contains(msg, "Warning") {
		t.Errorf("a JSON export printed %q, %v; want no warning: no spreadsheet runs JSON", msg, err)
	}

	// -o - is stdout, as for most commands that write files: no file
	// named "-".
	var stdout, stderr bytes.Buffer
	wd := t.TempDir()
	t.Chdir(wd)
	err = tool.Run(testContext(t, 30*time.Second), []string{"export", "-o", "-"}, env(map[string]string{"CATALOG_HOST": addr}), &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), "Harmless") {
		t.Errorf("export -o - = %v, stdout %q; want the books on stdout", err, stdout.String())
	}
	if _, err := os.Stat(filepath.Join(wd, "-")); err == nil {
		t.Error("export -o - wrote a file named -")
	}
}

// TestImportReportsManyRejects imports more refused books than the Catalog
// names (bookshop.MaxRejectionsReported): the command counts every one,
// lists those named, and says how many more there were.
func TestImportReportsManyRejects(t *testing.T) {
	c, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startCatalogService(t, c.Books())
	n := bookshop.MaxRejectionsReported + 3
	content := "title,author,year,category,price\n" +
		strings.Repeat("The Maltese Falcon,Dashiell Hammett,1930,mystery,9.99\n", n) // each in the catalog
	path := filepath.Join(t.TempDir(), "again.csv")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, addr, "import", path)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d of %d", n, n)) {
		t.Errorf("import of %d books in the catalog = %v, want an error saying all %d were rejected", n, err, n)
	}
	for _, want := range []string{
		fmt.Sprintf("Imported 0 of %d books", n),
		fmt.Sprintf("Rejected %d:", n),
		fmt.Sprintf("again.csv:%d: title:", bookshop.MaxRejectionsReported+1), // the last named
		fmt.Sprintf("and 3 more: the Catalog names the first %d", bookshop.MaxRejectionsReported),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q", want)
		}
	}
	if strings.Contains(out, fmt.Sprintf("again.csv:%d:", n+1)) {
		t.Errorf("import output names the row of line %d, past the first %d", n+1, bookshop.MaxRejectionsReported)
	}
}
