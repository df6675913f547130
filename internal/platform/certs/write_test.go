package certs_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// wantFiles are the files a default set writes, with their modes.
var wantFiles = map[string]fs.FileMode{
	"ca.crt":              0o644,
	"server.crt":          0o644,
	"server.key":          0o600,
	"marketplace.crt":     0o644,
	"marketplace.key":     0o600,
	"recommendations.crt": 0o644,
	"recommendations.key": 0o600,
	"admin.crt":           0o644,
	"admin.key":           0o600,
}

// readDir returns the name and content of every entry of dir.
func readDir(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	files := make(map[string][]byte)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

// TestWriteDir checks the files, their modes and that each pair loads.
func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "certs") // WriteDir creates it
	set := generate(t, shop())
	if err := set.WriteDir(dir); err != nil {
		t.Fatalf("WriteDir: %v", err)
	}
	files := readDir(t, dir)
	if len(files) != len(wantFiles) {
		t.Errorf("WriteDir wrote %v, want exactly %v (no CA key, no temporary files)", slices.Sorted(maps.Keys(files)), slices.Sorted(maps.Keys(wantFiles)))
	}
	for name, mode := range wantFiles {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, info.Mode().Perm(), mode)
		}
	}
	if !bytes.Equal(files["ca.crt"], set.CA.CertPEM) || !bytes.Equal(files["server.key"], set.Server.KeyPEM) {
		t.Error("the files do not hold the set's certificates and keys")
	}
	for _, name := range append([]string{"server"}, testIdentities...) {
		if _, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")); err != nil {
			t.Errorf("tls.LoadX509KeyPair(%s): %v", name, err)
		}
	}
}

// TestWriteDirRefusesToOverwrite checks that WriteDir writes nothing into
// a directory that holds any of its files, unless told to overwrite.
func TestWriteDirRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.key"), []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := generate(t, shop()).WriteDir(dir)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "admin.key") {
		t.Errorf("WriteDir into a directory with admin.key = %v, want an error that wraps fs.ErrExist and names admin.key", err)
	}
	files := readDir(t, dir)
	if len(files) != 1 || string(files["admin.key"]) != "keep me" {
		t.Errorf("after a refused WriteDir the directory holds %v, want admin.key unchanged and nothing else", slices.Sorted(maps.Keys(files)))
	}

	opts := shop()
	opts.Overwrite = true
	first := generate(t, opts)
	if err := first.WriteDir(dir); err != nil {
		t.Fatalf("WriteDir with Overwrite: %v", err)
	}
	admin, _ := first.Client("admin")
	if got := readDir(t, dir); !bytes.Equal(got["admin.key"], admin.KeyPEM) {
		t.Error("WriteDir with Overwrite left the old admin.key")
	}
	if info, err := os.Stat(filepath.Join(dir, "admin.key")); err != nil {
		t.Error(err)
	} else if info.Mode().Perm() != 0o600 {
		t.Errorf("admin.key after overwrite: mode %v, want 0600", info.Mode().Perm())
	}

	before := readDir(t, dir)
	if len(before) != len(wantFiles) || !bytes.Equal(before["ca.crt"], first.CA.CertPEM) {
		t.Errorf("after WriteDir with Overwrite the directory holds %v, want %v with the new CA", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(wantFiles)))
	}
	err = generate(t, shop()).WriteDir(dir)
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("second WriteDir without Overwrite = %v, want fs.ErrExist", err)
	}
	if got := readDir(t, dir); !maps.EqualFunc(got, before, bytes.Equal) {
		t.Errorf("a refused WriteDir changed the files: the directory holds %v, want %v as they were", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(before)))
	}
}
