package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// The shop's targets act as a browser on the site's own pages does: their
// POSTs say Sec-Fetch-Site: same-origin, which the Marketplace's
// cross-origin protection asks of a browser, and they carry the session
// and cart cookies the site sets.

// CustomerPage is the target of the homepage as signed-in customers with a
// cart see it: each worker is a customer of its own, in a browser of its
// own, from an address of its own (an X-Forwarded-For of 10.x.y.z, which
// the Marketplace reads when it runs with -trusted-proxies 1, as Accounts'
// limits on sign-ups are per address). It signs up and puts books in its
// cart when it starts; then each call gets the homepage with the cookies
// the site set. Each page costs the Marketplace a check of the customer's
// session (kept 5 s: one call to Accounts per customer every 5 s at most)
// and the cart's count (held by the count cookie for a minute), besides a
// guest's page.
type CustomerPage struct {
	base   string
	client *http.Client
	books  int32 // books put in each cart
}

// NewCustomerPage returns a CustomerPage target of the site at siteURL
// whose customers' carts hold books 1 to books. The workers share up to
// idleConns connections.
func NewCustomerPage(siteURL string, books int32, idleConns int) (*CustomerPage, error) {
	base, err := parseBase(siteURL)
	if err != nil {
		return nil, err
	}
	if books < 0 {
		return nil, fmt.Errorf("books in the cart %d: want 0 or more", books)
	}
	return &CustomerPage{base: base, client: &http.Client{Transport: newTransport(idleConns)}, books: books}, nil
}

// Worker implements [Target]: it signs its customer up and fills the cart.
func (t *CustomerPage) Worker(ctx context.Context, i int) (Worker, error) {
	from := fmt.Sprintf("10.%d.%d.%d", 1+i>>16&0xff, i>>8&0xff, i&0xff)
	jar, client, err := signUp(ctx, t.base, t.client.Transport, from)
	if err != nil {
		return nil, err
	}
	w := &customerPageWorker{t: t, jar: jar, client: client, from: from}
	w.base, _ = url.Parse(t.base)
	for id := int32(1); id <= t.books; id++ {
		resp, err := postFrom(ctx, w.client, t.base+"cart/items", "", w.from, url.Values{"book": {strconv.Itoa(int(id))}})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("POST /cart/items book %d: %s", id, resp.Status)
		}
	}
	w.header = w.cookies()
	return w, nil
}

// Close implements [Target].
func (t *CustomerPage) Close() error {
	t.client.CloseIdleConnections()
	return nil
}

type customerPageWorker struct {
	t      *CustomerPage
	jar    *cookiejar.Jar
	client *http.Client // with jar, for the sign-up
	base   *url.URL
	from   string // the customer's address
	// header is the Cookie header of the jar's cookies, made again when
	// the site sets one (the jar is costly to ask on every call).
	header string
}

