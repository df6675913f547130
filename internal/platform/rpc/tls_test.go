package rpc_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// writeCerts generates a set of certificates as opts says and writes it to
// a new directory, whose path it returns.
func writeCerts(tb testing.TB, opts certs.Options) (string, *certs.Set) {
	tb.Helper()
	set, err := certs.Generate(opts)
	if err != nil {
		tb.Fatalf("certs.Generate: %v", err)
	}
	dir := tb.TempDir()
	if err := set.WriteDir(dir); err != nil {
		tb.Fatalf("WriteDir: %v", err)
	}
	return dir, set
}

// writeFile writes data to name in dir and returns its path.
func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestServerTLS(t *testing.T) {
	dir, _ := writeCerts(t, testCerts())
	in := func(name string) string { return filepath.Join(dir, name) }

	cfg, err := rpc.ServerTLS(in("server.crt"), in("server.key"), in("ca.crt"))
	if err != nil {
		t.Fatalf("ServerTLS: %v", err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || len(cfg.Certificates) != 1 || cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Errorf("ServerTLS with a client CA = MinVersion %x, %d certificates, ClientAuth %v, ClientCAs %v; want TLS 1.3, 1, RequireAndVerifyClientCert, the CA",
			cfg.MinVersion, len(cfg.Certificates), cfg.ClientAuth, cfg.ClientCAs)
	}

	cfg, err = rpc.ServerTLS(in("server.crt"), in("server.key"), "")
	if err != nil {
		t.Fatalf("ServerTLS without a client CA: %v", err)
	}
	if cfg.ClientAuth != tls.NoClientCert || cfg.ClientCAs != nil {
		t.Errorf("ServerTLS without a client CA: ClientAuth %v, want NoClientCert (TLS, not mutual)", cfg.ClientAuth)
	}
}

func TestClientTLS(t *testing.T) {
	dir, _ := writeCerts(t, testCerts())
	in := func(name string) string { return filepath.Join(dir, name) }

	cfg, err := rpc.ClientTLS(in("ca.crt"), in("marketplace.crt"), in("marketplace.key"))
	if err != nil {
		t.Fatalf("ClientTLS: %v", err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || cfg.RootCAs == nil || len(cfg.Certificates) != 1 {
		t.Errorf("ClientTLS = MinVersion %x, RootCAs %v, %d certificates; want TLS 1.3, the CA, 1", cfg.MinVersion, cfg.RootCAs, len(cfg.Certificates))
	}
	if cfg, err := rpc.ClientTLS(in("ca.crt"), "", ""); err != nil || len(cfg.Certificates) != 0 {
		t.Errorf("ClientTLS without a certificate = %v, %v; want no certificate, no error", cfg, err)
	}
	if cfg, err := rpc.ClientTLS("", "", ""); err != nil || cfg.RootCAs != nil {
		t.Errorf("ClientTLS without a CA = %v, %v; want the system's roots (nil RootCAs), no error", cfg, err)
	}
}

// TestTLSErrors checks that each mistake with the files gets an error that
// names the file and says what is wrong.
func TestTLSErrors(t *testing.T) {
	dir, _ := writeCerts(t, testCerts())
	in := func(name string) string { return filepath.Join(dir, name) }
	expiredOpts, futureOpts := testCerts(), testCerts()
	expiredOpts.NotBefore, expiredOpts.NotAfter = time.Now().AddDate(-1, 0, 0), time.Now().Add(-time.Hour)
	futureOpts.NotBefore = time.Now().Add(24 * time.Hour)
	expired, _ := writeCerts(t, expiredOpts)
	future, _ := writeCerts(t, futureOpts)
	other := t.TempDir()
	notPEM := writeFile(t, other, "notpem.crt", []byte("this is not PEM\n"))
	keyOnly := writeFile(t, other, "key-only.crt", mustRead(t, in("server.key")))
	missing := filepath.Join(other, "missing.crt")

	tests := []struct {
		name    string
		load    func() (*tls.Config, error)
		wantErr []string // words the error must hold
	}{
		{"server: missing certificate", func() (*tls.Config, error) { return rpc.ServerTLS(missing, in("server.key"), "") },
			[]string{"missing.crt", "no such file"}},
		{"server: certificate file not PEM", func() (*tls.Config, error) { return rpc.ServerTLS(notPEM, in("server.key"), "") },
			[]string{"notpem.crt", "no PEM certificate"}},
		{"server: a key where the certificate should be", func() (*tls.Config, error) { return rpc.ServerTLS(keyOnly, in("server.key"), "") },
			[]string{"key-only.crt", "no PEM certificate"}},
		{"server: key file not PEM", func() (*tls.Config, error) { return rpc.ServerTLS(in("server.crt"), notPEM, "") },
			[]string{"notpem.crt", "no PEM private key"}},
		{"server: missing key", func() (*tls.Config, error) { return rpc.ServerTLS(in("server.crt"), missing, "") },
			[]string{"missing.crt", "no such file"}},
		{"server: key of another certificate", func() (*tls.Config, error) { return rpc.ServerTLS(in("server.crt"), in("admin.key"), "") },
			[]string{"admin.key", "does not match", "server.crt"}},
		{"server: expired certificate", func() (*tls.Config, error) {
			return rpc.ServerTLS(filepath.Join(expired, "server.crt"), filepath.Join(expired, "server.key"), "")
		}, []string{expired, "server.crt", "expired"}},
		{"server: certificate not valid yet", func() (*tls.Config, error) {
			return rpc.ServerTLS(filepath.Join(future, "server.crt"), filepath.Join(future, "server.key"), "")
		}, []string{"server.crt", "not valid until"}},
		{"server: a client certificate", func() (*tls.Config, error) {
			return rpc.ServerTLS(in("marketplace.crt"), in("marketplace.key"), "")
		}, []string{"marketplace.crt", "not for servers"}},
		{"server: missing client CA", func() (*tls.Config, error) { return rpc.ServerTLS(in("server.crt"), in("server.key"), missing) },
			[]string{"client CA", "missing.crt", "no such file"}},
		{"server: client CA not PEM", func() (*tls.Config, error) { return rpc.ServerTLS(in("server.crt"), in("server.key"), notPEM) },
			[]string{"client CA", "notpem.crt", "no PEM certificate"}},
		{"server: expired client CA", func() (*tls.Config, error) {
			return rpc.ServerTLS(in("server.crt"), in("server.key"), filepath.Join(expired, "ca.crt"))
		}, []string{"ca.crt", "expired"}},
		{"server: no key file", func() (*tls.Config, error) { return rpc.ServerTLS(in("server.crt"), "", "") },
			[]string{"key file"}},
		{"client: missing CA", func() (*tls.Config, error) { return rpc.ClientTLS(missing, "", "") },
			[]string{"CA", "missing.crt", "no such file"}},
		{"client: expired CA", func() (*tls.Config, error) { return rpc.ClientTLS(filepath.Join(expired, "ca.crt"), "", "") },
			[]string{"ca.crt", "expired"}},
		{"client: expired certificate", func() (*tls.Config, error) {
			return rpc.ClientTLS(in("ca.crt"), filepath.Join(expired, "marketplace.crt"), filepath.Join(expired, "marketplace.key"))
		}, []string{"marketplace.crt", "expired"}},
		{"client: key of another certificate", func() (*tls.Config, error) {
			return rpc.ClientTLS(in("ca.crt"), in("marketplace.crt"), in("admin.key"))
		}, []string{"admin.key", "does not match", "marketplace.crt"}},
		{"client: the server certificate", func() (*tls.Config, error) {
			return rpc.ClientTLS(in("ca.crt"), in("server.crt"), in("server.key"))
		}, []string{"server.crt", "not for clients"}},
		{"client: certificate without key", func() (*tls.Config, error) { return rpc.ClientTLS(in("ca.crt"), in("admin.crt"), "") },
			[]string{"needs both", "admin.crt"}},
		{"client: key without certificate", func() (*tls.Config, error) { return rpc.ClientTLS(in("ca.crt"), "", in("admin.key")) },
			[]string{"needs both", "admin.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.load()
			if err == nil {
				t.Fatalf("got a config %v, want an error containing %q", cfg, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
