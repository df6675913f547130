package tool

import (
	"fmt"
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// serviceSubcommand returns `bookshop NAME`, the subcommand that runs the
// service s alone.
func serviceSubcommand(s *launch.Service) Command {
	return launch.Alone("bookshop "+s.Name, s)
}

// registerClientTLS declares, on fs, the TLS flags of a command that only calls: -tls-ca,
// -tls-cert and -tls-key (TLS_CA, TLS_CERT, TLS_KEY), the certificate of
// the caller's identity.
func registerClientTLS(f *launch.ClientTLS, fs *config.FlagSet) map[string]string {
	f.Tool = true
	fs.StringVar(&f.CA, "tls-ca", "", "call over TLS, trusting servers certified by this CA (PEM) (env TLS_CA)")
	fs.StringVar(&f.Cert, "tls-cert", "", "for mutual TLS, present this client certificate (PEM); needs -tls-key (env TLS_CERT)")
	fs.StringVar(&f.Key, "tls-key", "", "the private key of -tls-cert (PEM) (env TLS_KEY)")
	return map[string]string{"tls-ca": "TLS_CA", "tls-cert": "TLS_CERT", "tls-key": "TLS_KEY"}
}

// applyClientTLS loads the files of f into cfg.
func applyClientTLS(f launch.ClientTLS, cfg *rpc.ClientConfig) error {
	c, err := f.Config()
	if err != nil {
		return err
	}
	cfg.TLS = c
	return nil
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
