// Package accountsclient is the Accounts service's contract in Go terms: a
// client of bookshop.accounts.v1.AccountsService that speaks the kernel's
// types, converting protobuf messages and status codes at the edge. The
// Marketplace signs shoppers up, in and out through it; it imports nothing
// of the service's own internals, so that calling the Accounts service
// never pulls in its storage or its hashing.
package accountsclient

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the Accounts service's gRPC port: where callers look for
// it when its host names no port.
const DefaultPort = 50070

var _ bookshop.Accounts = (*Client)(nil)

// Client is a [bookshop.Accounts] that calls AccountsService over gRPC. It
// is safe for concurrent use.
type Client struct {
	client  accountsv1.AccountsServiceClient
	timeout time.Duration
}

// New returns a client that calls AccountsService over conn. Calls whose
// context has no deadline get timeout. A sign-up or sign-in spends a
// password hash on the server (some 50 ms, more while other hashes run):
// give it room.
func New(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	return &Client{client: accountsv1.NewAccountsServiceClient(conn), timeout: timeout}
}

// SignUp implements [bookshop.Accounts]. Errors: Invalid, Exists,
// Exhausted (with RetryAfter: too many sign-ups or failures from client),
// Unavailable, Internal.
func (c *Client) SignUp(ctx context.Context, a bookshop.NewAccount, client string) (bookshop.Session, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.SignUp(ctx, &accountsv1.SignUpRequest{Email: a.Email, Name: a.Name, Password: a.Password, Client: client})
	if err != nil {
		return bookshop.Session{}, rpc.FromStatus(err)
	}
	return SessionFromProto(resp.GetSession()), nil
}

// SignIn implements [bookshop.Accounts]. Errors: Unauthenticated,
// Exhausted (with RetryAfter), Invalid, Unavailable, Internal.
func (c *Client) SignIn(ctx context.Context, email, password, client string) (bookshop.Session, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.SignIn(ctx, &accountsv1.SignInRequest{Email: email, Password: password, Client: client})
	if err != nil {
		return bookshop.Session{}, rpc.FromStatus(err)
	}
	return SessionFromProto(resp.GetSession()), nil
}

// Session implements [bookshop.Accounts]. Errors: NotFound when token
// names no live session (unknown, expired or signed out), the one answer
// that means the shopper is signed out; an empty token is NotFound
// without a call. Unavailable, Internal, and Unauthenticated or Forbidden
// when the Accounts service refused this caller's certificate (mutual
// TLS): a fault of the deployment, which says nothing of the session.
func (c *Client) Session(ctx context.Context, token string) (bookshop.Session, error) {
	if token == "" {
		return bookshop.Session{}, bookshop.Errorf(bookshop.NotFound, "no session: the token is empty")
	}
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetSession(ctx, &accountsv1.GetSessionRequest{Token: token})
	if err != nil {
		return bookshop.Session{}, rpc.FromStatus(err)
	}
	return SessionFromProto(resp.GetSession()), nil
}

// SignOut implements [bookshop.Accounts]. An empty token has no session
// to end: nil without a call. Errors: Unavailable, Internal.
func (c *Client) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := c.client.SignOut(ctx, &accountsv1.SignOutRequest{Token: token}); err != nil {
		return rpc.FromStatus(err)
	}
	return nil
}
