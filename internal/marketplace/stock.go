package marketplace

import (
	"context"
	"strconv"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
)

// The pages say how many copies of a book are left ("In stock", "Only 2
// left", "Out of stock", and then no "Add to cart"), from the Inventory
// service. What they say is a hint, not a promise: checkout reserves the
// copies, and is what tells a shopper a book sold out. So the Marketplace
// keeps what Inventory told it for inventoryclient.DefaultStockTTL, for
// at most maxStockEntries books (an inventoryclient.StockCache), and a
// page costs a call to Inventory only for the books it has not asked
// about lately. If Inventory cannot answer, the pages show no label and
// keep the button.
const (
	// At most inventoryclient.StockCountBytes each in memory, some 3 MiB
	// (docs/capacity.md); kept 2 s, 50,000 hold a hundred category pages
	// a second.
	maxStockEntries = 50_000
	// lowStock is the count from which a page says "Only N left".
	lowStock = 3
	// maxStockBatch is the most books one call asks about (GetStock's cap).
	maxStockBatch = inventoryclient.MaxStockIDs
)

// newStockCache returns the Marketplace's short memory of the stock.
func newStockCache() *inventoryclient.StockCache {
	return inventoryclient.NewStockCache(nil, maxStockEntries, inventoryclient.DefaultStockTTL)
}

// stockOf returns the copies left of each of books, as far as Inventory
// can say in time; a book missing from the map has no label.
func (s *server) stockOf(ctx context.Context, books []bookshop.Book) map[int32]int {
	known := make(map[int32]int, len(books))
	s.fillStock(ctx, books, known)
	return known
}

// fillStock records in known the copies left of each of books, as far as
// Inventory can say in time; a book left out of known has no label. The
// caller makes known, so that a page's few books need no map on the
// heap (see appendViews).
func (s *server) fillStock(ctx context.Context, books []bookshop.Book, known map[int32]int) {
	var idBuf [recommendationsShown]int32
	ids := idBuf[:0]
	for _, b := range books {
		if b.Price != (bookshop.Money{}) { // only a book for sale has a stock to show
			ids = append(ids, b.ID)
		}
	}
	missing := s.stocks.Known(ids, known)
	if len(missing) == 0 || s.inventoryOutage.down(time.Now()) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	for len(missing) > 0 {
		batch := missing[:min(len(missing), maxStockBatch)]
		missing = missing[len(batch):]
		got, err := s.inventory.Stock(ctx, batch)
		if err != nil {
			s.logger.WarnContext(ctx, "inventory failed; serving the page without stock", "err", err)
			s.inventoryOutage.failed(time.Now())
			return
		}
		// A book Inventory does not know has none: say so too.
		for _, id := range batch {
			known[id] = got[id]
		}
		s.stocks.Put(got)
	}
}

// views returns books as the pages show them, with what is left of each.
func (s *server) views(ctx context.Context, books []bookshop.Book) []bookView {
	return s.appendViews(ctx, make([]bookView, 0, len(books)), books)
}

// appendViews appends books to dst as the pages show them, with what is
// left of each, and returns the result. The homepage gives it an array on
// its stack: with the map of the stock made here, its three books' views
// cost the collector nothing.
func (s *server) appendViews(ctx context.Context, dst []bookView, books []bookshop.Book) []bookView {
	stock := make(map[int32]int, recommendationsShown)
	s.fillStock(ctx, books, stock)
	for _, b := range books {
		v := viewOf(b)
		if n, ok := stock[b.ID]; ok && v.Price != "" {
			v.Stock = stockLabel(n)
			v.SoldOut = n <= 0
		}
		dst = append(dst, v)
	}
	return dst
}

// stockLabel says how many copies are left, for a page.
func stockLabel(n int) string {
	switch {
	case n <= 0:
		return "Out of stock"
	case n <= lowStock:
		return "Only " + strconv.Itoa(n) + " left"
	default:
		return "In stock"
	}
}
