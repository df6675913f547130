package pgdb

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestRefused checks which of the server's answers to a login Open gives
// up on at once: those that trying again cannot fix. No server is needed.
func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a wrong password (28P01)", &pgconn.PgError{Severity: "FATAL", Code: "28P01"}, true},
		{"a user the server does not know (28000)", fmt.Errorf("connect: %w", &pgconn.PgError{Code: "28000"}), true},
		{"a database the server does not have (3D000)", &pgconn.PgError{Code: "3D000"}, true},
		{"no right to connect (42501)", &pgconn.PgError{Code: "42501"}, true},
		{"a server starting up (57P03)", &pgconn.PgError{Code: "57P03"}, false},
		{"too many connections (53300)", &pgconn.PgError{Code: "53300"}, false},
		{"a connection exception (08006)", &pgconn.PgError{Code: "08006"}, false},
		{"another error", errors.New("connection refused"), false},
		{"nil", nil, false},
	} {
		if _, got := refused(tc.err); got != tc.want {
			t.Errorf("refused(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
