package accounts

import (
	"fmt"

	"google.golang.org/grpc"

	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// identityMarketplace is the identity of the Marketplace, which calls the
// Accounts service for shoppers, as `bookshop certs` issues it.
const identityMarketplace = "marketplace"

// Policy returns who may call which method of AccountsService: the
// Marketplace, which signs shoppers up, in and out and looks up their
// sessions, and admin, every method. A method added to the service stays
// closed to everyone until it is named here: the policy denies by
// default.
func Policy() rpc.Policy {
	callers := []string{identityMarketplace, rpc.IdentityAdmin}
	return rpc.Policy{
		accountsv1.AccountsService_SignUp_FullMethodName:     callers,
		accountsv1.AccountsService_SignIn_FullMethodName:     callers,
		accountsv1.AccountsService_GetSession_FullMethodName: callers,
		accountsv1.AccountsService_SignOut_FullMethodName:    callers,
	}
}

// Contracts returns the gRPC services the Accounts service serves, whose
// every method Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{&accountsv1.AccountsService_ServiceDesc}
}

// The sizes a request's fields may have, checked before the handlers run:
// generous enough for any value the rules accept (which the Service
// checks), tight enough that nothing larger is normalized or hashed.
const (
	maxEmailBytes    = 320
	maxNameBytes     = 1024
	maxPasswordBytes = 1024
	maxTokenBytes    = 128
)

// Validators returns the rules of AccountsService's requests that need no
// data: required fields and sizes. Their messages never repeat a value.
func Validators() rpc.Validators {
	// field checks one field: required, and at most max bytes. Its
	// messages are "field: rule", which the Marketplace shows beside the
	// form's field of that name.
	field := func(name, value string, max int) string {
		switch {
		case value == "":
			return name + ": required"
		case len(value) > max:
			return fmt.Sprintf("%s: too long, at most %d bytes", name, max)
		}
		return ""
	}
	first := func(msgs ...string) string {
		for _, m := range msgs {
			if m != "" {
				return m
			}
		}
		return ""
	}
	return rpc.Validators{
		accountsv1.AccountsService_SignUp_FullMethodName: func(req any) string {
			r := req.(*accountsv1.SignUpRequest)
			return first(
				field("email", r.GetEmail(), maxEmailBytes),
				field("name", r.GetName(), maxNameBytes),
				field("password", r.GetPassword(), maxPasswordBytes),
				field("client", r.GetClient(), MaxClientLen))
		},
		accountsv1.AccountsService_SignIn_FullMethodName: func(req any) string {
			r := req.(*accountsv1.SignInRequest)
			return first(
				field("email", r.GetEmail(), maxEmailBytes),
				field("password", r.GetPassword(), maxPasswordBytes),
				field("client", r.GetClient(), MaxClientLen))
		},
		accountsv1.AccountsService_GetSession_FullMethodName: func(req any) string {
			return field("token", req.(*accountsv1.GetSessionRequest).GetToken(), maxTokenBytes)
		},
		accountsv1.AccountsService_SignOut_FullMethodName: func(req any) string {
			return field("token", req.(*accountsv1.SignOutRequest).GetToken(), maxTokenBytes)
		},
	}
}
