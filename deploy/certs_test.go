package deploy

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// certSet is a set of certificates made by `bookshop certs`.
type certSet struct {
	dir   string
	files []string // the names of the files it wrote, slash-separated paths in dir: "server.key", or "server/server.key" with -split
}

var certSets struct {
	sync.Mutex
	m map[string]*certSet
}

// certsFor returns the certificates that `bookshop certs -namespace ns DIR`
// makes, made once per namespace.
func certsFor(tb testing.TB, ns string) *certSet {
	tb.Helper()
	return certsMade(tb, ns, false)
}

// certsMade returns the certificates that `bookshop certs -namespace ns
// DIR` makes, with -split when split is true (a directory per holder),
// made once per namespace and layout.
func certsMade(tb testing.TB, ns string, split bool) *certSet {
	tb.Helper()
	certSets.Lock()
	defer certSets.Unlock()
	key, args := "certs-"+ns, []string{"certs", "-namespace", ns}
	if split {
		key, args = key+"-split", append(args, "-split")
	}
	if s, ok := certSets.m[key]; ok {
		return s
	}
	dir := filepath.Join(scratch, key)
	if res := runBookshop(tb, nil, append(args, dir)...); res.exitCode != 0 {
		tb.Fatalf("bookshop %s %s: exit status %d\n%s", strings.Join(args, " "), dir, res.exitCode, res.stderr)
	}
	s := &certSet{dir: dir}
	err := filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, name)
		s.files = append(s.files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	if certSets.m == nil {
		certSets.m = make(map[string]*certSet)
	}
	certSets.m[key] = s
	return s
}

// has reports whether the set has a file of that name.
func (s *certSet) has(name string) bool { return slices.Contains(s.files, name) }

// certificate returns the certificate in the file name of the set.
func (s *certSet) certificate(tb testing.TB, name string) *x509.Certificate {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(name)))
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		tb.Fatalf("%s: no PEM certificate", name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return cert
}

// identity returns the identity in a client certificate of the set, from
// its spiffe://bookshop/<identity> URI.
func (s *certSet) identity(tb testing.TB, name string) string {
	tb.Helper()
	for _, u := range s.certificate(tb, name).URIs {
		if u.Scheme == "spiffe" && u.Host == "bookshop" {
			return strings.TrimPrefix(u.Path, "/")
		}
	}
	tb.Fatalf("%s has no spiffe://bookshop/ identity", name)
	return ""
}

// usage reports whether the certificate in the file name is a leaf for
// usage (x509.ExtKeyUsageServerAuth or ClientAuth).
func (s *certSet) usage(tb testing.TB, name string, usage x509.ExtKeyUsage) bool {
	tb.Helper()
	c := s.certificate(tb, name)
	return !c.IsCA && slices.Contains(c.ExtKeyUsage, usage)
}

// issuer reports whether the file name holds the CA that signed the set.
func (s *certSet) isCA(tb testing.TB, name string) bool {
	tb.Helper()
	return s.certificate(tb, name).IsCA
}

// coversName reports whether the server certificate in the file name is
// valid for the host name.
func (s *certSet) coversName(tb testing.TB, name, host string) bool {
	tb.Helper()
	return s.certificate(tb, name).VerifyHostname(host) == nil
}

// certsCommand is a command line that runs `bookshop certs` (or `go run
// ./cmd/bookshop certs`), with its flags and the directory it writes, the
// last word.
var certsCommand = regexp.MustCompile(`^\s*(?:\$ +)?(?:go run \./cmd/|\./)?bookshop certs((?: +\S+)+)\s*$`)

// inlineCode is a Markdown code span.
var inlineCode = regexp.MustCompile("`([^`\n]+)`")

// codeOf returns the code of a Markdown document: each line of its fenced
// blocks, and each code span of the other lines.
func codeOf(doc string) []string {
	var code []string
	fenced := false
	for line := range strings.SplitSeq(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			code = append(code, line)
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			code = append(code, m[1])
		}
	}
	return code
}

// TestDocumentedCertsIgnored checks the directories that the documents'
// `bookshop certs DIR` commands write within the clone, such as
// docs/security.md's `go run ./cmd/bookshop certs certs` at its root: every
// file the command writes there, private keys among them, must be ignored
// by git and left out of the image's build context. A directory named by
// a variable ("$CERTS"), an absolute path (a container's /certs) or a
// placeholder (DIR) is not checked.
func TestDocumentedCertsIgnored(t *testing.T) {
	requireGit(t)
	set := certsFor(t, "bookshop")
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := make(map[string]string) // directory -> where a document names it
	for _, doc := range append(docs, filepath.Join(repoRoot, "README.md")) {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, doc)
		for _, line := range codeOf(string(data)) {
			m := certsCommand.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			words := strings.Fields(m[1])
			dir := words[len(words)-1]
			if strings.ContainsAny(dir[:1], `$"'/~-<[`) || dir == "DIR" {
				continue
			}
			dirs[path.Clean(dir)] = fmt.Sprintf("%s: %q", filepath.ToSlash(rel), strings.TrimSpace(line))
		}
	}
	if len(dirs) == 0 {
		t.Fatal("no document runs bookshop certs into a directory of the clone (docs/security.md did): is the pattern stale?")
	}
	for _, dir := range sortedKeys(dirs) {
		t.Logf("%s writes %s/", dirs[dir], dir)
		for _, f := range set.files {
			checkUncommitted(t, dirs[dir], path.Join(dir, f))
		}
	}
}
