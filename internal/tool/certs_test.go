package tool_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
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

// TestCertsSplit checks -split: a directory per holder, each with the CA
// certificate and that holder's certificate and key, and nothing of any
// other holder's; the output names the files in their directories; and
// -keep keeps a complete split set, and replaces one that lacks a file or
// whose directories hold different CAs.
func TestCertsSplit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	run := func(args ...string) string {
		t.Helper()
		var stdout bytes.Buffer
		args = append([]string{"-split", "-identities", "marketplace,checkout,admin"}, append(args, dir)...)
		if err := tool.RunCerts(testContext(t, 10*time.Second), args, env(nil), &stdout, io.Discard); err != nil {
			t.Fatalf("RunCerts(%q): %v", args, err)
		}
		return stdout.String()
	}
	out := run()
	t.Logf("bookshop certs -split printed:\n%s", out)

	want := map[string][]string{
		"server":      {"ca.crt", "server.crt", "server.key"},
		"marketplace": {"ca.crt", "marketplace.crt", "marketplace.key"},
		"checkout":    {"ca.crt", "checkout.crt", "checkout.key"},
		"admin":       {"ca.crt", "admin.crt", "admin.key"},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var top []string
	for _, e := range entries {
		top = append(top, e.Name())
		if !e.IsDir() {
			t.Errorf("-split wrote %s at the top of %s, want a directory per holder alone", e.Name(), dir)
		}
	}
	if len(top) != len(want) {
		t.Errorf("-split wrote %v in %s, want the directories %v", top, dir, slices.Sorted(maps.Keys(want)))
	}
	ca := readCert(t, filepath.Join(dir, "server", "ca.crt"))
	for holder, files := range want {
		var got []string
		entries, err := os.ReadDir(filepath.Join(dir, holder))
		if err != nil {
			t.Errorf("-split: %v", err)
			continue
		}
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if files = slices.Sorted(slices.Values(files)); !slices.Equal(got, files) {
			t.Errorf("%s/ holds %v, want %v: its holder's files alone", holder, got, files)
		}
		if c := readCert(t, filepath.Join(dir, holder, "ca.crt")); !c.Equal(ca) {
			t.Errorf("%s/ca.crt is not the CA of server/ca.crt", holder)
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, holder, holder+".crt"), filepath.Join(dir, holder, holder+".key"))
		if err != nil {
			t.Fatalf("%s: %v", holder, err)
		}
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s/%s.crt: %v", holder, holder, err)
		}
		if holder != "server" {
			if id, _ := certs.IdentityOf(pair.Leaf); id != holder {
				t.Errorf("%s/%s.crt carries identity %q", holder, holder, id)
			}
		}
		if info, err := os.Stat(filepath.Join(dir, holder, holder+".key")); err != nil {
			t.Error(err)
		} else if info.Mode().Perm() != 0o600 {
			t.Errorf("%s/%s.key: mode %v, want 0600", holder, holder, info.Mode().Perm())
		}
	}
	for _, file := range []string{
		filepath.Join(dir, "server", "server.key"), filepath.Join(dir, "server", "ca.crt"),
		filepath.Join(dir, "marketplace", "marketplace.key"), filepath.Join(dir, "admin", "admin.key"),
	} {
		if !strings.Contains(out, file) {
			t.Errorf("the output does not name %s", file)
		}
	}

	if out := run("-keep"); !strings.Contains(out, "Kept") {
		t.Errorf("-split -keep on a complete split set printed %q, want it kept", out)
	}
	if got := readCert(t, filepath.Join(dir, "server", "ca.crt")); !got.Equal(ca) {
		t.Fatal("-split -keep replaced a valid set")
	}

	// A flat set is not a split one: -split -keep makes a new set.
	flat := filepath.Join(t.TempDir(), "flat")
	if err := tool.RunCerts(testContext(t, 10*time.Second), []string{flat}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := tool.RunCerts(testContext(t, 10*time.Second), []string{"-split", "-keep", flat}, env(nil), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "Making a new set") {
		t.Errorf("-split -keep on a flat set printed %q, want a new split set", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(flat, "server", "server.key")); err != nil {
		t.Errorf("-split -keep on a flat set: %v", err)
	}

	// A holder's directory that lacks its key, or holds another CA.
	if err := os.Remove(filepath.Join(dir, "checkout", "checkout.key")); err != nil {
		t.Fatal(err)
	}
	if out := run("-keep"); !strings.Contains(out, "checkout") {
		t.Errorf("-split -keep with checkout/checkout.key gone printed %q, want the reason for a new set", out)
	}
	renewed := readCert(t, filepath.Join(dir, "server", "ca.crt"))
	if renewed.Equal(ca) {
		t.Error("-split -keep kept a set that lacked checkout/checkout.key")
	}
	other := filepath.Join(t.TempDir(), "other")
	if err := tool.RunCerts(testContext(t, 10*time.Second), []string{"-split", other}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(other, "admin", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "admin", "ca.crt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run("-keep"); !strings.Contains(out, "is not the CA") {
		t.Errorf("-split -keep with another CA in admin/ printed %q, want the reason for a new set", out)
	}
	if got := readCert(t, filepath.Join(dir, "server", "ca.crt")); got.Equal(renewed) {
		t.Error("-split -keep kept a set whose directories hold different CAs")
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
