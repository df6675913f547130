package bookshop

import (
	"errors"
	"fmt"
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
