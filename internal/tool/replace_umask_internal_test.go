//go:build unix

package tool

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReplaceFileUmask writes new files, as `bookshop export -o` and
// `bookshop report -o` do, under a umask of 027: a file in a directory
// all may read is 0640 (0644 less the umask), in a private one 0600, as
// any program's new file would be; a file that was there keeps its mode,
// whatever the umask. Before, a new file was 0644 whatever the umask.
func TestReplaceFileUmask(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	public := t.TempDir()
	if err := os.Chmod(public, 0o755); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(t.TempDir(), "mine")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(public, "kept.csv")
	if err := os.WriteFile(kept, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(kept, 0o664); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Join(public, "new.csv"), 0o640},
		{filepath.Join(private, "new.csv"), 0o600},
		{kept, 0o664},
	} {
		if err := replaceFile(tt.path, []byte("books")); err != nil {
			t.Fatalf("replaceFile(%s): %v", tt.path, err)
		}
		if fi, err := os.Stat(tt.path); err != nil || fi.Mode().Perm() != tt.want {
			t.Errorf("%s under umask 027 is %v, %v; want %v", tt.path, fi.Mode().Perm(), err, tt.want)
		}
	}
}
