package tool

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// RunStock is the `bookshop stock` command: it prints the stock of books
// of a running Inventory (`bookshop stock -book 5`, -book 5,6,7 or a range,
// -book 46-145), or sets the copies on hand of each first (`bookshop stock
// -book 46-145 -set 12`: books just imported into the Catalog have none),
// which only identity admin may do when the Inventory requires mutual TLS.
func RunStock(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop stock -book ID[,ID|FIRST-LAST...] [-set N]", "Prints the stock of books in a running Inventory: copies on hand, held by\n"+
		"checkouts in progress, and available. With -set, sets the copies on hand\n"+
		"of each book first (identity admin): say, of the books an import added.", stderr)
	var (
		host    string
		timeout time.Duration
		tlsf    launch.ClientTLS
		books   string
		set     *int
	)
	fs.StringVar(&host, "inventory-host", "localhost", fmt.Sprintf("the Inventory service: host or host:port (default port %d) (env INVENTORY_HOST)", inventoryclient.DefaultPort))
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	fs.StringVar(&books, "book", "", fmt.Sprintf("the id of the book, or ids and ranges (FIRST-LAST) separated by commas: at most %d books", maxStockBooks))
	fs.Func("set", fmt.Sprintf("set the copies on hand of each book to this number, 0 to %d, before printing", inventoryclient.MaxOnHand), func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > inventoryclient.MaxOnHand {
			return fmt.Errorf("want a whole number from 0 to %d", inventoryclient.MaxOnHand)
		}
		set = &n
		return nil
	})
	env := withEnv(tlsf.Register(fs), map[string]string{"inventory-host": "INVENTORY_HOST"})
	if err := parseFlags(fs, args, getenv, env); err != nil {
		return err
	}
	ids, err := bookIDs(books)
	if err != nil {
		return err
	}
	if timeout <= 0 {
		return usageErrorf("-timeout %v: want a positive duration", timeout)
	}
	target, err := rpc.Target(host, inventoryclient.DefaultPort)
	if err != nil {
		return usageErrorf("-inventory-host or INVENTORY_HOST: %v", err)
	}

	tracing, flush, err := launch.ClientTracing(ctx, "bookshop-stock", getenv, stderr)
	if err != nil {
		return err
	}
	defer flush()
	ccfg := rpc.ClientConfig{CallTimeout: timeout, Tracing: tracing}
	if err := tlsf.Apply(&ccfg); err != nil {
		return err
	}
	conn, err := rpc.Dial(target, ccfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	inventory := inventoryclient.New(conn, timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if set != nil && len(ids) > maxSetBooks {
		return usageErrorf("-set sets the books one call each: at most %d at once, not %d (split the range)", maxSetBooks, len(ids))
	}
	if set != nil {
		for i, id := range ids {
			l, err := inventory.SetStockLevel(ctx, id, *set)
			if err != nil {
				// The operator sees the cause (the gRPC status and address)
				// and what was done.
				done := ""
				if i > 0 {
					done = fmt.Sprintf(" (the %d books before it are set)", i)
				}
				if e := notThere(err, "Inventory", host, "inventory-host"); e != nil {
					return fmt.Errorf("%w%s", e, done)
				}
				return fmt.Errorf("set the stock of book %d in %s%s: %w", id, host, done, err)
			}
			printLevel(stdout, l)
		}
		return nil
	}
	for batch := range slices.Chunk(ids, inventoryclient.MaxStockIDs) {
		levels, err := inventory.Levels(ctx, batch)
		if err != nil {
			return cmp.Or(notThere(err, "Inventory", host, "inventory-host"), fmt.Errorf("read the stock from %s: %w", host, err))
		}
		for _, l := range levels {
			printLevel(stdout, l)
		}
	}
	return nil
}

// printLevel prints one book's stock.
func printLevel(w io.Writer, l inventoryclient.Level) {
	fmt.Fprintf(w, "Book %d: %d on hand, %d held by checkouts, %d available.\n", l.BookID, l.OnHand, l.Held, l.Available)
}

// maxStockBooks is the most books one `bookshop stock` names, and
// maxSetBooks the most it sets, one call (one write synced to the disk)
// each, within -timeout.
const (
	maxStockBooks = 100_000
	maxSetBooks   = 1_000
)

// bookIDs parses -book: ids and ranges of ids (FIRST-LAST, FIRST up to
// LAST), separated by commas, each id 1 or more, at most maxStockBooks in
// all, each once, in the order given.
func bookIDs(s string) ([]int32, error) {
	if s == "" {
		return nil, usageErrorf("-book: which book? such as -book 5, -book 5,6,7 or -book 46-145")
	}
	var ids []int32
	seen := make(map[int32]bool)
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		first, last, isRange := strings.Cut(part, "-")
		lo, err1 := strconv.ParseInt(strings.TrimSpace(first), 10, 32)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = strconv.ParseInt(strings.TrimSpace(last), 10, 32)
		}
		switch {
		case err1 != nil || err2 != nil || lo < 1 || hi < 1:
			return nil, usageErrorf("-book %q: %q is not a book id (a whole number from 1) or a range of them (such as 46-145)", s, part)
		case hi < lo:
			return nil, usageErrorf("-book %q: the range %q ends before it starts", s, part)
		case hi-lo >= maxStockBooks || len(ids)+int(hi-lo+1) > maxStockBooks:
			return nil, usageErrorf("-book %q: more than %d books", s, maxStockBooks)
		}
		for id := int32(lo); ; id++ {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
			if int64(id) == hi {
				break
			}
		}
	}
	return ids, nil
}
