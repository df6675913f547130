package marketplace

import (
	"context"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// ordersShown is how many orders a page of the history lists.
const ordersShown = 20

// ordersPage is the data of orders.html: a page of the customer's orders.
type ordersPage struct {
	Layout layout
	Orders []orderView
	Next   string // the next page's URL, or ""
	// First is the first page's URL (the newest orders) on a page past
	// it, or "": the tokens of the pages lead only onwards, so the way
	// back is to the start.
	First  string
	Notice string
}

// orderPage is the data of order.html: one order.
type orderPage struct {
	Layout layout
	Order  orderView
	Placed bool // just placed: the confirmation
}

// orderView is an order as the pages show it.
type orderView struct {
	ID         string
	URL        string
	Date       string
	StateLabel string // "Placed and paid", "Cancelled"
	Cancelled  bool
	// PromoName names the promotions the order was bought with (see
	// promotionNames), whose discount is Discount; "" for none.
	PromoName string
	Lines     []cartLineView
	Count     int
	Subtotal  string
	Discount  string // "" for none
	Total     string
	Shipping  bookshop.Address
}

// orderViewOf returns o as the pages of the visitor of ctx show it.
func (s *server) orderViewOf(ctx context.Context, o bookshop.Order) orderView {
	v := orderView{
		ID:       o.ID,
		URL:      "/orders/" + o.ID,
		Date:     o.Created.Format("2 January 2006, 15:04 MST"),
		Subtotal: o.Subtotal.Format(),
		Total:    o.Total.Format(),
		Shipping: o.Shipping,
	}
	if o.Discount.Units != 0 {
		v.Discount = "−" + o.Discount.Format()
	}
	v.PromoName = s.promotionNames(ctx, o.Promotions)
	switch o.State {
	case "cancelled":
		v.StateLabel, v.Cancelled = "Cancelled", true
	default:
		v.StateLabel = "Placed and paid"
	}
	for _, l := range o.Lines {
		v.Lines = append(v.Lines, cartLineView{ID: l.BookID, Title: l.Title, Price: l.UnitPrice.Format(), Quantity: l.Quantity, Total: l.Total.Format()})
		v.Count += l.Quantity
	}
	return v
}

// handleOrders serves the signed-in customer's orders, newest first, a
// page at a time (?page= the token of the next page).
func (s *server) handleOrders() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := visitorOf(r)
		if v.customer == nil {
			s.needSignIn(w, r, v, "/orders")
			return
		}
		page := ordersPage{Layout: s.layout(r, "Your orders · "+siteTitle, noCategory)}
		token := r.URL.Query().Get("page")
		if len(token) > 200 || !utf8.ValidString(token) {
			s.renderError(w, r, http.StatusBadRequest, "The address names a page of orders that does not exist.")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
		list, err := s.orders.List(ctx, v.customer.ID, token, ordersShown)
		cancel()
		switch bookshop.ErrorCode(err) {
		case "":
		case bookshop.Invalid:
			s.renderError(w, r, http.StatusBadRequest, "The address names a page of orders that does not exist.")
			return
		default:
			s.logger.WarnContext(r.Context(), "orders failed; cannot list the orders", "err", err)
			page.Notice = "Your orders are unavailable right now. Please try again in a moment."
			s.render(w, r, http.StatusServiceUnavailable, s.pages.orders, page)
			return
		}
		for _, o := range list.Orders {
			page.Orders = append(page.Orders, s.orderViewOf(r.Context(), o))
		}
		if list.Next != "" {
			page.Next = "/orders?page=" + list.Next
		}
		if token != "" {
			page.First = "/orders"
		}
		s.render(w, r, http.StatusOK, s.pages.orders, page)
	})
}

// handleOrder serves one of the signed-in customer's orders; after a
// checkout (?placed=1), as its confirmation. Another customer's order and
// an unknown id are the same 404.
func (s *server) handleOrder() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := visitorOf(r)
		if v.customer == nil {
			s.needSignIn(w, r, v, r.URL.RequestURI())
			return
		}
		id := r.PathValue("id")
		if id == "" || len(id) > 64 || !utf8.ValidString(id) {
			s.renderError(w, r, http.StatusNotFound, messageNoSuchOrder)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.callTimeout)
		order, err := s.orders.Order(ctx, v.customer.ID, id)
		cancel()
		switch bookshop.ErrorCode(err) {
		case "":
		case bookshop.NotFound, bookshop.Invalid:
			s.renderError(w, r, http.StatusNotFound, messageNoSuchOrder)
			return
		default:
			s.logger.WarnContext(r.Context(), "orders failed; cannot show the order", "err", err)
			s.renderError(w, r, http.StatusServiceUnavailable, "Your order is unavailable right now. Please try again in a moment.")
			return
		}
		page := orderPage{Order: s.orderViewOf(r.Context(), order), Placed: r.URL.Query().Get("placed") == "1"}
		title := "Order " + order.ID
		if page.Placed {
			title = "Thank you for your order"
		}
		page.Layout = s.layout(r, title+" · "+siteTitle, noCategory)
		s.render(w, r, http.StatusOK, s.pages.order, page)
	})
}

const messageNoSuchOrder = "We have no order of yours with this number."

// needSignIn sends a guest to sign in and come back to next, or says that
// Accounts cannot say who the visitor is.
func (s *server) needSignIn(w http.ResponseWriter, r *http.Request, v *visitor, next string) {
	if v.accountsDown {
		s.renderError(w, r, http.StatusServiceUnavailable, messageAccountsDown)
		return
	}
	http.Redirect(w, r, "/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
}
