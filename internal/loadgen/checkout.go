package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
)

// Checkout is the target of a purchase, as a customer's browser makes it
// on the Marketplace: each worker is a customer of its own, in a browser
// of its own (its cookies kept in a jar), from an address of its own (an
// X-Forwarded-For of 10.128.y.z and up, which the Marketplace reads when
// it runs with -trusted-proxies 1), who signs up when the worker opens.
// Each call is one purchase of copies of one book, three requests:
//
//  1. POST /cart/items, as the page's script does (Accept:
//     application/json), the book and its quantity, with a fresh
//     idempotency key: 200;
//  2. GET /checkout: 200, the form, whose hidden key, total_units,
//     currency and lines it reads;
//  3. POST /checkout, the form with an address and the approved test
//     card (paymentsclient.TestCardApproved): 303 to /orders/{id}.
//
// Any other answer fails the call. The call is timed whole, and the POST
// that places the order on its own (see [PartTimer]). The Inventory must
// have copies of the book for every call: a purchase of a book sold out
// fails.
//
// With three copies or more, the order earns the shop's promotion (one
// book free, once per customer): each customer's first order gets the
// discount, quoted on the form and claimed when it is placed, and the
// later ones are quoted and placed at full price, the customer's use
// spent; the promotion's calls are made on every order either way.
type Checkout struct {
	base      string
	transport http.RoundTripper
	book      int32
	copies    string
	signups   chan struct{} // the sign-ups under way, at most its capacity
}

// maxSignUps is how many workers sign up at once: a sign-up hashes a
// password (argon2id, about 19 MiB and tens of milliseconds each), and
// twenty at once on a loaded core outlast the Marketplace's deadline
// for it. The sign-ups are before the measured time.
const maxSignUps = 2

// NewCheckout returns a Checkout target of the site at siteURL whose
// purchases buy copies (1 to [bookshop.MaxQuantity]) of book (a book of
// the catalog, with a price). The workers share up to idleConns
// connections.
func NewCheckout(siteURL string, book int32, copies, idleConns int) (*Checkout, error) {
	base, err := parseBase(siteURL)
	if err != nil {
		return nil, err
	}
	if book < 1 {
		return nil, fmt.Errorf("book %d: want a book id from 1", book)
	}
	if copies < 1 || copies > bookshop.MaxQuantity {
		return nil, fmt.Errorf("%d copies: want 1 to %d", copies, bookshop.MaxQuantity)
	}
	return &Checkout{base: base, transport: newTransport(idleConns), book: book, copies: strconv.Itoa(copies),
		signups: make(chan struct{}, maxSignUps)}, nil
}

// Worker implements [Target]: it signs its customer up.
func (t *Checkout) Worker(ctx context.Context, i int) (Worker, error) {
	from := fmt.Sprintf("10.%d.%d.%d", 128+i>>16&0x7f, i>>8&0xff, i&0xff)
	select {
	case t.signups <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	_, client, err := signUp(ctx, t.base, t.transport, from)
	<-t.signups
	if err != nil {
		return nil, err
	}
	// Each request's answer is the answer, its redirect not followed: a
	// 303 to the order is the purchase's success.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &checkoutWorker{t: t, client: client, from: from}, nil
}

// Close implements [Target].
func (t *Checkout) Close() error {
	if tr, ok := t.transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	return nil
}

type checkoutWorker struct {
	t      *Checkout
	client *http.Client // with the customer's cookie jar
	from   string       // the customer's address
	buf    bytes.Buffer // the last answer's body
	part   time.Duration
}

// The address and card of every purchase.
var checkoutForm = url.Values{
	"name": {"Load Tester"}, "line1": {"1 Load Street"}, "city": {"Berlin"}, "postal_code": {"10115"}, "country": {"DE"},
	"card_number": {paymentsclient.TestCardApproved}, "exp_month": {"12"}, "exp_year": {"2040"}, "cvc": {"123"},
	"card_name": {"Load Tester"},
}

func (w *checkoutWorker) Call(ctx context.Context) (int, error) {
	book := strconv.Itoa(int(w.t.book))
	status, _, err := w.do(ctx, http.MethodPost, "cart/items", "application/json", url.Values{"book": {book}, "quantity": {w.t.copies}, "key": {rand.Text()}})
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("POST /cart/items book %s × %s: %d %s", book, w.t.copies, status, w.notice())
	}

	status, _, err = w.do(ctx, http.MethodGet, "checkout", "text/html", nil)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("GET /checkout: %d %s", status, w.notice())
	}
	form := make(url.Values, len(checkoutForm)+4)
	for _, name := range []string{"key", "total_units", "currency", "lines"} {
		v, ok := hiddenField(w.buf.Bytes(), name)
		if !ok {
			return 0, fmt.Errorf("GET /checkout: no form with a %s field %s", name, w.notice())
		}
		form.Set(name, v)
	}
	for k, v := range checkoutForm {
		form[k] = v
	}

	t0 := time.Now()
	status, location, err := w.do(ctx, http.MethodPost, "checkout", "text/html", form)
	w.part = time.Since(t0)
	if err != nil {
		return 0, err
	}
	if status != http.StatusSeeOther || !strings.HasPrefix(location, "/orders/") {
		return 0, fmt.Errorf("POST /checkout: %d %s, not 303 to /orders/", status, w.notice())
	}
	return 1, nil
}

// LastPart implements [PartTimer]: the POST /checkout of the last call.
func (w *checkoutWorker) LastPart() time.Duration { return w.part }

func (*checkoutWorker) Close() error { return nil }

// do sends a request of method for path, from the customer's browser,
// asking for accept, with form (nil for none) as its body. It reads the
// answer's body into w.buf, and returns its status and Location.
func (w *checkoutWorker) do(ctx context.Context, method, path, accept string, form url.Values) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, w.t.base+path, body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("X-Forwarded-For", w.from)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// notice returns the message of the last answer, for an error: the
// page's notice, or the JSON's message, or "".
func (w *checkoutWorker) notice() string {
	b := w.buf.Bytes()
	if _, rest, ok := bytes.Cut(b, []byte(`role="alert">`)); ok {
		if msg, _, ok := bytes.Cut(rest, []byte("<")); ok {
			return "(" + html.UnescapeString(string(msg)) + ")"
		}
	}
	if _, rest, ok := bytes.Cut(b, []byte(`"message":"`)); ok {
		if msg, _, ok := bytes.Cut(rest, []byte(`"`)); ok {
			return "(" + string(msg) + ")"
		}
	}
	return ""
}

// hiddenField returns the value of the form's hidden field name in page.
func hiddenField(page []byte, name string) (string, bool) {
	_, rest, ok := bytes.Cut(page, []byte(`type="hidden" name="`+name+`" value="`))
	if !ok {
		return "", false
	}
	v, _, ok := bytes.Cut(rest, []byte(`"`))
	if !ok || len(v) == 0 {
		return "", false
	}
	return html.UnescapeString(string(v)), true
}
