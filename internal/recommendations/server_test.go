package recommendations_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// startRecommendations serves rec as the tutorial's Recommendations over
// real gRPC on loopback, and returns the server's address. The server has
// no request validators: the rules checked here are rec's own.
func startRecommendations(tb testing.TB, rec bookshop.Recommender) string {
	tb.Helper()
	return rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(rec, logger))
	})
}

// startBuiltin serves the built-in catalog over real gRPC on loopback.
func startBuiltin(tb testing.TB, r recommendations.Rand) string {
	tb.Helper()
	books, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatalf("catalogfile.Builtin: %v", err)
	}
	return startRecommendations(tb, recommendations.New(books, r))
}

// TestServerRecommend checks every rule of Recommend through a real gRPC
// server and the generated client.
func TestServerRecommend(t *testing.T) {
	books, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	client := recommendationspb.NewRecommendationsClient(dial(t, startBuiltin(t, nil)))
	inCategory := func(c bookshop.Category) int {
		n, _ := books.BooksInCategory(context.Background(), c)
		return len(n)
	}

	tests := []struct {
		name      string
		req       *recommendationspb.RecommendationRequest
		wantCode  codes.Code
		wantN     int
		wantInMsg string // for errors: words the message must hold
	}{
		{"tutorial request", &recommendationspb.RecommendationRequest{UserId: 1, Category: recommendationspb.BookCategory_MYSTERY, MaxResults: 3}, codes.OK, 3, ""},
		{"science fiction", &recommendationspb.RecommendationRequest{UserId: 1, Category: recommendationspb.BookCategory_SCIENCE_FICTION, MaxResults: 5}, codes.OK, 5, ""},
		{"self help", &recommendationspb.RecommendationRequest{Category: recommendationspb.BookCategory_SELF_HELP, MaxResults: 1}, codes.OK, 1, ""},
		{"empty request is mystery, zero results", &recommendationspb.RecommendationRequest{}, codes.OK, 0, ""},
		{"max_results zero", &recommendationspb.RecommendationRequest{Category: recommendationspb.BookCategory_SELF_HELP}, codes.OK, 0, ""},
		{"more than the category has", &recommendationspb.RecommendationRequest{Category: recommendationspb.BookCategory_MYSTERY, MaxResults: 1000}, codes.OK, inCategory(bookshop.Mystery), ""},
		{"largest int32", &recommendationspb.RecommendationRequest{Category: recommendationspb.BookCategory_SCIENCE_FICTION, MaxResults: 1<<31 - 1}, codes.OK, inCategory(bookshop.ScienceFiction), ""},
		{"negative max_results", &recommendationspb.RecommendationRequest{Category: recommendationspb.BookCategory_MYSTERY, MaxResults: -1}, codes.InvalidArgument, 0, "max_results"},
		{"most negative max_results", &recommendationspb.RecommendationRequest{MaxResults: -1 << 31}, codes.InvalidArgument, 0, "-2147483648"},
		{"category past the enum", &recommendationspb.RecommendationRequest{Category: 3, MaxResults: 3}, codes.NotFound, 0, "category 3"},
		{"negative category", &recommendationspb.RecommendationRequest{Category: -1, MaxResults: 3}, codes.NotFound, 0, "category -1"},
		{"large category", &recommendationspb.RecommendationRequest{Category: 1 << 20, MaxResults: 3}, codes.NotFound, 0, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Recommend(testContext(t), tt.req)
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("Recommend(%v) code = %v (%v), want %v", tt.req, got, err, tt.wantCode)
			}
			if err != nil {
				if msg := status.Convert(err).Message(); !strings.Contains(msg, tt.wantInMsg) {
					t.Errorf("Recommend(%v) message = %q, want it to contain %q", tt.req, msg, tt.wantInMsg)
				}
				return
			}
			recs := resp.GetRecommendations()
			if len(recs) != tt.wantN {
				t.Fatalf("Recommend(%v) returned %d books, want %d", tt.req, len(recs), tt.wantN)
			}
			want, _ := books.BooksInCategory(context.Background(), bookshop.Category(tt.req.GetCategory()))
			seen := make(map[int32]bool)
			for _, r := range recs {
				if seen[r.GetId()] {
					t.Errorf("Recommend(%v) returned book %d twice", tt.req, r.GetId())
				}
				seen[r.GetId()] = true
				i := slices.IndexFunc(want, func(b bookshop.Book) bool { return b.ID == r.GetId() })
				if i < 0 {
					t.Errorf("Recommend(%v) returned book %d, which is not in category %v", tt.req, r.GetId(), tt.req.GetCategory())
					continue
				}
				b := want[i]
				if r.GetTitle() != b.Title || r.GetAuthor() != b.Author || int(r.GetYear()) != b.Year {
					t.Errorf("Recommend(%v) book %d = %q by %q (%d), want %q by %q (%d)",
						tt.req, r.GetId(), r.GetTitle(), r.GetAuthor(), r.GetYear(), b.Title, b.Author, b.Year)
				}
				if p := r.GetPrice(); p.GetUnits() != b.Price.Units || p.GetCurrency() != b.Price.Currency || p.GetUnits() <= 0 {
					t.Errorf("Recommend(%v) book %d costs %v, want %v", tt.req, r.GetId(), p, b.Price)
				}
			}
		})
	}
}

