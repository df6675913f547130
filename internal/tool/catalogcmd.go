package tool

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// catalogClientFlags are the flags of the commands that call the Catalog.
type catalogClientFlags struct {
	host    string
	timeout time.Duration
	tls     launch.ClientTLS
}

func (c *catalogClientFlags) register(fs *config.FlagSet) map[string]string {
	fs.StringVar(&c.host, "catalog-host", "localhost", "the Catalog service: host or host:port (default port 50060) (env CATALOG_HOST)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "give up after this long")
	return withEnv(c.tls.Register(fs), map[string]string{"catalog-host": "CATALOG_HOST"})
}

// dial connects to the catalog service, tracing the calls when tracing is
// not nil; the caller closes the returned func.
func (c *catalogClientFlags) dial(tracing *telemetry.Tracing) (*catalogclient.Client, func() error, error) {
	if c.timeout <= 0 {
		return nil, nil, usageErrorf("-timeout %v: want a positive duration", c.timeout)
	}
	target, err := rpc.Target(c.host, catalog.DefaultPort)
	if err != nil {
		return nil, nil, usageErrorf("-catalog-host or CATALOG_HOST: %v", err)
	}
	ccfg := rpc.ClientConfig{CallTimeout: c.timeout, Tracing: tracing}
	if err := c.tls.Apply(&ccfg); err != nil {
		return nil, nil, err
	}
	conn, err := rpc.Dial(target, ccfg)
	if err != nil {
		return nil, nil, err
	}
	return catalogclient.New(conn, c.timeout), conn.Close, nil
}

// connect dials the Catalog as the command name, tracing its calls when
// OTEL_EXPORTER_OTLP_ENDPOINT says so; the returned func closes the
// connection and sends the spans.
func (c *catalogClientFlags) connect(ctx context.Context, name string, getenv func(string) string, stderr io.Writer) (*catalogclient.Client, func(), error) {
	tracing, flush, err := launch.ClientTracing(ctx, name, getenv, stderr)
	if err != nil {
		return nil, nil, err
	}
	cat, closeConn, err := c.dial(tracing)
	if err != nil {
		flush()
		return nil, nil, err
	}
	return cat, func() { closeConn(); flush() }, nil
}

// formatFlag reads -format, or guesses it from a file name.
func fileFormat(format, name string) (string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(name)) {
		case ".json":
			format = "json"
		default:
			format = "csv"
		}
	}
	switch format = strings.ToLower(format); format {
	case "csv", "json":
		return format, nil
	default:
		return "", usageErrorf("-format %q: want csv or json", format)
	}
}

// errRejected is returned by import when some books were not imported.
var errRejected = errors.New("some books were rejected")

