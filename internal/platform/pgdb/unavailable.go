package pgdb

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The SQLSTATE codes that end a connection on the server's side: the
// class of connection exceptions, and the server shutting down, crashed
// or not yet accepting connections.
const (
	connectionExceptionClass = "08"
	adminShutdown            = "57P01"
	crashShutdown            = "57P02"
	cannotConnectNow         = "57P03"
)

// Unreachable reports whether err is, or wraps, a sign that the database
// could not be reached or that the connection to it was lost: a
// connection that could not be opened within Settings.ConnectTimeout
// (refused, unreachable, timed out, or refused by the server, such as at
// its connection limit), one closed or reset under a statement, and the
// server's own word that it ended the session: a connection exception
// (SQLSTATE class 08), an administrator's shutdown or termination
// (57P01), a crash (57P02), or a server not yet accepting connections
// (57P03). The end of the caller's context is not: a caller that went
// away or ran out of time is told so as it is.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pgErr.Code {
		case adminShutdown, crashShutdown, cannotConnectNow:
			return true
		}
		return strings.HasPrefix(pgErr.Code, connectionExceptionClass)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, lost := range []error{pgconn.ErrConnClosed, io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.EPIPE} {
		if errors.Is(err, lost) {
			return true
		}
	}
	_, ok := errors.AsType[net.Error](err)
	return ok
}

// Classify returns err as the kernel's Unavailable kind when it is
// Unreachable, so that a gRPC caller is answered UNAVAILABLE, which it
// may retry (on another replica, or once the database is back), rather
// than INTERNAL: an error whose bookshop.ErrorCode is Unavailable, whose
// message for the caller says the database cannot be reached and to try
// again, and which wraps err, whose text is for the log. It returns any
// other err as it is, and err as it is when it holds a *bookshop.Error
// already (a rule's refusal keeps its kind).
//
// A statement whose connection is lost may or may not have been carried
// out, a commit included: the caller's retry must find what the first
// attempt did, which every change keyed by an idempotency key does.
//
// DB.Tx classifies its errors; a service classifies those of its reads on
// Pool.
func Classify(err error) error {
	if !Unreachable(err) {
		return err
	}
	if _, ok := errors.AsType[*bookshop.Error](err); ok {
		return err
	}
	return &unavailableError{
		domain: bookshop.Errorf(bookshop.Unavailable, "the database cannot be reached right now: try again shortly"),
		cause:  err,
	}
}

// unavailableError is an error of the database that Classify found
// Unreachable: the kernel's Unavailable for the caller, and the cause for
// the log.
type unavailableError struct {
	domain *bookshop.Error
	cause  error
}

func (e *unavailableError) Error() string { return "database unavailable: " + e.cause.Error() }

// Unwrap returns both the domain error and the cause, so that errors.As
// finds either.
func (e *unavailableError) Unwrap() []error { return []error{e.domain, e.cause} }
