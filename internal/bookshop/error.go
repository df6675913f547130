package bookshop

import (
	"errors"
	"fmt"
	"time"
)

// Code is the kind of an [Error]. Adapters map each code to a transport
// status: gRPC codes in package rpc (internal/platform/rpc), HTTP
// statuses in package marketplace.
type Code string

// The error codes of the domain.
const (
	// Invalid means the request itself is wrong; retrying it will not help.
	Invalid Code = "invalid"
	// NotFound means the thing asked for does not exist.
	NotFound Code = "not_found"
	// Forbidden means the caller may not do this: its identity is not
	// allowed, or it has none.
	Forbidden Code = "forbidden"
	// Unauthenticated means the caller did not prove who it is: a wrong
	// email or password, or a session that has ended.
	Unauthenticated Code = "unauthenticated"
	// Exists means the thing to create already exists, such as an account
	// for an email that has one.
	Exists Code = "already_exists"
	// Conflict means the request is well formed but the state of what it
	// acts on does not allow it, such as a cart that holds as many lines as
	// it may.
	Conflict Code = "conflict"
	// Exhausted means the caller has used up a quota, such as sign-in
	// attempts; Error.RetryAfter says when it may try again.
	Exhausted Code = "exhausted"
	// Unavailable means a dependency cannot be reached right now; a retry
	// later may succeed.
	Unavailable Code = "unavailable"
	// Internal means a bug or an unexpected failure. Its details are for the
	// log, never for the user.
	Internal Code = "internal"
)

// Error is an error that is safe to show to the caller: Message says what
// was wrong in words meant for them. Any other error is treated as Internal,
// and its text is only logged.
type Error struct {
	Code    Code
	Message string
	// RetryAfter, for Exhausted, is how long the caller should wait before
	// it tries again; zero when unknown.
	RetryAfter time.Duration
	// Reason, when set, names for a program what happened beyond what Code
	// says, in a service's own terms (its client package declares the
	// reasons it gives, as checkoutclient.ReasonNotPlaced): what a caller
	// acts on, where Message is for people.
	Reason string
	// Final, for Unavailable, says that the service answered so once it
	// had tried what it could (its own calls to the service it needs,
	// retried): the caller is not to try again at once, as another
	// attempt would find what this one did and multiply the calls to a
	// service that is down. Trying again later is the caller's user's to
	// ask for. A gRPC server says it with a retry pushback of -1, which
	// gRPC clients obey.
	Final bool
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("bookshop error: code=%s message=%s", e.Code, e.Message)
}

// ErrorCode returns the code of the first *Error in err's chain, Internal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the message of the first *Error in err's chain, and
// a generic message for any other non-nil error, so that internal details
// never reach a user.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal error"
}

// ErrorReason returns the Reason of the first *Error in err's chain, or
// "".
func ErrorReason(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Reason
	}
	return ""
}

// RetryAfter returns the RetryAfter of the first *Error in err's chain, or
// zero.
func RetryAfter(err error) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RetryAfter
	}
	return 0
}