// RunImport is the `bookshop import FILE` command: it streams the books of
// a CSV or JSON file to the catalog (client streaming), then reports what
// was imported and every rejected book with its line. It fails, after the
// report, when any book was rejected.
//
// The import carries an idempotency key, by default one made from the
// file's content: when the answer is lost (the Catalog died after it
// committed, or the connection broke), the same command again gets the
// first import's report, and writes nothing twice.
func RunImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop import FILE", "Imports the books of a CSV or JSON file (formats in docs/configuration.md)\ninto a running Catalog, in one transaction.", stderr)
	var (
		client   catalogClientFlags
		format   string
		currency string
		key      string
	)
	fs.StringVar(&format, "format", "", "csv or json (default: from the file name; .json is json, else csv)")
	fs.StringVar(&key, "key", "", "the import's idempotency key, 1 to 64 of A-Z, a-z, 0-9, - and _ (default: made from the file's content, so that the same command again, after an answer was lost, reports the first import instead of importing twice)")
	fs.StringVar(&currency, "currency", bookshop.DefaultCurrency, "the currency of the file's prices: the Catalog's own (-currency), which refuses books priced in another (env CATALOG_CURRENCY)")
	env := withEnv(client.register(fs), map[string]string{"currency": "CATALOG_CURRENCY"})
	files, err := parseFlagsAndArgs(fs, args, getenv, env)
	if err != nil {
		return err
	}
	if err := bookshop.CheckCurrency(currency); err != nil {
		return usageErrorf("-currency or CATALOG_CURRENCY: %s", bookshop.ErrorMessage(err))
	}
	if len(files) != 1 {
		return usageErrorf("want one file: bookshop import FILE (got %d arguments)", len(files))
	}
	file := files[0]
	format, err = fileFormat(format, file)
	if err != nil {
		return err
	}

	content, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if key == "" {
		// The file's content and how it is read: the same command, the
		// same key.
		sum := sha256.Sum256(append([]byte(format+"\x00"+currency+"\x00"), content...))
		key = "file-" + hex.EncodeToString(sum[:20])
	} else if err := bookshop.CheckKey("-key", key); err != nil {
		return usageErrorf("%s", bookshop.ErrorMessage(err))
	}
	items, local, err := readRows(bytes.NewReader(content), file, format, currency)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}

	cat, closeConn, err := client.connect(ctx, "bookshop-import", getenv, stderr)
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, client.timeout)
	defer cancel()
	res, err := cat.ImportBooks(ctx, key, items)
	switch code := bookshop.ErrorCode(err); {
	case code == bookshop.Unavailable || errors.Is(err, context.DeadlineExceeded):
		// The operator sees the cause (the gRPC status and address) and
		// what is known.
		// An attempt before the last may have reached a Catalog that died
		// since: the advice holds even when nothing answers now.
		cause := cmp.Or(notThere(err, "Catalog", client.host, "catalog-host"), fmt.Errorf("import into %s: %w", client.host, err))
		return fmt.Errorf("%w\nThe Catalog may have written the import before the answer was lost. "+
			"Run the same command again: the import's key (%s) makes the Catalog report the first import if it was written, "+
			"and import the file if it was not; nothing is written twice", cause, key)
	case code == bookshop.Conflict:
		return fmt.Errorf("import into %s: %w (a file with other books, or another -key)", client.host, err)
	case err != nil:
		return fmt.Errorf("import into %s: %w", client.host, err)
	}

	if res.Replayed {
		fmt.Fprintf(stdout, "This file was imported before (key %s), and nothing was written now. That import's report:\n", key)
	}
	fmt.Fprintf(stdout, "Imported %d of %d books from %s.\n", res.Imported, len(items)+len(local), file)
	// Every book sent and not imported was rejected; the Catalog names
	// the first bookshop.MaxRejectionsReported.
	refused := max(len(items)-res.Imported, len(res.Rejected))
	rejected := len(local) + refused
	if rejected == 0 {
		return nil
	}
	fmt.Fprintf(stdout, "Rejected %d:\n", rejected)
	for _, pe := range local {
		fmt.Fprintf(stdout, "  %v\n", pe)
	}
	for _, r := range res.Rejected {
		fmt.Fprintf(stdout, "  %s:%d: %s\n", file, r.Line, r.Reason)
	}
	if more := refused - len(res.Rejected); more > 0 {
		fmt.Fprintf(stdout, "  and %d more: the Catalog names the first %d\n", more, len(res.Rejected))
	}
	return fmt.Errorf("import: %w: %d of %d", errRejected, rejected, len(items)+len(local))
}

// rowReader is what CSVRows and JSONRows have in common.
type rowReader interface {
	Next() (catalogfile.Row, error)
}

// readRows reads every row of a file, its prices in currency: the books
// to send, and the rows that cannot be sent, with what is wrong.
func readRows(r io.Reader, name, format, currency string) ([]bookshop.ImportItem, []error, error) {
	var (
		rows rowReader
		err  error
	)
	if format == "json" {
		rows, err = catalogfile.NewJSONRows(r, name, currency)
	} else {
		rows, err = catalogfile.NewCSVRows(r, name, currency)
	}
	if err != nil {
		return nil, nil, err
	}
	var (
		items []bookshop.ImportItem
		bad   []error
	)
	for {
		row, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return items, bad, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if row.Err != nil {
			bad = append(bad, row.Err)
			continue
		}
		items = append(items, bookshop.ImportItem{Book: row.Book, Line: row.Line})
	}
}

