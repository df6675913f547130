package rpc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
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

// TestReasonKeptThroughRetries has a server answer every call UNAVAILABLE
// with a reason, which a Bookshop client (rpc.Dial) retries: the caller
// gets the server's own words once the retries are spent, not grpc-go's
// account of them ("max retries exhausted: failed after 3 attempts: rpc
// error: code = ..."), which is for logs, never for a shopper's page.
func TestReasonKeptThroughRetries(t *testing.T) {
	sent := &bookshop.Error{Code: bookshop.Unavailable, Message: "the stock service cannot be reached right now: nothing was charged", Reason: "NOT_PLACED"}
	conn, attempts := answering(t, func() *bookshop.Error { return sent })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := conn.Invoke(ctx, "/x.X/Y", &emptypb.Empty{}, &emptypb.Empty{})
	if !strings.Contains(err.Error(), "max retries exhausted") || attempts.Load() < 2 {
		t.Fatalf("the call = %v after %d attempts; want it retried, and its error wrapped by grpc-go", err, attempts.Load())
	}
	got := rpc.FromStatus(err)
	if bookshop.ErrorCode(got) != sent.Code || bookshop.ErrorMessage(got) != sent.Message || bookshop.ErrorReason(got) != sent.Reason {
		t.Errorf("FromStatus(%v) = code %s, message %q, reason %q; want %s, %q, %q",
			err, bookshop.ErrorCode(got), bookshop.ErrorMessage(got), bookshop.ErrorReason(got), sent.Code, sent.Message, sent.Reason)
	}
}

// TestFinalNotRetried has a server answer UNAVAILABLE marked Final, as
// a service does once it has retried the calls it made: a Bookshop
// client, which retries UNAVAILABLE, makes one attempt (three without
// Final: TestReasonKeptThroughRetries). A Final error of another code
// carries no pushback, which would count against the client's retry
// throttling.
func TestFinalNotRetried(t *testing.T) {
	var sent atomic.Pointer[bookshop.Error]
	conn, attempts := answering(t, sent.Load)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		err      *bookshop.Error
		code     codes.Code
		pushback []string
	}{
		{&bookshop.Error{Code: bookshop.Unavailable, Message: "the catalog cannot be reached", Final: true}, codes.Unavailable, []string{"-1"}},
		{&bookshop.Error{Code: bookshop.Conflict, Message: "card declined: insufficient funds", Final: true}, codes.FailedPrecondition, nil},
	} {
		sent.Store(tc.err)
		var trailer metadata.MD
		err := conn.Invoke(ctx, "/x.X/Y", &emptypb.Empty{}, &emptypb.Empty{}, grpc.Trailer(&trailer))
		if status.Code(err) != tc.code || strings.Contains(err.Error(), "retries") {
			t.Errorf("the call, answered %s = %v, want the server's %s, not retried", tc.err.Code, err, tc.code)
		}
		if n := attempts.Swap(0); n != 1 {
			t.Errorf("the call, answered %s, made %d attempts, want 1", tc.err.Code, n)
		}
		if got := trailer.Get("grpc-retry-pushback-ms"); !slices.Equal(got, tc.pushback) {
			t.Errorf("the call, answered %s: pushback %q, want %q", tc.err.Code, got, tc.pushback)
		}
	}
}

// TestRetriesSpentOnEOF: grpc-go's retries spent on an UNAVAILABLE
// whose last answer came before the request was all sent end in the
// send's io.EOF, with no status: the caller gets Unavailable, not
// Internal.
func TestRetriesSpentOnEOF(t *testing.T) {
	err := rpc.FromStatus(fmt.Errorf("max retries exhausted: failed after 3 attempts: %w", io.EOF))
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("FromStatus(retries spent on EOF) = %v, want Unavailable", err)
	}
}

// answering serves, until the test ends, every call with the domain
// error answer returns, through rpc.ToStatus, once it has read the
// request (as a handler does: an answer that comes before the client
// has sent it all loses its status in grpc-go's retries, see statusOf).
// It returns a client connection with Bookshop's settings (rpc.Dial,
// which retries UNAVAILABLE), and the count of the calls served.
func answering(t *testing.T, answer func() *bookshop.Error) (*grpc.ClientConn, *atomic.Int32) {
	t.Helper()
	attempts := new(atomic.Int32)
	addr := rpctest.Start(t, func(*rpc.Server, *slog.Logger) {}, grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		attempts.Add(1)
		if err := stream.RecvMsg(&emptypb.Empty{}); err != nil {
			return err
		}
		return rpc.ToStatus(stream.Context(), slog.New(slog.DiscardHandler), "/x.X/Y", answer())
	}))
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, attempts
}
