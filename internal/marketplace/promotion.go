package marketplace

import (
	"context"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// The promotion is the Promotions service's: the Marketplace only asks it
// what to show, and has no words of its own for it, nor any rule. The
// homepage shows its banner to guests and to customers who have not used
// it; the cart shows the discount a cart would get, on a line in the
// promotion's words (the discount's label), as does the checkout (the
// quote's, which the Checkout has from Promotions); the order pages name
// the promotion as the offer does (see promotionName). If Promotions
// cannot answer, there is no banner and no discount line, and the
// checkout charges full price (the Checkout asks Promotions itself, and
// shows the total it will charge); the cart and the checkout say that
// offers cannot be checked, for a cart that may earn one (see
// offersUnknown); the order pages name the promotion of
// an order from its code alone (promotionsclient.Name).
//
// The offer is the same for every guest, and a customer's changes only
// when they use it, so the Marketplace keeps what Promotions said for
// offerCacheTTL (at most maxCachedOffers customers'), and forgets a
// customer's when they place an order.
const (
	offerCacheTTL   = 5 * time.Second
	maxCachedOffers = 10_000
)

// offers is the Marketplace's short memory of the offers. It is safe for
// concurrent use.
type offers struct {
	now func() time.Time

	mu    sync.Mutex
	byID  map[int32]cachedOffer // by customer; 0 for guests
	htmls map[bannerData]template.HTML
	// campaign is what the last offer Promotions gave, a guest's or a
	// customer's, however long ago (known says whether it ever did),
	// says of every shopper alike: whether a campaign runs, and the
	// copies a cart needs (Offer.MinBooks), for when Promotions cannot
	// say now and for the carts too small to ask it about. Eligible, the
	// one shopper's, is left out (false).
	campaign bookshop.Offer
	known    bool
}

type cachedOffer struct {
	offer bookshop.Offer
	at    time.Time
}

// bannerData is the data of the "promo-banner" fragment.
type bannerData struct {
	Text  string
	Guest bool // the discount applies when the shopper signs in
}

func newOffers(now func() time.Time) *offers {
	return &offers{now: now, byID: make(map[int32]cachedOffer), htmls: make(map[bannerData]template.HTML)}
}

func (o *offers) get(customer int32) (bookshop.Offer, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.byID[customer]
	if !ok || o.now().Sub(e.at) >= offerCacheTTL {
		return bookshop.Offer{}, false
	}
	return e.offer, true
}

func (o *offers) put(customer int32, offer bookshop.Offer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.byID) >= maxCachedOffers {
		clear(o.byID)
	}
	o.byID[customer] = cachedOffer{offer: offer, at: o.now()}
	o.campaign, o.known = offer, true
	o.campaign.Eligible = false
}

// described reports whether Promotions ever described the campaign (see
// mayEarn).
func (o *offers) described() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.known
}

// mayEarn reports whether lines may earn a discount by the campaign as
// Promotions last described it: true when it never did.
func (o *offers) mayEarn(lines []bookshop.PromoLine) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.known || o.campaign.Active && o.campaign.MayEarn(lines)
}

// forget drops a customer's offer: they may have just used it.
func (o *offers) forget(customer int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.byID, customer)
}