// TestRecommendDeterministic checks that the random source is injected:
// two servers seeded alike answer alike, call after call.
func TestRecommendDeterministic(t *testing.T) {
	seeded := func() recommendations.Rand { return recommendations.NewLockedRand(rand.NewPCG(7, 11)) }
	a := recommendationspb.NewRecommendationsClient(dial(t, startBuiltin(t, seeded())))
	b := recommendationspb.NewRecommendationsClient(dial(t, startBuiltin(t, seeded())))
	req := &recommendationspb.RecommendationRequest{UserId: 1, Category: recommendationspb.BookCategory_MYSTERY, MaxResults: 3}
	ids := func(resp *recommendationspb.RecommendationResponse) []int32 {
		var out []int32
		for _, r := range resp.GetRecommendations() {
			out = append(out, r.GetId())
		}
		return out
	}
	differs := false
	var first []int32
	for i := range 10 {
		ra, err := a.Recommend(testContext(t), req)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Recommend(testContext(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(ra), ids(rb)) {
			t.Fatalf("call %d: seeded servers answered %v and %v, want the same", i, ids(ra), ids(rb))
		}
		if i == 0 {
			first = ids(ra)
		} else if !slices.Equal(first, ids(ra)) {
			differs = true
		}
	}
	if !differs {
		t.Errorf("10 calls all returned %v: the choice is not random", first)
	}
}

// TestRecommendInternalError checks that an unexpected error reaches the
// caller as a bare INTERNAL, its text kept out of the reply.
func TestRecommendInternalError(t *testing.T) {
	addr := startRecommendations(t, failingRecommender{errors.New("disk on fire at /var/lib/secret")})
	client := recommendationspb.NewRecommendationsClient(dial(t, addr))
	_, err := client.Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: 3})
	if status.Code(err) != codes.Internal {
		t.Fatalf("Recommend with a failing store: code = %v, want Internal", status.Code(err))
	}
	if msg := status.Convert(err).Message(); strings.Contains(msg, "secret") || strings.Contains(msg, "fire") {
		t.Errorf("Recommend with a failing store: message %q leaks the internal error", msg)
	}
}

// TestRecommendPanic checks that a handler that panics answers INTERNAL,
// without the panic's text, and the server serves the next call.
func TestRecommendPanic(t *testing.T) {
	rec := &panickingRecommender{}
	client := recommendationspb.NewRecommendationsClient(dial(t, startRecommendations(t, rec)))
	_, err := client.Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: 1})
	if status.Code(err) != codes.Internal {
		t.Fatalf("Recommend with a panicking handler: %v, want Internal", err)
	}
	if msg := status.Convert(err).Message(); strings.Contains(msg, "boom") || strings.Contains(msg, "goroutine") {
		t.Errorf("Recommend with a panicking handler: message %q leaks the panic", msg)
	}
	resp, err := client.Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: 1})
	if err != nil || len(resp.GetRecommendations()) != 1 {
		t.Errorf("Recommend after a panic = %v, %v; want one book", resp, err)
	}
}

// panickingRecommender panics on its first call only.
type panickingRecommender struct{ calls atomic.Int32 }

func (p *panickingRecommender) Recommend(context.Context, bookshop.RecommendRequest) ([]bookshop.Book, error) {
	if p.calls.Add(1) == 1 {
		panic("boom")
	}
	return []bookshop.Book{{ID: 1, Title: "The Maltese Falcon"}}, nil
}

type failingRecommender struct{ err error }

func (f failingRecommender) Recommend(context.Context, bookshop.RecommendRequest) ([]bookshop.Book, error) {
	return nil, f.err
}

// TestRecommendationsClient checks the client adapter the Marketplace uses:
// domain types in and out, server errors mapped to domain codes.
func TestRecommendationsClient(t *testing.T) {
	addr := startBuiltin(t, nil)
	client := recommendationsclient.New(dial(t, addr), 5*time.Second)

	books, err := client.Recommend(testContext(t), bookshop.RecommendRequest{UserID: 1, Category: bookshop.SelfHelp, MaxResults: 3})
	if err != nil {
		t.Fatalf("Recommend(self_help, 3): %v", err)
	}
	if len(books) != 3 {
		t.Fatalf("Recommend(self_help, 3) returned %d books, want 3", len(books))
	}
	builtin, err := catalogfile.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range books {
		if b.Category != bookshop.SelfHelp || b.Title == "" || b.Author == "" || b.Year == 0 {
			t.Errorf("Recommend(self_help, 3) returned %+v, want a complete self_help book", b)
		}
		if want, _ := builtin.Book(testContext(t), b.ID); b != want {
			t.Errorf("Recommend(self_help, 3) returned %+v, want %+v, price included", b, want)
		}
	}

	errTests := []struct {
		req  bookshop.RecommendRequest
		want bookshop.Code
	}{
		{bookshop.RecommendRequest{Category: 9, MaxResults: 3}, bookshop.NotFound},
		{bookshop.RecommendRequest{MaxResults: -3}, bookshop.Invalid},
		{bookshop.RecommendRequest{MaxResults: 1 << 40}, bookshop.Invalid},
	}
	for _, tt := range errTests {
		_, err := client.Recommend(testContext(t), tt.req)
		if got := bookshop.ErrorCode(err); got != tt.want {
			t.Errorf("Recommend(%+v) error code = %q (%v), want %q", tt.req, got, err, tt.want)
		}
	}
}

