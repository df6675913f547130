package accounts

import (
	"context"
	"log/slog"

	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Server serves a [Service] as bookshop.accounts.v1.AccountsService.
// Errors become status codes in rpc.ToStatus: a domain error's message
// goes to the caller (none holds a password or a token), any other is
// logged and answered INTERNAL.
type Server struct {
	accountsv1.UnimplementedAccountsServiceServer
	accounts *Service
	logger   *slog.Logger
}

var _ accountsv1.AccountsServiceServer = (*Server)(nil)

// NewServer returns an AccountsService server over accounts, logging
// internal errors to logger.
func NewServer(accounts *Service, logger *slog.Logger) *Server {
	return &Server{accounts: accounts, logger: logger}
}

// SignUp opens an account and returns its first session. Errors:
// INVALID_ARGUMENT, ALREADY_EXISTS, RESOURCE_EXHAUSTED with RetryInfo.
func (s *Server) SignUp(ctx context.Context, req *accountsv1.SignUpRequest) (*accountsv1.SignUpResponse, error) {
	sess, err := s.accounts.SignUp(ctx, newAccount(req), req.GetClient())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, accountsv1.AccountsService_SignUp_FullMethodName, err)
	}
	return &accountsv1.SignUpResponse{Session: accountsclient.SessionToProto(sess)}, nil
}

// SignIn checks an email and a password and returns a new session.
// Errors: UNAUTHENTICATED, RESOURCE_EXHAUSTED with RetryInfo.
func (s *Server) SignIn(ctx context.Context, req *accountsv1.SignInRequest) (*accountsv1.SignInResponse, error) {
	sess, err := s.accounts.SignIn(ctx, req.GetEmail(), req.GetPassword(), req.GetClient())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, accountsv1.AccountsService_SignIn_FullMethodName, err)
	}
	return &accountsv1.SignInResponse{Session: accountsclient.SessionToProto(sess)}, nil
}

// GetSession returns the live session of a token. Errors: NOT_FOUND when
// the token names no live session (unknown, expired or ended).
func (s *Server) GetSession(ctx context.Context, req *accountsv1.GetSessionRequest) (*accountsv1.GetSessionResponse, error) {
	sess, err := s.accounts.Session(ctx, req.GetToken())
	if err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, accountsv1.AccountsService_GetSession_FullMethodName, err)
	}
	return &accountsv1.GetSessionResponse{Session: accountsclient.SessionToProto(sess)}, nil
}

// SignOut ends the session of a token.
func (s *Server) SignOut(ctx context.Context, req *accountsv1.SignOutRequest) (*accountsv1.SignOutResponse, error) {
	if err := s.accounts.SignOut(ctx, req.GetToken()); err != nil {
		return nil, rpc.ToStatus(ctx, s.logger, accountsv1.AccountsService_SignOut_FullMethodName, err)
	}
	return &accountsv1.SignOutResponse{}, nil
}

// newAccount converts a SignUpRequest to the domain's new account.
func newAccount(req *accountsv1.SignUpRequest) bookshop.NewAccount {
	return bookshop.NewAccount{Email: req.GetEmail(), Name: req.GetName(), Password: req.GetPassword()}
}
