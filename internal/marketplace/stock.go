package marketplace

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The pages say how many copies of a book are left ("In stock", "Only 2
// left", "Out of stock", and then no "Add to cart"), from the Inventory
// service. What they say is a hint, not a promise: checkout reserves the
// copies, and is what tells a shopper a book sold out. So the Marketplace
// keeps what Inventory told it for stockCacheTTL, for at most
// maxStockEntries books, and a page costs a call to Inventory only for the
// books it has not asked about lately. If Inventory cannot answer, the
// pages show no label and keep the button.
const (
	stockCacheTTL = 2 * time.Second
	// About 70 bytes each in memory, some 3 MiB at most
	// (docs/capacity.md); kept 2 s, 50,000 hold a hundred category
	// pages a second.
	maxStockEntries = 50_000
	// lowStock is the count from which a page says "Only N left".
	lowStock = 3
	// maxStockBatch is the most books one call asks about (GetStock's cap).
	maxStockBatch = 100
)

// stockCache is the Marketplace's short memory of the stock. It is safe
// for concurrent use.
type stockCache struct {
	now func() time.Time

	mu    sync.Mutex
	books map[int32]stockEntry
}

type stockEntry struct {
	available int
	at        time.Time
}

func newStockCache(now func() time.Time) *stockCache {
	return &stockCache{now: now, books: make(map[int32]stockEntry)}
}

// stock records in known the copies left of each of ids that Inventory
// has said within stockCacheTTL, and returns the ids it must be asked
// about.
func (c *stockCache) stock(ids []int32, known map[int32]int) []int32 {
	now := c.now()
	var missing []int32
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if e, ok := c.books[id]; ok && now.Sub(e.at) < stockCacheTTL {
			known[id] = e.available
		} else if !slices.Contains(missing, id) { // a page may list a book twice
			missing = append(missing, id)
		}
	}
	return missing
}

// put records what Inventory said.
func (c *stockCache) put(stock map[int32]int) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.books)+len(stock) > maxStockEntries {
		clear(c.books) // rare: a catalog this large is browsed widely
	}
	for id, n := range stock {
		c.books[id] = stockEntry{available: n, at: now}
	}
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
	missing := s.stocks.stock(ids, known)
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
		s.stocks.put(got)
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
