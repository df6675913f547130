package tool

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// maxCertDays bounds -days: a hundred years is more than anyone needs, and
// keeps the validity within a time.Duration.
const maxCertDays = 36500

// RunCerts is the `bookshop certs DIR` command: it makes a CA, a server
// certificate and a client certificate for each identity (see package
// certs), writes them into DIR, and lists what it wrote. It refuses to
// replace files DIR already holds unless given -force. With -split it
// writes a directory per holder (DIR/server, DIR/<identity>), each with
// the CA certificate and that holder's certificate and key alone, so that
// each can be given to its holder only (Compose mounts them one by one).
func RunCerts(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop certs DIR", "Makes a CA, a server certificate for every name a Bookshop server answers to\n(localhost, 127.0.0.1, ::1, the service names, and their Kubernetes names),\nand a client certificate for each identity, named spiffe://bookshop/<identity>,\nfor TLS and mutual TLS. Writes them into DIR, private keys readable by\ntheir owner only. The CA's key is not kept. For development and tests.", stderr)
	var (
		namespace  string
		identities string
		days       int
		force      bool
		keep       bool
		split      bool
	)
	fs.StringVar(&namespace, "namespace", certs.DefaultNamespace, "the Kubernetes namespace whose service names the server certificate covers")
	fs.StringVar(&identities, "identities", strings.Join(shopIdentities(), ","), "client identities, comma-separated: one client certificate each")
	fs.IntVar(&days, "days", 365, "how many days the certificates are valid")
	fs.BoolVar(&force, "force", false, "replace the files if DIR already holds them")
	fs.BoolVar(&split, "split", false, "write a directory per holder, DIR/server and DIR/<identity>, each with ca.crt and that holder's certificate and key only, rather than every file in DIR: to give each holder its own directory, such as Compose's volume subpaths")
	fs.BoolVar(&keep, "keep", false, "keep the set DIR already holds when it is complete and valid for 30 more days, else write a new one: for a job that runs at every start, such as Compose's certs service")
	dirs, err := parseFlagsAndArgs(fs, args, getenv, nil)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return usageErrorf("want one directory: bookshop certs DIR (got %d arguments)", len(dirs))
	}
	dir := dirs[0]
	if days < 1 || days > maxCertDays {
		return usageErrorf("-days %d: want a number of days from 1 to %d", days, maxCertDays)
	}
	var ids []string
	for id := range strings.SplitSeq(identities, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return usageErrorf("-identities %q: want at least one identity, such as marketplace", identities)
	}
	opts := certs.Options{
		Namespace:  namespace,
		Services:   shopNames(),
		Identities: ids,
		Validity:   time.Duration(days) * 24 * time.Hour,
		Overwrite:  force,
	}
	if err := opts.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	if keep && force {
		return usageErrorf("-keep and -force: choose one")
	}
	if keep {
		until, err := validSet(dir, split, ids, namespace, time.Now().Add(30*24*time.Hour))
		if err == nil {
			fmt.Fprintf(stdout, "Kept the certificates in %s, valid until %s.\n", dir, until.UTC().Format(time.DateOnly))
			return nil
		}
		fmt.Fprintf(stdout, "Making a new set: %v.\n", err)
		opts.Overwrite = true
	}

	set, err := certs.Generate(opts)
	if err != nil {
		return err
	}
	write, files := set.WriteDir, set.Files()
	if split {
		write, files = set.WriteSplitDir, set.SplitFiles()
	}
	if err := write(dir); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w; use -force to replace them", err)
		}
		return err
	}

	fmt.Fprintf(stdout, "Wrote a CA and certificates for TLS and mutual TLS to %s, valid until %s:\n",
		dir, set.CA.Certificate.NotAfter.UTC().Format(time.DateOnly))
	width := 0
	for _, f := range files {
		width = max(width, len(filepath.Join(dir, filepath.FromSlash(f.Name))))
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "  %-*s  %s\n", width, filepath.Join(dir, filepath.FromSlash(f.Name)), f.About)
	}
	// in returns the path of a file of holder ("server" or an identity).
	in := func(holder, name string) string { return certPath(dir, split, holder, name) }
	fmt.Fprintf(stdout, "The CA's private key was not kept: to add an identity, make a new set.\n"+
		"Servers:  -tls-cert %s -tls-key %s -tls-client-ca %s\n",
		in("server", "server.crt"), in("server", "server.key"), in("server", "ca.crt"))
	// How to use a client certificate, for an identity of each kind given:
	// a service that calls others, and the operators' tools.
	if i := slices.IndexFunc(ids, func(id string) bool { return id != rpc.IdentityAdmin }); i >= 0 {
		fmt.Fprintf(stdout, "Services that call others, as identity %s:  -tls-ca %s -tls-client-cert %s -tls-client-key %s\n",
			ids[i], in(ids[i], "ca.crt"), in(ids[i], ids[i]+".crt"), in(ids[i], ids[i]+".key"))
	}
	if slices.Contains(ids, rpc.IdentityAdmin) {
		fmt.Fprintf(stdout, "Tools (import, export, health, bench), as identity %s:  -tls-ca %s -tls-cert %s -tls-key %s\n",
			rpc.IdentityAdmin, in(rpc.IdentityAdmin, "ca.crt"), in(rpc.IdentityAdmin, rpc.IdentityAdmin+".crt"), in(rpc.IdentityAdmin, rpc.IdentityAdmin+".key"))
	}
	return nil
}

