package inventoryclient

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The PreconditionFailure violations of a Reserve refused as sold out:
// one a book, of type stockViolation, subject "book/ID", and the copies
// left, in digits, as the description.
const (
	stockViolation = "STOCK"
	bookSubject    = "book/"
)

// SoldOutError is the error of a Reserve that held nothing because some
// books have fewer copies available than it asked for. Its code is
// Conflict (errors.As finds its *bookshop.Error, whose message starts with
// "sold out" and names the books); Lines says which books, and how many
// copies each has left, for a caller that tells the shopper.
type SoldOutError struct {
	// Lines are the books short of copies, in the order of the request.
	Lines  []bookshop.SoldOut
	domain *bookshop.Error
	cause  error // the gRPC error it came as; nil on the server's side
}

// NewSoldOutError returns the error of a Reserve refused for lines.
func NewSoldOutError(lines []bookshop.SoldOut) *SoldOutError {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = fmt.Sprintf("book %d (%d left)", l.BookID, l.Available)
	}
	return &SoldOutError{
		Lines:  lines,
		domain: bookshop.Errorf(bookshop.Conflict, "sold out: %s", strings.Join(parts, ", ")),
	}
}

func (e *SoldOutError) Error() string {
	if e.cause != nil {
		return e.cause.Error()
	}
	return e.domain.Error()
}

// Unwrap returns the domain error first, so that its code is the one
// found, and then the gRPC error it came as, if any.
func (e *SoldOutError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.domain}
	}
	return []error{e.domain, e.cause}
}

// SoldOutOf returns the books that err says are short of copies, when err
// is a Reserve's refusal for stock (a *SoldOutError in its chain); nil for
// any other error.
func SoldOutOf(err error) []bookshop.SoldOut {
	if e, ok := errors.AsType[*SoldOutError](err); ok {
		return e.Lines
	}
	return nil
}

// Status returns the status a server answers e with: FAILED_PRECONDITION,
// its message, and a google.rpc.PreconditionFailure detail with a
// violation for each line.
func (e *SoldOutError) Status() *status.Status {
	st := status.New(codes.FailedPrecondition, e.domain.Message)
	pf := &errdetails.PreconditionFailure{Violations: make([]*errdetails.PreconditionFailure_Violation, len(e.Lines))}
	for i, l := range e.Lines {
		pf.Violations[i] = &errdetails.PreconditionFailure_Violation{
			Type:        stockViolation,
			Subject:     bookSubject + strconv.Itoa(int(l.BookID)),
			Description: strconv.Itoa(l.Available),
		}
	}
	if withDetails, err := st.WithDetails(pf); err == nil {
		return withDetails
	}
	return st
}

// fromStatus is rpc.FromStatus for Reserve: a FAILED_PRECONDITION that
// carries stock violations becomes a *SoldOutError.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return rpc.FromStatus(err)
	}
	var lines []bookshop.SoldOut
	for _, d := range st.Details() {
		pf, ok := d.(*errdetails.PreconditionFailure)
		if !ok {
			continue
		}
		for _, v := range pf.GetViolations() {
			id, idErr := strconv.ParseInt(strings.TrimPrefix(v.GetSubject(), bookSubject), 10, 32)
			left, leftErr := strconv.Atoi(v.GetDescription())
			if v.GetType() != stockViolation || !strings.HasPrefix(v.GetSubject(), bookSubject) || idErr != nil || leftErr != nil {
				continue
			}
			lines = append(lines, bookshop.SoldOut{BookID: int32(id), Available: left})
		}
	}
	if len(lines) == 0 {
		return rpc.FromStatus(err)
	}
	return &SoldOutError{Lines: lines, domain: bookshop.Errorf(bookshop.Conflict, "%s", st.Message()), cause: err}
}
