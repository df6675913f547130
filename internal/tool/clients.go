package tool

import (
	"fmt"
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
)

// serviceSubcommand returns `bookshop NAME`, the subcommand that runs the
// service s alone.
func serviceSubcommand(s *launch.Service) Command {
	return launch.Alone("bookshop "+s.Name, s)
}

// notThere returns, for err of a call to the service what at host, which
// the flag names, a plain error when nothing answered there (the
// connection refused, or no such host): which service, where, and how to
// start or name it, rather than gRPC's chain of retries. It returns nil
// for any other error.
func notThere(err error, what, host, flag string) error {
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		return nil
	}
	msg := err.Error()
	for _, cause := range []string{"connection refused", "no such host"} {
		if strings.Contains(msg, cause) {
			return fmt.Errorf("no %s answers at %s (%s): start it (bookshop up starts them all), or say where it runs with -%s", what, host, cause, flag)
		}
	}
	return nil
}
