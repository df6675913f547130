package accountsclient

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
)

// CustomerToProto converts a domain customer to its message.
func CustomerToProto(c bookshop.Customer) *accountsv1.Customer {
	return &accountsv1.Customer{Id: c.ID, Email: c.Email, Name: c.Name, CreateTime: timestampToProto(c.Created)}
}

// CustomerFromProto converts a message to a domain customer.
func CustomerFromProto(c *accountsv1.Customer) bookshop.Customer {
	return bookshop.Customer{ID: c.GetId(), Email: c.GetEmail(), Name: c.GetName(), Created: timestampFromProto(c.GetCreateTime())}
}

// SessionToProto converts a domain session to its message, token
// included.
func SessionToProto(s bookshop.Session) *accountsv1.Session {
	return &accountsv1.Session{Token: s.Token, Customer: CustomerToProto(s.Customer), ExpireTime: timestampToProto(s.Expires)}
}

// SessionFromProto converts a message to a domain session.
func SessionFromProto(s *accountsv1.Session) bookshop.Session {
	return bookshop.Session{Token: s.GetToken(), Customer: CustomerFromProto(s.GetCustomer()), Expires: timestampFromProto(s.GetExpireTime())}
}

// timestampToProto converts t; the zero time becomes no timestamp.
func timestampToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timestampFromProto converts ts, in UTC; no timestamp becomes the zero
// time.
func timestampFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
