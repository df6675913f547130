package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// File is one file of a Set, as WriteDir or WriteSplitDir writes it.
type File struct {
	Name  string      // the path in the directory, slash-separated: "server.key", or "server/server.key" in the split layout
	About string      // what the file is, for people
	Data  []byte      // the PEM content
	Mode  fs.FileMode // 0644 for certificates, 0600 for private keys
}

// Files returns the files of s, in the order WriteDir writes them:
// ca.crt, server.crt and server.key, then <identity>.crt and
// <identity>.key for each client. The CA's key is not among them.
func (s *Set) Files() []File {
	files := []File{
		{"ca.crt", "the CA certificate, which servers and clients trust", s.CA.CertPEM, 0o644},
		{"server.crt", "the server certificate, for every Bookshop server", s.Server.CertPEM, 0o644},
		{"server.key", "the server certificate's private key", s.Server.KeyPEM, 0o600},
	}
	for _, c := range s.Clients {
		id, _ := IdentityOf(c.Certificate)
		files = append(files,
			File{id + ".crt", fmt.Sprintf("the client certificate of identity %q (%s)", id, IdentityURI(id)), c.CertPEM, 0o644},
			File{id + ".key", fmt.Sprintf("the private key of identity %q", id), c.KeyPEM, 0o600})
	}
	return files
}

// SplitFiles returns the files of s in the split layout, one directory
// per holder, each with the CA certificate and the holder's own
// certificate and key only: server/ca.crt, server/server.crt and
// server/server.key, then <identity>/ca.crt, <identity>/<identity>.crt and
// <identity>/<identity>.key for each client. A holder's directory can so
// be given to it alone (a Compose volume's subpath, say), and no other
// holder's key comes with it. The CA's key is not among them.
func (s *Set) SplitFiles() []File {
	files := s.Files() // ca.crt, then a certificate and its key for each holder
	var split []File
	for pair := range slices.Chunk(files[1:], 2) {
		holder := strings.TrimSuffix(pair[0].Name, ".crt")
		split = append(split, File{holder + "/ca.crt", files[0].About, files[0].Data, files[0].Mode})
		for _, f := range pair {
			f.Name = holder + "/" + f.Name
			split = append(split, f)
		}
	}
	return split
}

// WriteDir writes the files of s (see Files) into dir, creating dir if it
// does not exist. Each file is written under a temporary name, synced, and
// then moved into place, so that no one sees half a file; private keys are
// readable by their owner only (0600).
//
// Unless s was generated with Options.Overwrite, WriteDir writes nothing
// when any of the files already exists, and returns an error that wraps
// fs.ErrExist and names them; if it fails half-way, it removes the files it
// wrote. Other errors are those of the file system.
func (s *Set) WriteDir(dir string) error {
	return s.write(dir, s.Files())
}

// WriteSplitDir writes the files of s in the split layout (see SplitFiles)
// into dir, creating dir and its subdirectories if they do not exist, as
// WriteDir writes them, with the same errors.
func (s *Set) WriteSplitDir(dir string) error {
	return s.write(dir, s.SplitFiles())
}

// write writes files into dir, as WriteDir says.
func (s *Set) write(dir string, files []File) error {
	for _, f := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(path.Dir(f.Name))), 0o755); err != nil {
			return fmt.Errorf("write certificates: %w", err)
		}
	}
	if !s.overwrite {
		var existing []string
		for _, f := range files {
			_, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.Name)))
			if err == nil {
				existing = append(existing, f.Name)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("write certificates: %w", err)
			}
		}
		if len(existing) > 0 {
			return fmt.Errorf("write certificates: refusing to replace %s in %s: %w", strings.Join(existing, ", "), dir, fs.ErrExist)
		}
	}
	var written []string
	for _, f := range files {
		name := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := writeFile(name, f.Data, f.Mode, s.overwrite); err != nil {
			for _, p := range written {
				os.Remove(p)
			}
			return fmt.Errorf("write certificates: %w", err)
		}
		if !s.overwrite {
			written = append(written, name)
		}
	}
	return nil
}

// writeFile writes data to path with mode perm through a temporary file in
// the same directory. With overwrite it renames the file into place,
// replacing any file there; without, it links it into place, which fails
// if path exists, even if it was created a moment ago by someone else.
func writeFile(path string, data []byte, perm fs.FileMode, overwrite bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close() // a second Close after success only returns an error
		os.Remove(tmp.Name())
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if overwrite {
		return os.Rename(tmp.Name(), path)
	}
	return os.Link(tmp.Name(), path)
}
