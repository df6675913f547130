package rpc_test

import (
	"context"
	"log/slog"
	"testing"

	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestErrorReasonCrossesTheWire passes domain errors through the status
// a server answers and back to the domain error a client gets: a reason
// crosses with its code, and an UNAVAILABLE with one keeps the server's
// words, where one without (the transport's) says only that the service
// is unavailable.
func TestErrorReasonCrossesTheWire(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sent       *bookshop.Error
		wantMsg    string
		wantReason string
	}{
		{"unavailable with a reason", &bookshop.Error{Code: bookshop.Unavailable, Message: "the payment service could not take your payment: nothing was charged", Reason: "NOT_PLACED"},
			"the payment service could not take your payment: nothing was charged", "NOT_PLACED"},
		{"unavailable without", bookshop.Errorf(bookshop.Unavailable, "our database is down at 10.0.0.7"), "the service is unavailable right now", ""},
		{"conflict with a reason", &bookshop.Error{Code: bookshop.Conflict, Message: "card declined: insufficient funds", Reason: "NOT_PLACED"},
			"card declined: insufficient funds", "NOT_PLACED"},
		{"invalid", bookshop.Errorf(bookshop.Invalid, "quantity: from 1 to 10"), "quantity: from 1 to 10", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := rpc.ToStatus(context.Background(), slog.New(slog.DiscardHandler), "/x.X/Y", tc.sent)
			if _, ok := status.FromError(wire); !ok {
				t.Fatalf("ToStatus(%v) = %v, not a status", tc.sent, wire)
			}
			got := rpc.FromStatus(wire)
			if bookshop.ErrorCode(got) != tc.sent.Code || bookshop.ErrorMessage(got) != tc.wantMsg || bookshop.ErrorReason(got) != tc.wantReason {
				t.Errorf("FromStatus(ToStatus(%v)) = code %s, message %q, reason %q; want %s, %q, %q",
					tc.sent, bookshop.ErrorCode(got), bookshop.ErrorMessage(got), bookshop.ErrorReason(got), tc.sent.Code, tc.wantMsg, tc.wantReason)
			}
		})
	}
}
