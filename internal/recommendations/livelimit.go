package recommendations

import (
	"context"
	"net/netip"
	"sync"

	"google.golang.org/grpc/peer"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// liveStreams caps the LiveRecommend streams a server serves at once: in
// all, so that their memory stays within the replica's budget
// (LiveStreamBytes each), and those of one caller, so that one client (a
// Marketplace replica gone wrong, or anyone on a network without mutual
// TLS) cannot take every place. A caller is a client address, under the
// identity its certificate names when it has one: the replicas of the
// Marketplace share an identity, and each is a caller of its own. It is
// safe for concurrent use.
type liveStreams struct {
	mu        sync.Mutex
	max       int
	perCaller int
	open      int
	byCaller  map[string]int
}

func newLiveStreams(max, perCaller int) *liveStreams {
	return &liveStreams{max: max, perCaller: perCaller, byCaller: make(map[string]int)}
}

// acquire takes a place for a stream of ctx's caller, which release gives
// back. Errors: Exhausted when max streams, or perCaller of the caller's,
// are open.
func (l *liveStreams) acquire(ctx context.Context) (release func(), err error) {
	caller := callerOf(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open >= l.max:
		return nil, bookshop.Errorf(bookshop.Exhausted, "this replica serves %d live streams, as many as it may: open the stream again, another replica may take it", l.max)
	case l.byCaller[caller] >= l.perCaller:
		return nil, bookshop.Errorf(bookshop.Exhausted, "this replica serves %d live streams of this caller, as many as one caller may open", l.perCaller)
	}
	l.open++
	l.byCaller[caller]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.open--
			if l.byCaller[caller]--; l.byCaller[caller] <= 0 {
				delete(l.byCaller, caller)
			}
		})
	}, nil
}

// callerOf names the caller of the call ctx belongs to, for liveStreams:
// its address, without the port, after the identity its certificate
// names, if any ("marketplace@10.0.3.7").
func callerOf(ctx context.Context) string {
	var addr string
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
		if ap, err := netip.ParseAddrPort(addr); err == nil {
			addr = ap.Addr().String()
		}
	}
	if id, ok := rpc.Identity(ctx); ok {
		return id + "@" + addr
	}
	return addr
}