// TestRecommendationsClientUnavailable checks that a service that is down,
// or too slow, is Unavailable to the caller, with a message that holds no
// transport details.
func TestRecommendationsClientUnavailable(t *testing.T) {
	slow := startRecommendations(t, blockingRecommender{})
	for name, addr := range map[string]string{
		"down": rpctest.ClosedAddr(t),
		"slow": slow,
	} {
		t.Run(name, func(t *testing.T) {
			client := recommendationsclient.New(dial(t, addr), 200*time.Millisecond)
			// The client's own timeout applies: this context has none.
			_, err := client.Recommend(context.Background(), bookshop.RecommendRequest{MaxResults: 3})
			if got := bookshop.ErrorCode(err); got != bookshop.Unavailable {
				t.Fatalf("Recommend against a %s service: code = %q (%v), want %q", name, got, err, bookshop.Unavailable)
			}
			if msg := bookshop.ErrorMessage(err); strings.Contains(msg, "rpc") || strings.Contains(msg, "127.0.0.1") {
				t.Errorf("Recommend against a %s service: message %q holds transport details", name, msg)
			}
			if _, ok := errors.AsType[interface {
				error
				GRPCStatus() *status.Status
			}](err); !ok {
				t.Errorf("Recommend against a %s service: error %v lost the gRPC status for the log", name, err)
			}
		})
	}
}

// blockingRecommender answers only when its caller gives up.
type blockingRecommender struct{}

func (blockingRecommender) Recommend(ctx context.Context, _ bookshop.RecommendRequest) ([]bookshop.Book, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"localhost", "localhost:50051", false},
		{"recommendations", "recommendations:50051", false},
		{"recommendations:6000", "recommendations:6000", false},
		{" 10.0.0.7:7 ", "10.0.0.7:7", false},
		{"::1", "[::1]:50051", false},
		{"[::1]", "[::1]:50051", false},
		{"[::1]:9000", "[::1]:9000", false},
		{"dns:///recommendations:50051", "dns:///recommendations:50051", false},
		{"", "", true},
		{"host:0", "", true},
		{"host:70000", "", true},
		{"host:http", "", true},
		{":50051", "", true},
		{"http://host/path", "", true},
		{"a,b:6000", "static:///a:50051,b:6000", false},
		{" a:1 , b:2 ,c:3", "static:///a:1,b:2,c:3", false},
		{"a,,b", "", true},
		{"a,b:0", "", true},
	}
	for _, tt := range tests {
		got, err := rpc.Target(tt.in, 50051)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Target(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// changingRecommender recommends one book, whose price the test changes.
type changingRecommender struct{ price atomic.Int64 }

func (c *changingRecommender) Recommend(context.Context, bookshop.RecommendRequest) ([]bookshop.Book, error) {
	return []bookshop.Book{{ID: 7, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930,
		Price: bookshop.Money{Units: c.price.Load(), Currency: "EUR"}}}, nil
}

// TestServerBookMessages checks that the messages a server keeps for the
// books it recommends follow the books: a book whose price changes is sent
// with its new price. Calls at once share the messages (run with -race).
func TestServerBookMessages(t *testing.T) {
	rec := &changingRecommender{}
	rec.price.Store(1299)
	client := recommendationspb.NewRecommendationsClient(dial(t, startRecommendations(t, rec)))
	price := func() int64 {
		t.Helper()
		resp, err := client.Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: 1})
		if err != nil || len(resp.GetRecommendations()) != 1 {
			t.Fatalf("Recommend = %v, %v; want one book", resp, err)
		}
		b := resp.GetRecommendations()[0]
		if b.GetId() != 7 || b.GetTitle() != "The Maltese Falcon" || b.GetAuthor() != "Dashiell Hammett" || b.GetYear() != 1930 || b.GetPrice().GetCurrency() != "EUR" {
			t.Fatalf("Recommend sent %v, want book 7 as recommended", b)
		}
		return b.GetPrice().GetUnits()
	}
	if got := price(); got != 1299 {
		t.Errorf("price = %d, want 1299", got)
	}
	if got := price(); got != 1299 {
		t.Errorf("price the second time = %d, want 1299", got)
	}
	rec.price.Store(999)
	if got := price(); got != 999 {
		t.Errorf("price after it changed = %d, want 999", got)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := client.Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: 1}); err != nil {
					t.Errorf("Recommend: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
