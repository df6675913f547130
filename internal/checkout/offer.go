package checkout

import (
	"context"
	"sync"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// How long the Checkout goes by the promotion's offer it last had: it
// asks Promotions again offerTTL after an answer, and offerRetry after a
// call that failed while it had none, so that a Promotions down is not
// asked on every checkout.
const (
	offerTTL   = time.Minute
	offerRetry = 5 * time.Second
)

// offerMemory is the Checkout's memory of the promotion's offer, as a
// guest is shown it: what Promotions says of the carts worth asking about
// (its MinBooks). It is safe for concurrent use.
type offerMemory struct {
	mu    sync.Mutex
	offer bookshop.Offer
	known bool          // offer is an answer of Promotions
	asked time.Time     // when the last call ended; zero before the first
	ask   chan struct{} // closed when the call out ends; nil when none is
}

// currentOffer returns the promotion's offer, and true; or false when
// Promotions has not answered since the Service started. It asks
// Promotions once its last answer is offerTTL old (a failed call keeps
// the offer it had), one call at a time: the others go by the offer
// known meanwhile, or, when none is, wait for the answer, as long as ctx
// lets them.
func (s *Service) currentOffer(ctx context.Context) (bookshop.Offer, bool) {
	m := &s.offer
	m.mu.Lock()
	if ch := m.ask; ch != nil { // a call is out
		if m.known {
			defer m.mu.Unlock()
			return m.offer, true
		}
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return bookshop.Offer{}, false
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.offer, m.known
	}
	wait := offerRetry
	if m.known {
		wait = offerTTL
	}
	if !m.asked.IsZero() && s.opts.Now().Sub(m.asked) < wait {
		defer m.mu.Unlock()
		return m.offer, m.known
	}
	ch := make(chan struct{})
	m.ask = ch
	m.mu.Unlock()

	cctx, cancel := s.call(ctx)
	offer, err := s.deps.Promotions.Offer(cctx, 0)
	cancel()
	if err != nil {
		s.logger.WarnContext(ctx, "Promotions did not give its offer: the carts are priced by the last one it gave, or, without one, at their full price", "err", err)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.ask, m.asked = nil, s.opts.Now()
	if err == nil {
		m.offer, m.known = offer, true
	}
	close(ch)
	return m.offer, m.known
}