// RunExport is the `bookshop export` command: it streams the books of a
// category, or all of them, from the catalog (server streaming) and writes
// them as CSV or JSON, in the format import reads.
func RunExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop export", "Writes the books of a running Catalog, or of one category, as CSV or JSON:\nwhat `bookshop import` reads back.", stderr)
	var (
		client   catalogClientFlags
		format   string
		category string
		out      string
	)
	fs.StringVar(&format, "format", "", "csv or json (default: from -o's name; csv for stdout)")
	fs.StringVar(&category, "category", "all", "mystery, science_fiction, self_help, or all")
	fs.StringVar(&out, "o", "", "write to this file instead of stdout, replacing it once the export is complete (a failed export leaves it as it was; a named pipe or a device gets what was written); - is stdout")
	env := client.register(fs)
	if err := parseFlags(fs, args, getenv, env); err != nil {
		return err
	}
	if out == "-" {
		out = ""
	}
	format, err := fileFormat(format, out)
	if err != nil {
		return err
	}
	which := bookshop.AllCategories
	if category != "all" {
		if which, err = bookshop.ParseCategory(category); err != nil {
			return usageErrorf("-category: %s, or all", bookshop.ErrorMessage(err))
		}
	}

	cat, closeConn, err := client.connect(ctx, "bookshop-export", getenv, stderr)
	if err != nil {
		return err
	}
	defer closeConn()

	ctx, cancel := context.WithTimeout(ctx, client.timeout)
	defer cancel()
	n, formulas := 0, 0
	var exportErr error // what export failed with, as the operator sees it
	export := func(w io.Writer) error {
		var bw catalogfile.Writer
		if format == "json" {
			bw = catalogfile.NewJSONWriter(w)
		} else {
			bw = catalogfile.NewCSVWriter(w)
		}
		err := cat.ExportBooks(ctx, which, catalog.ExportBatchSize, func(batch []bookshop.Book) error {
			for _, b := range batch {
				if err := bw.Write(b); err != nil {
					return err
				}
				if format != "json" && (formulaLike(b.Title) || formulaLike(b.Author)) {
					formulas++
				}
			}
			n += len(batch)
			return nil
		})
		switch {
		case err != nil:
			// The operator sees the cause: the gRPC status and address.
			exportErr = cmp.Or(notThere(err, "Catalog", client.host, "catalog-host"), fmt.Errorf("export from %s: %w", client.host, err))
		default:
			if err := bw.Close(); err != nil {
				exportErr = fmt.Errorf("export: %w", err)
			}
		}
		return exportErr
	}
	if out == "" {
		if err := export(stdout); err != nil {
			return err
		}
	} else {
		// The file is written beside its final name and renamed over it
		// only when the export is complete: a failed export leaves the
		// old file (a pipe or a device gets what was written: see
		// replaceFileWith).
		if err := replaceFileWith(out, export); err != nil {
			if err == exportErr {
				return err
			}
			return fmt.Errorf("export: %w", err)
		}
		fmt.Fprintf(stderr, "Exported %d books to %s.\n", n, out)
	}
	if formulas > 0 {
		fmt.Fprintf(stderr, "Warning: %d of the books have a title or an author that starts with =, +, -, @ or a tab, "+
			"which a spreadsheet may run as a formula: the file holds them as they are, to import them back byte for byte; "+
			"open it in a spreadsheet as text (an import with every column as text), not by double-clicking it.\n", formulas)
	}
	return nil
}

// formulaLike reports whether a spreadsheet may take a cell that holds s
// for a formula: s starts with =, +, -, @, a tab or a carriage return
// (OWASP's list for CSV injection).
func formulaLike(s string) bool {
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}
