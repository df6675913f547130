package tool

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReplaceFile checks how `bookshop report -o` writes its file: a
// reader that opened the old report still reads it whole (the new one
// is renamed over it, not written into it), the old file's mode is kept,
// a new file in a private directory is private, and nothing is left
// beside the file.
func TestReplaceFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "report.csv")
	if err := os.WriteFile(out, []byte("the old report"), 0o600); err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	if err := replaceFile(out, []byte("the new report")); err != nil {
		t.Fatalf("replaceFile: %v", err)
	}
	if b, err := io.ReadAll(reader); err != nil || string(b) != "the old report" {
		t.Errorf("a reader of the old file read %q, %v; want the old report whole", b, err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "the new report" {
		t.Errorf("the file holds %q, %v; want the new report", b, err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the file's mode = %v, %v; want the old file's, 0600", fi.Mode().Perm(), err)
	}

	private := filepath.Join(t.TempDir(), "mine")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(private, "report.svg")
	if err := replaceFile(fresh, []byte("<svg/>")); err != nil {
		t.Fatalf("replaceFile(new): %v", err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("a new report in a 0700 directory is %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	for _, d := range []string{dir, private} {
		if entries, _ := os.ReadDir(d); len(entries) != 1 {
			t.Errorf("%s holds %d files, want 1: no temporary file left", d, len(entries))
		}
	}
}