// cookies returns the Cookie header of the jar's cookies.
func (w *customerPageWorker) cookies() string {
	var parts []string
	for _, c := range w.jar.Cookies(w.base) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func (w *customerPageWorker) Call(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.t.base, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Cookie", w.header)
	req.Header.Set("X-Forwarded-For", w.from)
	resp, err := w.t.client.Do(req)
	if err != nil {
		return 0, err
	}
	if len(resp.Header["Set-Cookie"]) > 0 {
		w.jar.SetCookies(w.base, resp.Cookies())
		w.header = w.cookies()
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /: %s", resp.Status)
	}
	// A page served as a guest's, or with the cart's count unavailable,
	// would be a cheaper page than the one measured.
	if body := buf.Bytes(); !bytes.Contains(body, customerLink) || bytes.Contains(body, countUnavailable) {
		return 0, fmt.Errorf("GET /: not the signed-in customer's page with the cart's count")
	}
	return 1, nil
}

func (*customerPageWorker) Close() error { return nil }

var (
	bufPool          = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	customerLink     = []byte(`class="account-link" href="/account"`)
	countUnavailable = []byte(">unavailable<")
)

// addsPerCart is how many books an AddToCart worker adds to one cart
// before it starts another: below the cart's limits (50 lines of at most
// 10 copies), which would refuse more.
const addsPerCart = 400

// AddToCart is the target of the cart's "Add to cart" button as the site's
// script presses it (POST /cart/items, asking for JSON): each worker is a
// guest, each call adds one copy of one of books 1 to 40 in turn, and
// every addsPerCart calls the worker drops its cart's cookie and starts a
// new cart, as a new guest.
type AddToCart struct {
	base   string
	client *http.Client
}

// NewAddToCart returns an AddToCart target of the site at siteURL whose
// workers share up to idleConns connections. The catalog must have books 1
// to 40, with prices.
func NewAddToCart(siteURL string, idleConns int) (*AddToCart, error) {
	base, err := parseBase(siteURL)
	if err != nil {
		return nil, err
	}
	return &AddToCart{base: base, client: &http.Client{Transport: newTransport(idleConns)}}, nil
}

// Worker implements [Target].
func (t *AddToCart) Worker(context.Context, int) (Worker, error) { return &addToCartWorker{t: t}, nil }

// Close implements [Target].
func (t *AddToCart) Close() error {
	t.client.CloseIdleConnections()
	return nil
}

type addToCartWorker struct {
	t      *AddToCart
	cookie string // the guest cart's cookie, once the site has set it
	calls  int
}

func (w *addToCartWorker) Call(ctx context.Context) (int, error) {
	if w.calls%addsPerCart == 0 {
		w.cookie = ""
	}
	book := w.calls%40 + 1
	w.calls++
	resp, err := post(ctx, w.t.client, w.t.base+"cart/items", w.cookie, url.Values{"book": {strconv.Itoa(book)}})
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST /cart/items book %d: %s", book, resp.Status)
	}
	if c := cartCookie(resp); c != "" {
		w.cookie = c
	}
	return 1, nil
}

func (w *addToCartWorker) Close() error { return nil }

// signUp signs a new customer up at the site at base, from the address
// from, through transport, and returns the cookie jar that holds the
// session, and a client of transport with the jar.
func signUp(ctx context.Context, base string, transport http.RoundTripper, from string) (*cookiejar.Jar, *http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, nil, err
	}
	client := &http.Client{Transport: transport, Jar: jar}
	email := "load-" + rand.Text() + "@example.com"
	resp, err := postFrom(ctx, client, base+"signup", "", from, url.Values{
		"email": {email}, "name": {"Load"}, "password": {"a long load-test passphrase " + rand.Text()},
	})
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSeeOther || sessionCookie(resp) == "" {
		return nil, nil, fmt.Errorf("POST /signup: %s, without a session cookie", resp.Status)
	}
	return jar, client, nil
}

// post sends form to target as the site's script does, with the cookies
// of client's jar, if it has one, or else cookie ("" for none), reads the
// answer to the end and returns it, body closed.
func post(ctx context.Context, client *http.Client, target, cookie string, form url.Values) (*http.Response, error) {
	return postFrom(ctx, client, target, cookie, "", form)
}

// postFrom is post from the address from ("" for none), which it sends as
// X-Forwarded-For.
func postFrom(ctx context.Context, client *http.Client, target, cookie, from string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	// A redirect is an answer here, not something to follow.
	client = &http.Client{Transport: client.Transport, Jar: client.Jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

// sessionCookie and cartCookie return "name=value" of the cookie that resp
// sets, or "". The names may carry the __Host- prefix (over HTTPS).
func sessionCookie(resp *http.Response) string { return cookieNamed(resp, "bookshop_session") }
func cartCookie(resp *http.Response) string    { return cookieNamed(resp, "bookshop_cart") }

func cookieNamed(resp *http.Response, name string) string {
	for _, c := range resp.Cookies() {
		if strings.TrimPrefix(c.Name, "__Host-") == name && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}
