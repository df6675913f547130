package pgdb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultWait is how long a service's start waits, by default, for its
// database to answer: long enough for a database started beside it (by
// Compose, or in the same rollout) to come up, short enough that a
// service pointed at the wrong host says so within a minute.
const DefaultWait = time.Minute

// The pauses between Open's attempts to reach the database: each drawn
// at random between half a bound and the bound, which doubles from
// firstWaitPause to maxWaitPause, so that replicas started together do
// not knock in step.
const (
	firstWaitPause = 250 * time.Millisecond
	maxWaitPause   = 5 * time.Second
)

// The SQLSTATE codes of a login that retrying cannot fix: the user or
// password wrong (the class of invalid authorization, 28000 and 28P01),
// no database of that name (3D000), or no right to connect to it (42501).
const (
	invalidAuthorizationClass = "28"
	invalidCatalogName        = "3D000"
	insufficientPrivilege     = "42501"
)

// refused reports whether err is, or wraps, the server's refusal of the
// login for a reason that retrying cannot fix (see the codes above), and
// returns its SQLSTATE code.
func refused(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return "", false
	}
	switch {
	case len(pgErr.Code) == 5 && pgErr.Code[:2] == invalidAuthorizationClass,
		pgErr.Code == invalidCatalogName, pgErr.Code == insufficientPrivilege:
		return pgErr.Code, true
	}
	return "", false
}

// untrusted reports whether err is, or wraps, a failure of the TLS
// handshake to verify the server's certificate (signed by an authority
// not trusted, for another host name, expired, of an algorithm refused),
// which retrying cannot fix: the URL's sslmode, sslrootcert or host, or
// the server's certificate, must change. (With sslmode=verify-ca, pgx
// returns x509's error of its own check, not wrapped by crypto/tls.)
func untrusted(err error) bool {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.InsecureAlgorithmError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.ConstraintViolationError](err); ok {
		return true
	}
	_, ok := errors.AsType[x509.SystemRootsError](err)
	return ok
}

// reach returns once the database answers a query, trying again while it
// cannot be reached (Unreachable: refused, down, starting up, timed out)
// for up to st.Wait from the first attempt, with pauses that grow (see
// firstWaitPause) and each failed attempt logged to st.Logger at Warn. It
// fails at once, with an error that says what to check, when the server
// refuses the login (a wrong user or password, a missing database: see
// refused), or its certificate cannot be verified (see untrusted); after
// st.Wait, with the last attempt's error; and when ctx
// ends, with ctx's error wrapped with the last attempt's. Its errors and
// logs name the database as db.where, redacted.
func (db *DB) reach(ctx context.Context, st Settings) error {
	logger := st.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	bound := firstWaitPause
	for attempt := 1; ; attempt++ {
		err := db.Pool.Ping(ctx)
		if err == nil {
			if attempt > 1 {
				logger.Info("database reached", "db", db.where, "attempts", attempt, "waited", time.Since(start).Round(time.Millisecond).String())
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("database %s: stopped waiting for it: %w (the last attempt: %w)", db.where, ctx.Err(), err)
		}
		if code, ok := refused(err); ok {
			return fmt.Errorf("database %s refuses the login (SQLSTATE %s), which trying again cannot fix: check the user, password and database name in the URL, and that the user may connect: %w", db.where, code, err)
		}
		if untrusted(err) {
			return fmt.Errorf("database %s: its TLS certificate cannot be verified, which trying again cannot fix: check sslmode and sslrootcert in the URL, the host name, and the server's certificate: %w", db.where, err)
		}
		if !Unreachable(err) {
			return fmt.Errorf("database %s: %w", db.where, err)
		}
		left := st.Wait - time.Since(start)
		if left <= 0 {
			if attempt == 1 {
				return fmt.Errorf("database %s: %w", db.where, err)
			}
			return fmt.Errorf("database %s: no answer after %d attempts in %v (-database-wait %v): %w", db.where, attempt, time.Since(start).Round(time.Millisecond), st.Wait, err)
		}
		pause := min(bound/2+rand.N(bound/2+1), left)
		logger.Warn("database not reachable yet: trying again", "db", db.where, "attempt", attempt, "retry_in", pause.Round(time.Millisecond).String(), "err", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("database %s: stopped waiting for it: %w (the last attempt: %w)", db.where, ctx.Err(), err)
		case <-t.C:
		}
		bound = min(2*bound, maxWaitPause)
	}
}
