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
// link kept. What is not a file (a named pipe, a device such as
// /dev/stdout) is written to as it is, since a rename would put a file
// in its place; a directory is refused.
func replaceFileWith(out string, write func(io.Writer) error) error {
	out, err := followLinks(out)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(out); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory: name a file", out)
		}
		return writeThrough(out, write)
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
			target = filepath.Join(filepath.Dir(out), target)
		}
		out = target
	}
	return "", &fs.PathError{Op: "follow", Path: out, Err: errors.New("too many levels of symbolic links")}
}

// writeThrough writes to what out names, which is not a file, with write.
func writeThrough(out string, write func(io.Writer) error) error {
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
	dir, base := filepath.Split(out)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o600)
	if di, err := os.Stat(dir); err == nil && di.Mode().Perm()&0o004 != 0 {
		mode = 0o644
	}
	for range 100 {
		name := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
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
