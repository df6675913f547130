//go:build unix

package tool

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReplaceFileThroughLinksAndPipes checks what replaceFile does with
// what is not a plain file: a symbolic link is kept, and the file it
// names replaced (a dangling one's file written); a named pipe is
// written into, not replaced by a file, so that its reader gets the
// data; a directory is refused, by its name; and a file in a directory
// that does not exist is named in the error, not the hidden file beside
// it.
func TestReplaceFileThroughLinksAndPipes(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.csv")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink("target.csv", link); err != nil {
		t.Fatal(err)
	}
	if err := replaceFile(link, []byte("new")); err != nil {
		t.Fatalf("replaceFile(a link): %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is %v, %v after replaceFile; want it kept", fi.Mode(), err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "new" {
		t.Errorf("the link's file holds %q, %v; want the new data", b, err)
	}
	dangling := filepath.Join(dir, "dangling.csv")
	if err := os.Symlink("later.csv", dangling); err != nil {
		t.Fatal(err)
	}
	if err := replaceFile(dangling, []byte("first")); err != nil {
		t.Fatalf("replaceFile(a dangling link): %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "later.csv")); err != nil || string(b) != "first" {
		t.Errorf("the dangling link's file holds %q, %v; want it written", b, err)
	}

	pipe := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	read := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(pipe)
		read <- string(b)
	}()
	if err := replaceFile(pipe, []byte("through the pipe")); err != nil {
		t.Fatalf("replaceFile(a named pipe): %v", err)
	}
	if got := <-read; got != "through the pipe" {
		t.Errorf("the pipe's reader read %q, want the data", got)
	}
	if fi, err := os.Lstat(pipe); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the pipe is %v, %v after replaceFile; want it kept", fi.Mode(), err)
	}

	if err := replaceFile(dir, []byte("x")); err == nil || !strings.Contains(err.Error(), dir+" is a directory") {
		t.Errorf("replaceFile(a directory) = %v, want it refused as a directory", err)
	}
	missing := filepath.Join(dir, "no-such-dir", "x.csv")
	if err := replaceFile(missing, []byte("x")); err == nil || !strings.Contains(err.Error(), "create "+missing+": no such file or directory") {
		t.Errorf("replaceFile(in a directory not there) = %v, want the file named", err)
	}
}

// TestReplaceFileOddPaths checks two paths that name something other than
// the file to replace: a relative link with ".." in a directory reached
// through a link, which the kernel resolves after following that link
// (not as text), and a descriptor of a pipe (/dev/fd/N), written into,
// where following its links would lead to a name like "pipe:[N]".
func TestReplaceFileOddPaths(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "srv", "data")
	for _, d := range []string{filepath.Join(real, "exports"), filepath.Join(real, "archive"), filepath.Join(root, "work")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(real, "exports"), filepath.Join(root, "work", "exports")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../archive/books.csv", filepath.Join(real, "exports", "books.csv")); err != nil {
		t.Fatal(err)
	}
	if err := replaceFile(filepath.Join(root, "work", "exports", "books.csv"), []byte("kept")); err != nil {
		t.Fatalf("replaceFile through a linked directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(real, "archive", "books.csv")); err != nil || string(b) != "kept" {
		t.Errorf("the file the kernel reaches holds %q, %v; want the data", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "work", "archive")); err == nil {
		t.Error("replaceFile made work/archive: it resolved .. as text")
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		read <- string(b)
	}()
	err = replaceFile(fmt.Sprintf("/dev/fd/%d", w.Fd()), []byte("through the descriptor"))
	w.Close()
	if err != nil {
		t.Fatalf("replaceFile(/dev/fd/N of a pipe): %v", err)
	}
	if got := <-read; got != "through the descriptor" {
		t.Errorf("the pipe's reader read %q, want the data", got)
	}
}
