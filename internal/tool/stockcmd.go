package tool

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// RunStock is the `bookshop stock` command: it prints the stock of books
// of a running Inventory (`bookshop stock -book 5`, or -book 5,6,7), or
// sets the copies on hand of one (`bookshop stock -book 5 -set 12`), which
// only identity admin may do when the Inventory requires mutual TLS.
func RunStock(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop stock -book ID[,ID...] [-set N]", "Prints the stock of books in a running Inventory: copies on hand, held by\n"+
		"checkouts in progress, and available. With -set, sets the copies on hand\n"+
		"of one book first (identity admin).", stderr)
	var (
		host    string
		timeout time.Duration
		tlsf    clientTLSFlags
		books   string
		set     *int
	)
	fs.StringVar(&host, "inventory-host", "localhost", fmt.Sprintf("the Inventory service: host or host:port (default port %d) (env INVENTORY_HOST)", inventoryclient.DefaultPort))
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	fs.StringVar(&books, "book", "", "the id of the book, or ids separated by commas to print several")
	fs.Func("set", "set the copies on hand of the book to this number, 0 to 1000000, before printing", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q: want a whole number", s)
		}
		set = &n
		return nil
	})
	env := withEnv(tlsf.register(fs), map[string]string{"inventory-host": "INVENTORY_HOST"})
	if err := parseFlags(fs, args, getenv, env); err != nil {
		return err
	}
	ids, err := bookIDs(books)
	if err != nil {
		return err
	}
	if set != nil && len(ids) != 1 {
		return usageErrorf("-set sets the stock of one book: give -book one id (got %d)", len(ids))
	}
	if timeout <= 0 {
		return usageErrorf("-timeout %v: want a positive duration", timeout)
	}
	target, err := rpc.Target(host, inventoryclient.DefaultPort)
	if err != nil {
		return usageErrorf("-inventory-host or INVENTORY_HOST: %v", err)
	}

	tracing, flush, err := clientTracing(ctx, "bookshop-stock", getenv, stderr)
	if err != nil {
		return err
	}
	defer flush()
	ccfg := rpc.ClientConfig{CallTimeout: timeout, Tracing: tracing}
	if err := tlsf.apply(&ccfg); err != nil {
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

	var levels []inventoryclient.Level
	if set != nil {
		l, err := inventory.SetStockLevel(ctx, ids[0], *set)
		if err != nil {
			// The operator sees the cause: the gRPC status and address.
			return fmt.Errorf("set the stock of book %d in %s: %w", ids[0], host, err)
		}
		levels = []inventoryclient.Level{l}
	} else if levels, err = inventory.Levels(ctx, ids); err != nil {
		return fmt.Errorf("read the stock from %s: %w", host, err)
	}
	for _, l := range levels {
		fmt.Fprintf(stdout, "Book %d: %d on hand, %d held by checkouts, %d available.\n", l.BookID, l.OnHand, l.Held, l.Available)
	}
	return nil
}

// bookIDs parses -book: one id, or ids separated by commas, each 1 or
// more.
func bookIDs(s string) ([]int32, error) {
	if s == "" {
		return nil, usageErrorf("-book: which book? such as -book 5, or -book 5,6,7")
	}
	var ids []int32
	for part := range strings.SplitSeq(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 32)
		if err != nil || id < 1 {
			return nil, usageErrorf("-book %q: %q is not a book id (a whole number from 1)", s, part)
		}
		ids = append(ids, int32(id))
	}
	return ids, nil
}
