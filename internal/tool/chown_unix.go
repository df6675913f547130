//go:build unix

package tool

import (
	"os"
	"syscall"
)

// chownLike gives f the owner and group of the file fi describes, if the
// process may (root may; others may only keep their own): an error is
// ignored.
func chownLike(f *os.File, fi os.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		_ = f.Chown(int(st.Uid), int(st.Gid))
	}
}
