package marketplace

import (
	"context"
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

// stock returns the copies left of each of ids that Inventory has said
// within stockCacheTTL, and the ids it must be asked about.
func (c *stockCache) stock(ids []int32) (map[int32]int, []int32) {
	now := c.now()
	known := make(map[int32]int, len(ids))
	var missing []int32
	asked := make(map[int32]bool, len(ids))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if e, ok := c.books[id]; ok && now.Sub(e.at) < stockCacheTTL {
			known[id] = e.available
		} else if !asked[id] { // a page may list a book twice
			asked[id] = true
			missing = append(missing, id)
		}
	}
	return known, missing
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
	ids := make([]int32, 0, len(books))
	for _, b := range books {
		if b.Price != (bookshop.Money{}) { // only a book for sale has a stock to show
			ids = append(ids, b.ID)
		}
	}
	known, missing := s.stocks.stock(ids)
	if len(missing) == 0 || s.inventoryOutage.down(time.Now()) {
		return known
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
			return known
		}
		// A book Inventory does not know has none: say so too.
		for _, id := range batch {
			known[id] = got[id]
		}
		s.stocks.put(got)
	}
	return known
}

// views returns books as the pages show them, with what is left of each.
func (s *server) views(ctx context.Context, books []bookshop.Book) []bookView {
	stock := s.stockOf(ctx, books)
	views := make([]bookView, len(books))
	for i, b := range books {
		views[i] = viewOf(b)
		if n, ok := stock[b.ID]; ok && views[i].Price != "" {
			views[i].Stock = stockLabel(n)
			views[i].SoldOut = n <= 0
		}
	}
	return views
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
