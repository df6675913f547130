package rpc

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Validators hold rules of requests that need no data to check: ranges and
// required fields, refused with INVALID_ARGUMENT before the handler runs.
// A key is a full method name; its function returns a message saying what
// is wrong, or "". Each slice gives those of its own methods (see
// ServerConfig.Validators). The domain checks its own rules again (it
// serves callers other than gRPC), and those that need data (a category
// with no books, an id already taken) are only the domain's; streaming
// handlers check their messages with the domain's words.
type Validators map[string]func(req any) string

// validate checks req against its method's rules: INVALID_ARGUMENT with
// what is wrong, or nil.
func (v Validators) validate(method string, req any) error {
	check, ok := v[method]
	if !ok {
		return nil
	}
	if msg := check(req); msg != "" {
		return status.Error(codes.InvalidArgument, msg)
	}
	return nil
}

// Check returns the message of the first of errs that is not nil, in the
// domain's words (bookshop.ErrorMessage), or "" when all are nil: what a
// Validators function returns when it checks a request with the domain's
// own rules, the first rule broken saying what is wrong.
func Check(errs ...error) string {
	for _, err := range errs {
		if err != nil {
			return bookshop.ErrorMessage(err)
		}
	}
	return ""
}
