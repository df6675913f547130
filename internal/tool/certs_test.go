package tool_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/tool"
)

// TestCerts runs `bookshop certs` and checks the files it writes, that it
// says what it wrote, and that it replaces them only with -force.
func TestCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	var stdout bytes.Buffer
	args := []string{"-identities", "marketplace, admin,reporting", "-days", "30", "-namespace", "shop", dir}
	if err := tool.RunCerts(testContext(t, 10*time.Second), args, env(nil), &stdout, io.Discard); err != nil {
		t.Fatalf("RunCerts(%q): %v", args, err)
	}
	t.Logf("bookshop certs printed:\n%s", stdout.String())
	for _, id := range []string{"server", "marketplace", "admin", "reporting"} {
		for _, file := range []string{id + ".crt", id + ".key"} {
			if !strings.Contains(stdout.String(), filepath.Join(dir, file)) {
				t.Errorf("the output does not list %s", file)
			}
		}
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, id+".crt"), filepath.Join(dir, id+".key"))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if id == "server" {
			for _, host := range []string{"catalog.shop.svc.cluster.local", "recommendations.shop.svc.cluster.local"} {
				if err := pair.Leaf.VerifyHostname(host); err != nil {
					t.Errorf("-namespace shop: %v", err)
				}
			}
		} else if got, _ := certs.IdentityOf(pair.Leaf); got != id {
			t.Errorf("%s.crt carries identity %q", id, got)
		}
		if got := pair.Leaf.NotAfter.Sub(pair.Leaf.NotBefore); got != 30*24*time.Hour {
			t.Errorf("-days 30: %s.crt is valid for %v", id, got)
		}
		if info, err := os.Stat(filepath.Join(dir, id+".key")); err != nil {
			t.Error(err)
		} else if info.Mode().Perm() != 0o600 {
			t.Errorf("%s.key: mode %v, want 0600", id, info.Mode().Perm())
		}
	}
	for _, want := range []string{"ca.crt", "-tls-client-ca", "-tls-ca"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the output does not mention %s", want)
		}
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); !os.IsNotExist(err) {
		t.Errorf("ca.key: %v; want no CA key written", err)
	}

	err := tool.RunCerts(testContext(t, 10*time.Second), []string{dir}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-force") || !strings.Contains(err.Error(), "ca.crt") {
		t.Errorf("RunCerts into a full directory = %v, want an error naming ca.crt and -force", err)
	}
	if got := readCert(t, filepath.Join(dir, "ca.crt")); !got.Equal(ca) {
		t.Error("a refused RunCerts replaced ca.crt")
	}
	if err := tool.RunCerts(testContext(t, 10*time.Second), []string{"-force", dir}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("RunCerts -force: %v", err)
	}
	if got := readCert(t, filepath.Join(dir, "ca.crt")); got.Equal(ca) {
		t.Error("RunCerts -force left the old ca.crt")
	}
}

// TestCertsKeep checks -keep: a complete, valid set is kept as it is; a
// set that lacks a file, or expires within 30 days, is replaced.
func TestCertsKeep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	run := func(args ...string) string {
		t.Helper()
		var stdout bytes.Buffer
		if err := tool.RunCerts(testContext(t, 10*time.Second), append(args, dir), env(nil), &stdout, io.Discard); err != nil {
			t.Fatalf("RunCerts(%q): %v", args, err)
		}
		return stdout.String()
	}
	run("-keep") // an empty directory: a new set
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	if out := run("-keep"); !strings.Contains(out, "Kept") {
		t.Errorf("second -keep printed %q, want it to keep the set", out)
	}
	if got := readCert(t, filepath.Join(dir, "ca.crt")); !got.Equal(ca) {
		t.Fatal("-keep replaced a valid set")
	}

	if err := os.Remove(filepath.Join(dir, "admin.key")); err != nil {
		t.Fatal(err)
	}
	if out := run("-keep"); !strings.Contains(out, "admin") {
		t.Errorf("-keep with admin.key gone printed %q, want the reason for a new set", out)
	}
	renewed := readCert(t, filepath.Join(dir, "ca.crt"))
	if renewed.Equal(ca) {
		t.Error("-keep kept a set that lacked admin.key")
	}

	run("-force", "-days", "10") // expires within 30 days
	short := readCert(t, filepath.Join(dir, "ca.crt"))
	run("-keep")
	if got := readCert(t, filepath.Join(dir, "ca.crt")); got.Equal(short) {
		t.Error("-keep kept a set that expires within 30 days")
	}

	err := tool.RunCerts(testContext(t, 10*time.Second), []string{"-keep", "-force", dir}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Errorf("RunCerts -keep -force = %v, want a usage error", err)
	}
}

// readCert reads the first certificate of a PEM file.
func readCert(tb testing.TB, path string) *x509.Certificate {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		tb.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return cert
}

// TestCertsThroughRun runs `bookshop certs DIR` as a user does.
func TestCertsThroughRun(t *testing.T) {
	dir := t.TempDir()
	var stdout bytes.Buffer
	err := tool.Run(testContext(t, 10*time.Second), []string{"certs", dir}, env(nil), &stdout, io.Discard)
	if err != nil && strings.Contains(err.Error(), `unknown command "certs"`) {
		t.Skip("bookshop does not list the certs command yet")
	}
	if err != nil {
		t.Fatalf("bookshop certs %s: %v", dir, err)
	}
	for _, name := range []string{"ca.crt", "server.crt", "server.key", "marketplace.crt", "marketplace.key",
		"recommendations.crt", "recommendations.key", "admin.crt", "admin.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("bookshop certs wrote no %s: %v", name, err)
		}
	}
}

// TestCertsRefusesBadArguments checks that bad arguments stop the command
// before it writes anything, with a message that names what is wrong.
func TestCertsRefusesBadArguments(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no directory", nil, "want one directory"},
		{"two directories", []string{"a", "b"}, "want one directory"},
		{"no days", []string{"-days", "0", "DIR"}, "-days 0"},
		{"too many days", []string{"-days", "100000", "DIR"}, "-days 100000"},
		{"no identities", []string{"-identities", " , ", "DIR"}, "-identities"},
		{"bad identity", []string{"-identities", "marketplace,Web Shop", "DIR"}, `identity "Web Shop"`},
		{"identity twice", []string{"-identities", "admin,admin", "DIR"}, `identity "admin" is given twice`},
		{"bad namespace", []string{"-namespace", "my.shop", "DIR"}, `namespace "my.shop"`},
		{"unknown flag", []string{"-bits", "4096", "DIR"}, "bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "DIR", dir)
			}
			err := tool.RunCerts(testContext(t, 10*time.Second), args, env(nil), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("RunCerts(%q) = %v, want an error containing %q", args, err, tt.wantErr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("RunCerts(%q) wrote %d files, want none", args, len(entries))
			}
		})
	}
}