// certPath returns the path of the file name of holder ("server" or an
// identity) in a set that RunCerts wrote into dir: dir/name, or with
// split, dir/holder/name.
func certPath(dir string, split bool, holder, name string) string {
	if split {
		return filepath.Join(dir, holder, name)
	}
	return filepath.Join(dir, name)
}

// validSet checks that dir holds a set of certificates as RunCerts would
// write it, in the split layout or not: a CA, a server certificate for the
// names of namespace, and a client certificate for each identity, all
// signed by the CA, each with its key, and all valid until at least until.
// In the split layout every holder's directory must hold the same CA. It
// returns when the first of them expires.
func validSet(dir string, split bool, identities []string, namespace string, until time.Time) (time.Time, error) {
	var caPEM []byte
	roots := x509.NewCertPool()
	for _, holder := range append([]string{"server"}, identities...) {
		name := certPath(dir, split, holder, "ca.crt")
		data, err := os.ReadFile(name)
		if err != nil {
			return time.Time{}, fmt.Errorf("no CA certificate %s", name)
		}
		if caPEM == nil {
			caPEM = data
			if !roots.AppendCertsFromPEM(caPEM) {
				return time.Time{}, fmt.Errorf("%s holds no certificate", name)
			}
		} else if !bytes.Equal(data, caPEM) {
			return time.Time{}, fmt.Errorf("%s is not the CA of %s", name, certPath(dir, split, "server", "ca.crt"))
		}
	}
	expires := time.Time{}
	check := func(name string, usage x509.ExtKeyUsage, dnsName string) error {
		pair, err := tls.LoadX509KeyPair(certPath(dir, split, name, name+".crt"), certPath(dir, split, name, name+".key"))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		cert := pair.Leaf
		if cert == nil {
			if cert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: dnsName, CurrentTime: until,
			KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return fmt.Errorf("%s is not valid until %s: %w", name, until.UTC().Format(time.DateOnly), err)
		}
		if expires.IsZero() || cert.NotAfter.Before(expires) {
			expires = cert.NotAfter
		}
		return nil
	}
	for _, name := range certs.ServerDNSNames(namespace, shopNames()) {
		if err := check("server", x509.ExtKeyUsageServerAuth, name); err != nil {
			return time.Time{}, err
		}
	}
	for _, id := range identities {
		if err := check(id, x509.ExtKeyUsageClientAuth, ""); err != nil {
			return time.Time{}, err
		}
	}
	return expires, nil
}
