package tool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// replaceFile writes data to the file out names, whole or not at all (see
// replaceFileWith).
func replaceFile(out string, data []byte) error {
	return replaceFileWith(out, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// replaceFileWith writes the file out names, whole or not at all, with
// write: into a new file beside it, which is synced, given the old file's
// mode and owner (see keepMode), and renamed over it, so that a reader of
// out sees the old file or the new one, never half of one, and a failure,
// write's included, leaves the old one. It returns write's error as it is.
//
// A symbolic link is followed: the file it names is replaced, and the
// link kept. A named pipe, a character device, or a path that names an
// open descriptor (/dev/stdout, /dev/fd/N, /proc/self/fd/N, whatever is
// behind it: a rename there would replace the file a shell redirected
// to) is written into as it is, and gets what was written when write
// fails; a directory or another kind of file is refused.
func replaceFileWith(out string, write func(io.Writer) error) error {
	if fi, err := os.Stat(out); err == nil && !fi.Mode().IsRegular() || namesDescriptor(out) {
		switch {
		case err != nil:
		case fi.IsDir():
			return fmt.Errorf("%s is a directory: name a file", out)
		case fi.Mode()&(fs.ModeNamedPipe|fs.ModeCharDevice) == 0 && !fi.Mode().IsRegular():
			return fmt.Errorf("%s is not a file, a named pipe or a character device: name a file", out)
		}
		return writeThrough(out, write)
	}
	out, err := followLinks(out)
	if err != nil {
		return err
	}
	file, err := createBeside(out)
	if pe, ok := err.(*fs.PathError); ok {
		// Named so, not by the hidden file beside it.
		return &fs.PathError{Op: "create", Path: out, Err: pe.Err}
	}
	if err != nil {
		return err
	}
	defer os.Remove(file.Name()) // fails harmlessly after the rename
	defer file.Close()
	if err := write(file); err != nil {
		return err
	}
	if err := keepMode(file, out); err != nil {
		return err
	}
	if err := file.Sync(); err != nil {
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	return os.Rename(file.Name(), out)
}

// followLinks returns the path of the file that out names once its
// symbolic links are followed, whether that file exists or not (a link
// may name a file not yet written), or out itself when it is no link.
func followLinks(out string) (string, error) {
	for range 40 { // as many links as Linux follows
		fi, err := os.Lstat(out)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return out, nil
		}
		target, err := os.Readlink(out)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			// Not filepath.Join, which would take a ".." of target back
			// over the link's directory as text: the kernel takes it back
			// over the directory the link's directory leads to.
			dir, _ := filepath.Split(out)
			target = dir + target
		}
		out = target
	}
	return "", &fs.PathError{Op: "follow", Path: out, Err: errors.New("too many levels of symbolic links")}
}

// standardFile returns os.Stdout or os.Stderr when path names it (as
// /dev/stdout, /dev/fd/1 or /proc/self/fd/1 does), and nil otherwise.
func standardFile(path string) *os.File {
	switch filepath.Clean(path) {
	case "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1":
		return os.Stdout
	case "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2":
		return os.Stderr
	}
	return nil
}

// namesDescriptor reports whether path names a descriptor the process
// has open, rather than a file: /dev/stdin, /dev/stdout, /dev/stderr,
// /dev/fd/N and /proc/self/fd/N (or another process's).
func namesDescriptor(path string) bool {
	path = filepath.Clean(path)
	switch {
	case path == "/dev/stdin", path == "/dev/stdout", path == "/dev/stderr", strings.HasPrefix(path, "/dev/fd/"):
		return true
	case strings.HasPrefix(path, "/proc/"):
		_, rest, _ := strings.Cut(path[len("/proc/"):], "/")
		return strings.HasPrefix(rest, "fd/")
	}
	return false
}

// writeThrough writes to what out names, which is not a file to replace,
// with write. The process's standard output and error are written to as
// they are open: opened again, a file that a shell appends them to (>>)
// would be written from its start.
func writeThrough(out string, write func(io.Writer) error) error {
	if f := standardFile(out); f != nil {
		return write(f)
	}
	f, err := os.OpenFile(out, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// createBeside creates a new, hidden file in the directory of out, to be
// renamed over it. Its mode is 0644 when the directory is readable by all
// and 0600 when it is not, less what the process's umask takes (as for
// any file a program creates: os.CreateTemp's 0600 would ignore a
// directory all may read, and a chmod to 0644 the umask).
func createBeside(out string) (*os.File, error) {
	// Not filepath.Join, which would take a ".." back over a linked
	// directory as text (see followLinks).
	dir, base := filepath.Split(out)
	if dir == "" {
		dir = "./"
	}
	mode := os.FileMode(0o600)
	if di, err := os.Stat(dir); err == nil && di.Mode().Perm()&0o004 != 0 {
		mode = 0o644
	}
	for range 100 {
		name := dir + "." + base + "." + strconv.FormatUint(rand.Uint64(), 36) + ".tmp"
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "create", Path: filepath.Join(dir, "."+base+".*.tmp"), Err: fs.ErrExist}
}

// keepMode gives file, the new file about to be renamed over out, the
// mode (and, where the process may, the owner) of the file out names, so
// that a file kept private stays private. A new file keeps the mode it was
// created with (see createBeside).
func keepMode(file *os.File, out string) error {
	fi, err := os.Stat(out)
	if err != nil {
		return nil // no file yet: nothing to keep
	}
	if err := file.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	chownLike(file, fi) // best effort: only root may give a file away
	return nil
}