// offerFor returns the offer of the visitor of ctx, if Promotions can say.
func (s *server) offerFor(ctx context.Context) (bookshop.Offer, bool) {
	id := visitorIn(ctx).userID()
	if offer, ok := s.offers.get(id); ok {
		return offer, true
	}
	if s.promotionsOutage.down(time.Now()) {
		return bookshop.Offer{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	offer, err := s.promotions.Offer(ctx, id)
	if err != nil {
		s.logger.WarnContext(ctx, "promotions failed; serving the page without the promotion", "err", err)
		s.promotionsOutage.failed(time.Now())
		return bookshop.Offer{}, false
	}
	s.offers.put(id, offer)
	return offer, true
}

// banner returns the promotion's banner for the visitor of ctx: shown
// while the campaign runs, to guests and to customers who have not used
// it; "" otherwise, or when Promotions cannot say.
func (s *server) banner(ctx context.Context) template.HTML {
	offer, ok := s.offerFor(ctx)
	if !ok || !offer.Active || offer.Banner == "" {
		return ""
	}
	guest := visitorIn(ctx).customer == nil
	if !guest && !offer.Eligible {
		return ""
	}
	data := bannerData{Text: offer.Banner, Guest: guest}
	s.offers.mu.Lock()
	html, ok := s.offers.htmls[data]
	s.offers.mu.Unlock()
	if ok {
		return html
	}
	html, err := renderFragment(s.pages.header, "promo-banner", data)
	if err != nil {
		s.logger.ErrorContext(ctx, "render the banner", "err", err)
		return ""
	}
	s.offers.mu.Lock()
	if len(s.offers.htmls) < 16 { // a banner's text changes with a campaign: a few at most
		s.offers.htmls[data] = html
	}
	s.offers.mu.Unlock()
	return html
}

// cartDiscount returns what the promotion takes off cart for the visitor
// of ctx, if anything (ok); known is false when Promotions cannot say (it
// is down, or did not answer in time).
func (s *server) cartDiscount(ctx context.Context, cart bookshop.Cart) (d bookshop.Discount, ok, known bool) {
	return s.linesDiscount(ctx, bookshop.PromoLinesOfCart(cart.Lines))
}

// linesDiscount is cartDiscount for lines.
func (s *server) linesDiscount(ctx context.Context, lines []bookshop.PromoLine) (d bookshop.Discount, ok, known bool) {
	if len(lines) == 0 {
		return bookshop.Discount{}, false, true
	}
	if s.promotionsOutage.down(time.Now()) {
		return bookshop.Discount{}, false, false
	}
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	d, ok, err := s.promotions.Price(ctx, visitorIn(ctx).userID(), lines)
	if err != nil {
		s.logger.WarnContext(ctx, "promotions failed; serving the page without the discount", "err", err)
		s.promotionsOutage.failed(time.Now())
		return bookshop.Discount{}, false, false
	}
	return d, ok, true
}

// offersUnknown reports whether the checkout of lines, which the
// Checkout quoted without a discount, should say that offers cannot be
// checked: the quote cannot tell a discount refused from Promotions not
// answering (the Checkout quotes the full price then), so the
// Marketplace asks Promotions itself, as the cart page does, and says so
// when it cannot answer (known) and lines may earn a discount by the
// campaign as Promotions last described it. A customer whose offer, as
// Promotions gave it within offerCacheTTL, they cannot use (used, or no
// campaign) is not asked about. When Promotions never described the
// campaign (no offer was asked for since the Marketplace started), the
// visitor's offer is asked for first: it describes the campaign too, so
// that a cart too small to earn the discount costs no call from then on,
// rather than one on every checkout page.
func (s *server) offersUnknown(ctx context.Context, lines []bookshop.PromoLine) bool {
	offer, ok := s.offers.get(visitorIn(ctx).userID())
	if !ok && !s.offers.described() {
		offer, ok = s.offerFor(ctx)
	}
	if ok && (!offer.Active || !offer.Eligible) {
		return false
	}
	if !s.offers.mayEarn(lines) {
		return false
	}
	_, _, known := s.linesDiscount(ctx, lines)
	return !known
}

// promotionName returns the name of the promotion of code for the pages
// of the visitor of ctx: as Promotions names it in the visitor's offer
// when code is the offer's (the campaign running now), so that a
// campaign's words are the Promotions service's; otherwise, or when
// Promotions cannot say, by the names of every promotion the shop ran
// (promotionsclient.Name): the orders of a campaign that is over, and
// every order while Promotions is down, are named from their codes alone.
func (s *server) promotionName(ctx context.Context, code string) string {
	if offer, ok := s.offerFor(ctx); ok && offer.Code == code && offer.Name != "" {
		return offer.Name
	}
	return promotionsclient.Name(code)
}

// discountLabel returns the line for people of d, a discount Promotions
// gave: its label, or, when it has none (a Promotions from before
// labels), its promotion's name.
func (s *server) discountLabel(ctx context.Context, d bookshop.Discount) string {
	if d.Label != "" {
		return d.Label
	}
	return s.promotionName(ctx, d.Code)
}

// discountLine is the line of a discount as a page shows it: the
// promotion's words, Before, Title and After, where Title is the title
// of the book it makes free, which the page marks up as a title, when the
// words name it.
type discountLine struct {
	Before, Title, After string
}

// lineOf returns label, a discount's words, as a page shows them, title
// (the free book's; "" for none) marked where label names it. The label
// is plain text, which says nowhere where the title is: lineOf looks for
// it past the promotion's name (name, when label starts with it), and
// marks it only where it is found once, so that it never marks one of
// the label's own words ("free", in "one free free", or "one"): a title
// found twice, or not at all, is left as plain text, unmarked but in
// its place.
func lineOf(label, name, title string) discountLine {
	if title == "" {
		return discountLine{Before: label}
	}
	head := 0
	if name != "" && strings.HasPrefix(label, name) {
		head = len(name)
	}
	i := strings.Index(label[head:], title)
	if i < 0 || strings.LastIndex(label[head:], title) != i {
		return discountLine{Before: label}
	}
	i += head
	return discountLine{Before: label[:i], Title: title, After: label[i+len(title):]}
}

// promotionNames returns the names of the promotions of codes (see
// promotionName), joined by " and "; "" for none.
func (s *server) promotionNames(ctx context.Context, codes []string) string {
	names := make([]string, len(codes))
	for i, c := range codes {
		names[i] = s.promotionName(ctx, c)
	}
	return strings.Join(names, " and ")
}
