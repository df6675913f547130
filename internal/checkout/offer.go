package checkout

import (
	"context"
	"sync"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
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
// the offer it had, and is tried again offerRetry later while there is
// none), one call at a time, made apart from the caller (see askOffer):
// callers go by the offer known meanwhile, or, when none is, wait for the
// answer, as long as ctx lets them.
func (s *Service) currentOffer(ctx context.Context) (bookshop.Offer, bool) {
	m := &s.offer
	m.mu.Lock()
	ch := m.ask
	if ch == nil { // no call is out: one is due, or not
		wait := offerRetry
		if m.known {
			wait = offerTTL
		}
		if !m.asked.IsZero() && s.opts.Now().Sub(m.asked) < wait {
			defer m.mu.Unlock()
			return m.offer, m.known
		}
		ch = make(chan struct{})
		m.ask = ch
		go s.askOffer(context.WithoutCancel(ctx), ch)
	}
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

// askOffer asks Promotions for its offer, as a guest is shown it, records
// the answer, or that the call failed, and closes ch. The call is every
// waiting caller's, not the one's that started it: ctx carries none of a
// caller's cancellation or deadline, and the call ends at the Service's
// call timeout, so that a caller that gives up (its request ended) does
// not make the others wait again offerRetry for an offer.
//
// A Promotions that refuses the call as one it does not serve to the
// Checkout (promotionsclient.Outdated: a version from before the
// Checkout asked it for its offer, while a deploy has not reached it
// yet) gives an offer without a bound (MinBooks 0): every cart is asked
// about, as before the offer told which, and gets its discount, until
// Promotions, deployed, gives its offer (asked again offerTTL later).
func (s *Service) askOffer(ctx context.Context, ch chan struct{}) {
	cctx, cancel := s.call(ctx)
	offer, err := s.deps.Promotions.Offer(cctx, 0)
	cancel()
	switch {
	case err == nil:
	case promotionsclient.Outdated(err):
		s.logger.WarnContext(ctx, "Promotions does not give the Checkout its offer: a version older than the Checkout's (deploy Promotions first); every cart is asked about meanwhile", "err", err)
		offer, err = bookshop.Offer{}, nil
	default:
		s.logger.WarnContext(ctx, "Promotions did not give its offer: the carts are priced by the last one it gave, or, without one, at their full price", "err", err)
	}

	m := &s.offer
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ask, m.asked = nil, s.opts.Now()
	if err == nil {
		m.offer, m.known = offer, true
	}
	close(ch)
}
