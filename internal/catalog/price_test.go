package catalog_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// TestForeignPriceServedWithout serves, over real gRPC, a database that
// holds a book priced in dollars in a shop that sells in euros (its
// currency changed): every read for shoppers serves that book without a
// price, as Recommendations' copy holds it too, while ExportBooks keeps
// the dollars, and the database keeps them.
func TestForeignPriceServedWithout(t *testing.T) {
	const dollarID = 1000
	usd := bookshop.Money{Units: 1299, Currency: "USD"}
	seed := append(builtinBooks(t), bookshop.Book{ID: dollarID, Category: bookshop.Mystery, Title: "The Dollar Mystery", Author: "Ann Abroad", Year: 1999, Price: usd})
	db := openDB(t, seed)
	svc := catalog.NewService(db, "EUR", 0, nil)
	conn := dial(t, startService(t, svc))
	client := catalogclient.New(conn, 10*time.Second)
	ctx := testContext(t)

	// want checks the price of one book as served: none for the dollar
	// book, its euros for the others.
	want := func(how string, b bookshop.Book) {
		t.Helper()
		switch {
		case b.ID == dollarID && (b.Price != bookshop.Money{} || b.Title != "The Dollar Mystery"):
			t.Errorf("%s: book %d = %+v, want The Dollar Mystery without a price", how, b.ID, b)
		case b.ID != dollarID && b.Price.Currency != "EUR":
			t.Errorf("%s: book %d priced %v, want its price in EUR", how, b.ID, b.Price)
		}
	}

	b, err := client.Book(ctx, dollarID)
	if err != nil {
		t.Fatal(err)
	}
	want("GetBook", b)
	books, err := client.Books(ctx, []int32{dollarID, 1})
	if err != nil || len(books) != 2 {
		t.Fatalf("GetBooks = %+v, %v; want 2 books", books, err)
	}
	for _, b := range books {
		want("GetBooks", b)
	}
	res, err := client.Search(ctx, bookshop.SearchQuery{Text: "dollar mystery", Limit: 10})
	if err != nil || len(res.Books) != 1 {
		t.Fatalf("SearchBooks = %+v, %v; want the dollar book", res, err)
	}
	want("SearchBooks", res.Books[0])

	// Two watches of one snapshot, then one after an import, which makes a
	// new snapshot: each sends the dollar book without its price.
	checkWatch := func(how string) {
		t.Helper()
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		snapshots, _, _ := watch(wctx, client)
		snapshot := receive(t, snapshots, how+" snapshot")
		if len(snapshot) != db.Len() {
			t.Fatalf("%s: %d books, want %d", how, len(snapshot), db.Len())
		}
		for _, b := range snapshot {
			want(how, b)
		}
	}
	checkWatch("WatchBooks")
	checkWatch("second WatchBooks")
	importBooks(t, svc, newBooks("After", 1))
	checkWatch("WatchBooks after an import")

	// Recommendations' copy, which the homepage shows, follows the watch.
	copyOf := recommendations.NewBooks(0)
	fctx, stop := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() { defer close(followed); copyOf.Follow(fctx, client, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { stop(); <-followed })
	receive(t, copyOf.Ready(), "Recommendations' copy")
	if b, err = copyOf.Book(ctx, dollarID); err != nil {
		t.Fatal(err)
	}
	want("Recommendations' copy", b)

	// The export keeps the stored prices, for a round trip; so does the
	// database, untouched by the copies served.
	exported, _, err := exportAll(t, catalogv1.NewCatalogServiceClient(conn), catalogv1.Category_CATEGORY_UNSPECIFIED)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, pb := range exported {
		if b := catalogclient.BookFromProto(pb); b.ID == dollarID {
			found = true
			if b.Price != usd {
				t.Errorf("ExportBooks: the dollar book priced %v, want %v as stored", b.Price, usd)
			}
		}
	}
	if !found {
		t.Errorf("ExportBooks: no book %d among %d", dollarID, len(exported))
	}
	if b, err := db.Book(ctx, dollarID); err != nil || b.Price != usd {
		t.Errorf("the database's book %d = %+v, %v; want it still priced %v", dollarID, b, err, usd)
	}
	for _, b := range db.All() {
		if b.ID == dollarID && b.Price != usd {
			t.Errorf("the database's snapshot holds book %d priced %v, want %v", dollarID, b.Price, usd)
		}
	}
}

// TestGetBooksIDRule checks that the GetBooks request's validator and the
// Service's Books say the same of bad ids, in the words of CheckBookIDs.
func TestGetBooksIDRule(t *testing.T) {
	svc := catalog.NewService(openDB(t, builtinBooks(t)), "", 0, nil)
	validate := catalog.Validators()[catalogv1.CatalogService_GetBooks_FullMethodName]
	tooMany := make([]int32, catalog.MaxGetBooks+1)
	for i := range tooMany {
		tooMany[i] = int32(i + 1)
	}
	tests := []struct {
		name string
		ids  []int32
		want string
	}{
		{"too many", tooMany, "101 ids: ask for at most 100 books at once"},
		{"id 0", []int32{1, 0}, "ids must be 1 or more, got 0"},
		{"negative id", []int32{-3, 2}, "ids must be 1 or more, got -3"},
		{"valid", []int32{1, 2}, ""},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checked := catalog.CheckBookIDs(tt.ids)
			if got := bookshop.ErrorMessage(checked); got != tt.want || checked != nil && bookshop.ErrorCode(checked) != bookshop.Invalid {
				t.Errorf("CheckBookIDs = %v, want Invalid %q", checked, tt.want)
			}
			if got := validate(&catalogv1.GetBooksRequest{Ids: tt.ids}); got != tt.want {
				t.Errorf("the GetBooks validator says %q, want %q", got, tt.want)
			}
			_, err := svc.Books(testContext(t), tt.ids)
			if got := bookshop.ErrorMessage(err); got != tt.want || err != nil && bookshop.ErrorCode(err) != bookshop.Invalid {
				t.Errorf("Books = %v, want Invalid %q", err, tt.want)
			}
		})
	}
}
