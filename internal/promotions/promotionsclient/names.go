package promotionsclient

// The codes of the promotions the shop has run, as orders record them:
// an order keeps its code for good, and the campaign it names may be long
// over.
const (
	// BuyTwoGetOneFreeCode is the code of "buy two books, get the third
	// free".
	BuyTwoGetOneFreeCode = "buy_two_get_one_free"
)

// LatestCode is the code of the shop's latest promotion: the one that
// tools mean by "the promotion" unless told another (bookshop report
// promotion's -promotion).
const LatestCode = BuyTwoGetOneFreeCode

// Name returns the name, for people, of the promotion of code, short
// enough to head a line of a cart or an order ("Buy two, get one free");
// "Special offer" for a code it does not know, "" among them. It names
// every promotion the shop ran, as orders keep their codes for good: the
// Promotions service names its campaign from here (its Offer's name, its
// discounts' labels), and pages name an order's promotion as the offer
// does when its code is the offer's, and from here otherwise: the orders
// of a campaign that is over, and every order while Promotions cannot
// answer.
func Name(code string) string {
	switch code {
	case BuyTwoGetOneFreeCode:
		return "Buy two, get one free"
	}
	return "Special offer"
}
