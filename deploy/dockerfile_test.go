package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// dockerfile is the Dockerfile at the root of the repository, parsed by
// BuildKit's parser.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	warnings []string // BuildKit's checks that the file fails
}

func parseDockerfile() (*dockerfile, error) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	df := &dockerfile{}
	for _, w := range res.Warnings {
		df.warnings = append(df.warnings, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		df.warnings = append(df.warnings, fmt.Sprintf("line %d: %s: %s", line, rule, msg))
	}})
	if df.stages, df.metaArgs, err = instructions.Parse(res.AST, lint); err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	if len(df.stages) == 0 {
		return nil, fmt.Errorf("the Dockerfile has no FROM")
	}
	return df, nil
}

func mustParseDockerfile(tb testing.TB) *dockerfile {
	tb.Helper()
	df, err := parseDockerfile()
	if err != nil {
		tb.Fatal(err)
	}
	return df
}

func (df *dockerfile) final() *instructions.Stage { return &df.stages[len(df.stages)-1] }

func (df *dockerfile) stage(name string) *instructions.Stage {
	for i := range df.stages {
		if df.stages[i].Name == name {
			return &df.stages[i]
		}
	}
	return nil
}

// entrypoint returns the final stage's ENTRYPOINT, which must be in exec
// form.
func (df *dockerfile) entrypoint() ([]string, error) {
	var ep *instructions.EntrypointCommand
	for _, c := range df.final().Commands {
		if e, ok := c.(*instructions.EntrypointCommand); ok {
			ep = e
		}
	}
	switch {
	case ep == nil:
		return nil, fmt.Errorf("the final stage has no ENTRYPOINT")
	case ep.PrependShell:
		return nil, fmt.Errorf("ENTRYPOINT %s is in shell form, and distroless has no shell: write it as a JSON array", ep.CmdLine)
	}
	return ep.CmdLine, nil
}

// binary returns the path of the binary that the final stage runs, and
// the COPY that puts it there.
func (df *dockerfile) binary() (string, *instructions.CopyCommand, error) {
	ep, err := df.entrypoint()
	if err != nil {
		return "", nil, err
	}
	for _, c := range df.final().Commands {
		if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" && len(cp.SourcePaths) == 1 && path.Clean(cp.DestPath) == ep[0] {
			return ep[0], cp, nil
		}
	}
	return "", nil, fmt.Errorf("no COPY --from=STAGE in the final stage puts the ENTRYPOINT, %s, in place", ep[0])
}

// buildCommand is the RUN of the build stage that makes the binaries:
// its environment and its command's words, as the shell would split them.
type buildCommand struct {
	stage *instructions.Stage
	env   map[string]string // the stage's ARG and ENV, the RUN's own assignments, TARGETOS/TARGETARCH of this machine
	words []string          // "go", "build", ...
	out   string            // the value of -o: a file, or a directory (DIR/) for several packages
	outAt int               // the index in words of the word that holds it
	// outputs are the binaries it writes, by their path in the stage: the
	// package that each is built from.
	outputs map[string]string
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// goBuildValueFlags are the flags of go build that take their value as
// the next word when not written -flag=value.
var goBuildValueFlags = []string{"C", "o", "p", "asmflags", "buildmode", "compiler", "covermode", "coverpkg", "gccgoflags", "gcflags",
	"installsuffix", "ldflags", "mod", "modfile", "overlay", "pgo", "pkgdir", "tags", "toolexec"}

// goBuildOutputs reads the words of a go build after "go build", run in
// workdir: the value of -o and where it is among args, and the binaries
// it writes, by their path, with the package of each. With -o DIR/ (a
// slash at the end), go build writes each package's binary into DIR,
// named as the last element of the package's path; with -o FILE, its one
// package's binary to FILE.
func goBuildOutputs(args []string, workdir string) (out string, outAt int, outputs map[string]string, err error) {
	outAt = -1
	var pkgs []string
	for i := 0; i < len(args); i++ {
		w := args[i]
		if !strings.HasPrefix(w, "-") {
			pkgs = append(pkgs, w)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
		switch {
		case name == "o" && hasVal:
			out, outAt = val, i
		case name == "o" && i+1 < len(args):
			out, outAt = args[i+1], i+1
			i++
		case !hasVal && slices.Contains(goBuildValueFlags, name):
			i++ // its value
		}
	}
	if outAt < 0 {
		return "", -1, nil, fmt.Errorf("go build %s: no -o", strings.Join(args, " "))
	}
	if len(pkgs) == 0 {
		return "", -1, nil, fmt.Errorf("go build %s: no package", strings.Join(args, " "))
	}
	dest := out
	if !path.IsAbs(dest) {
		dest = path.Join(workdir, dest)
	}
	outputs = make(map[string]string)
	for _, pkg := range pkgs {
		if strings.Contains(pkg, "...") {
			return "", -1, nil, fmt.Errorf("go build %s: the test follows no package pattern (%s)", strings.Join(args, " "), pkg)
		}
		switch {
		case strings.HasSuffix(out, "/"):
			outputs[path.Join(dest, path.Base(pkg))] = pkg
		case len(pkgs) == 1:
			outputs[path.Clean(dest)] = pkg
		default:
			return "", -1, nil, fmt.Errorf("go build %s: -o %s with several packages: write -o DIR/, a directory", strings.Join(args, " "), out)
		}
	}
	return out, outAt, outputs, nil
}

// buildCommand finds the RUN that writes the binary the final stage's
// ENTRYPOINT runs (see binary).
func (df *dockerfile) buildCommand() (*buildCommand, error) {
	_, cp, err := df.binary()
	if err != nil {
		return nil, err
	}
	src := path.Clean(cp.SourcePaths[0])
	st := df.stage(cp.From)
	if st == nil {
		return nil, fmt.Errorf("COPY --from=%s: no stage of that name", cp.From)
	}
	env := map[string]string{"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH, "BUILDPLATFORM": runtime.GOOS + "/" + runtime.GOARCH}
	for _, a := range df.metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				env[kv.Key] = *kv.Value
			}
		}
	}
	lex := shell.NewLex('\\')
	workdir := "/"
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.WorkdirCommand:
			workdir = path.Join(workdir, c.Path)
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if _, set := env[kv.Key]; !set && kv.Value != nil {
					env[kv.Key] = *kv.Value
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env[kv.Key] = kv.Value
			}
		case *instructions.RunCommand:
			if !c.PrependShell || len(c.CmdLine) != 1 {
				continue
			}
			words, err := lex.ProcessWords(c.CmdLine[0], shell.EnvsFromSlice(envSlice(env)))
			if err != nil {
				return nil, fmt.Errorf("RUN %s: %w", c.CmdLine[0], err)
			}
			runEnv := maps.Clone(env)
			for len(words) > 0 && assignment.MatchString(words[0]) {
				k, v, _ := strings.Cut(words[0], "=")
				runEnv[k] = v
				words = words[1:]
			}
			if len(words) < 2 || words[0] != "go" || words[1] != "build" {
				if i := slices.Index(words, "-o"); i >= 0 && i+1 < len(words) && path.Clean(words[i+1]) == src {
					return nil, fmt.Errorf("%s is made by %q, not go build", src, words)
				}
				continue
			}
			out, outAt, outputs, err := goBuildOutputs(words[2:], workdir)
			if err != nil {
				return nil, fmt.Errorf("RUN %s: %w", c.CmdLine[0], err)
			}
			if _, ok := outputs[src]; !ok {
				continue
			}
			return &buildCommand{stage: st, env: runEnv, words: words, out: out, outAt: outAt + 2, outputs: outputs}, nil
		}
	}
	return nil, fmt.Errorf("no RUN in stage %s writes %s with go build -o", cp.From, src)
}

// binaryCopy is a binary of the image: where the final stage puts it, the
// COPY that does, and what the build command writes it from.
type binaryCopy struct {
	path string // in the image: /bookshop, /recommendations
	src  string // in the build stage: /out/bookshop
	pkg  string // the package: ./cmd/bookshop
	cp   *instructions.CopyCommand
}

// binaries returns the build command and the binaries that the image
// holds: what the final stage copies of what the build command writes,
// by their path in the image. The ENTRYPOINT's (see binary) is one.
func (df *dockerfile) binaries() (*buildCommand, []binaryCopy, error) {
	bc, err := df.buildCommand()
	if err != nil {
		return nil, nil, err
	}
	var bins []binaryCopy
	for _, c := range df.final().Commands {
		cp, ok := c.(*instructions.CopyCommand)
		if !ok || cp.From != bc.stage.Name {
			continue
		}
		intoDir := strings.HasSuffix(cp.DestPath, "/") || len(cp.SourcePaths) > 1
		for _, src := range cp.SourcePaths {
			pkg, ok := bc.outputs[path.Clean(src)]
			if !ok {
				continue
			}
			dest := path.Clean(cp.DestPath)
			if intoDir {
				dest = path.Join(cp.DestPath, path.Base(src))
			}
			if slices.ContainsFunc(bins, func(b binaryCopy) bool { return b.path == dest }) {
				return nil, nil, fmt.Errorf("the final stage copies %s twice", dest)
			}
			bins = append(bins, binaryCopy{path: dest, src: path.Clean(src), pkg: pkg, cp: cp})
		}
	}
	slices.SortFunc(bins, func(a, b binaryCopy) int { return strings.Compare(a.path, b.path) })
	return bc, bins, nil
}

func envSlice(m map[string]string) []string {
	var s []string
	for k, v := range m {
		s = append(s, k+"="+v)
	}
	return s
}

// dockerignore is the .dockerignore at the root of the repository.
func dockerignore() (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return patternmatcher.New(patterns)
}

// copyContext copies the build context, the repository less what
// .dockerignore leaves out, to dir.
func copyContext(dir string) error {
	pm, err := dockerignore()
	if err != nil {
		return err
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if excluded && !mayReinclude(pm, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if excluded || !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, filepath.Join(dir, filepath.FromSlash(rel)))
	})
}

// mayReinclude reports whether a "!" pattern could let back in something
// under the excluded directory dir.
func mayReinclude(pm *patternmatcher.PatternMatcher, dir string) bool {
	for _, p := range pm.Patterns() {
		if p.Exclusion() && (strings.HasPrefix(p.String(), dir+"/") || strings.TrimSuffix(p.String(), "/") == dir) {
			return true
		}
	}
	return false
}

func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// copyInto does what `COPY src... dest` does in the build stage, for the
// plain forms the Dockerfile uses: each source is a file or a directory of
// the context (a directory's contents are copied), dest is relative to
// workdir unless absolute.
func copyInto(contextDir, root, workdir string, cp *instructions.CopyCommand) error {
	dest := cp.DestPath
	if !path.IsAbs(dest) {
		dest = path.Join(workdir, dest)
	}
	intoDir := strings.HasSuffix(cp.DestPath, "/") || cp.DestPath == "." || len(cp.SourcePaths) > 1
	for _, src := range cp.SourcePaths {
		if strings.ContainsAny(src, "*?[") {
			return fmt.Errorf("COPY %s: the test copies no patterns", src)
		}
		from := filepath.Join(contextDir, filepath.FromSlash(src))
		info, err := os.Stat(from)
		if err != nil {
			return fmt.Errorf("COPY %s: not in the build context (.dockerignore?): %w", src, err)
		}
		to := filepath.Join(root, filepath.FromSlash(dest))
		if !info.IsDir() {
			if intoDir {
				to = filepath.Join(to, filepath.Base(from))
			}
			if err := copyFile(from, to); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(from, p)
			if err != nil {
				return err
			}
			return copyFile(p, filepath.Join(to, rel))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// buildAsDockerfile builds the image's binaries as the Dockerfile's
// build stage does, into dir, and returns where each is, by its path in
// the image (see binaries): it copies the build context that .dockerignore
// leaves, does the stage's WORKDIR and COPY instructions in a directory
// that stands for the stage's root, and runs the RUN that writes the
// binaries the final stage copies, with that RUN's environment, flags and
// packages (only its -o is changed: a directory of dir for a directory).
// The Go toolchain is this machine's, not the golang image's.
func buildAsDockerfile(dir string) (map[string]string, error) {
	df, err := parseDockerfile()
	if err != nil {
		return nil, err
	}
	bc, bins, err := df.binaries()
	if err != nil {
		return nil, err
	}
	contextDir, root := filepath.Join(dir, "context"), filepath.Join(dir, "root")
	if err := copyContext(contextDir); err != nil {
		return nil, fmt.Errorf("copy the build context: %w", err)
	}
	workdir := "/"
	for _, c := range bc.stage.Commands {
		switch c := c.(type) {
		case *instructions.WorkdirCommand:
			workdir = path.Join(workdir, c.Path)
		case *instructions.CopyCommand:
			if c.From != "" {
				return nil, fmt.Errorf("COPY --from in the build stage: the test does not follow it")
			}
			if err := copyInto(contextDir, root, workdir, c); err != nil {
				return nil, err
			}
		}
	}
	// The -o here, and where the binary that the stage writes to src is
	// written here.
	outHere := filepath.Join(dir, path.Base(bc.out))
	local := func(src string) string { return filepath.Join(dir, path.Base(src)) }
	if strings.HasSuffix(bc.out, "/") {
		outHere = filepath.Join(dir, "out") + string(filepath.Separator)
		local = func(src string) string { return filepath.Join(dir, "out", path.Base(src)) }
	}
	args := slices.Clone(bc.words[1:])
	if w := bc.words[bc.outAt]; strings.HasPrefix(w, "-") { // -o=VALUE
		args[bc.outAt-1] = w[:strings.Index(w, "=")+1] + outHere
	} else {
		args[bc.outAt-1] = outHere
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(root, filepath.FromSlash(workdir))
	cmd.Env = os.Environ()
	for _, k := range []string{"CGO_ENABLED", "GOOS", "GOARCH", "GOFLAGS", "GOEXPERIMENT", "GOAMD64", "GOARM64"} {
		if v, ok := bc.env[k]; ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s in %s: %w\n%s", strings.Join(bc.words, " "), workdir, err, out)
	}
	built := make(map[string]string)
	for _, b := range bins {
		built[b.path] = local(b.src)
		if _, err := os.Stat(built[b.path]); err != nil {
			return nil, fmt.Errorf("%s wrote no %s for %s: %w", strings.Join(bc.words, " "), b.src, b.path, err)
		}
	}
	return built, nil
}

// TestDockerfile checks the image: built in a stage of its own, with the
// binaries static, and run from distroless static (or scratch) as a user
// that is not root, with nothing in it but the binaries.
func TestDockerfile(t *testing.T) {
	df := mustParseDockerfile(t)
	for _, w := range df.warnings {
		t.Errorf("BuildKit's checks: %s", w)
	}
	final := df.final()

	t.Run("final stage is distroless static or scratch", func(t *testing.T) {
		base := final.BaseName
		if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
			t.Errorf("final FROM %s, want gcr.io/distroless/static-... or scratch", base)
		}
		if len(df.stages) < 2 {
			t.Errorf("%d stage, want a build stage and a final one", len(df.stages))
		}
		for _, c := range final.Commands {
			switch c := c.(type) {
			case *instructions.RunCommand:
				t.Errorf("RUN %s in the final stage: it has no shell, and the image should hold only the binaries", c.CmdLine)
			case *instructions.AddCommand:
				t.Errorf("ADD %s in the final stage: copy only the binaries, from the build stage", c.SourcePaths)
			case *instructions.CopyCommand:
				if c.From == "" {
					t.Errorf("COPY %s %s in the final stage copies from the build context: copy only from the build stage", c.SourcePaths, c.DestPath)
				}
			}
		}
	})

	t.Run("non-root numeric USER", func(t *testing.T) {
		var user string
		for _, c := range final.Commands {
			if u, ok := c.(*instructions.UserCommand); ok {
				user = u.User
			}
		}
		uid, _, _ := strings.Cut(user, ":")
		n, err := strconv.Atoi(uid)
		switch {
		case user == "":
			t.Errorf("the final stage has no USER: the image would run as root")
		case err != nil:
			t.Errorf("USER %s: want a numeric uid (such as 65532:65532), which Kubernetes' runAsNonRoot can check", user)
		case n == 0:
			t.Errorf("USER %s is root", user)
		}
	})

	t.Run("ENTRYPOINT is the binary built in the build stage", func(t *testing.T) {
		bin, cp, err := df.binary()
		if err != nil {
			t.Fatal(err)
		}
		if cp.Chown != "" {
			t.Errorf("COPY --chown=%s %s: the binary should belong to root, so that the user cannot change it", cp.Chown, bin)
		}
		bc, err := df.buildCommand()
		if err != nil {
			t.Fatal(err)
		}
		if got := bc.env["CGO_ENABLED"]; got != "0" {
			t.Errorf("the build of %s has CGO_ENABLED=%q, want 0 (a static binary for distroless static)", bin, got)
		}
		if !slices.Contains(bc.words, "-trimpath") {
			t.Errorf("the build %q has no -trimpath", bc.words)
		}
		if pkg := bc.outputs[path.Clean(cp.SourcePaths[0])]; pkg != "./cmd/bookshop" {
			t.Errorf("the build makes %s of %s, want of ./cmd/bookshop, the binary of every command", bin, pkg)
		}
	})

	// Beside it, the image may hold services' own binaries, from the same
	// build: /NAME, the binary of ./cmd/NAME, which runs the service that
	// `bookshop NAME` runs (TestImageServiceBinaries holds them to the same
	// flags), and which a container may name as its entrypoint.
	t.Run("the other binaries are services' own, built alike", func(t *testing.T) {
		bin, _, err := df.binary()
		if err != nil {
			t.Fatal(err)
		}
		_, bins, err := df.binaries()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bins {
			if b.path == bin {
				continue
			}
			if b.cp.Chown != "" {
				t.Errorf("COPY --chown=%s %s: the binary should belong to root, so that the user cannot change it", b.cp.Chown, b.path)
			}
			if want := "./cmd/" + path.Base(b.path); b.pkg != want || path.Dir(b.path) != "/" {
				t.Errorf("the image's %s is built from %s: want /NAME built from ./cmd/NAME, a service's own command", b.path, b.pkg)
			}
		}
	})

	t.Run("no secrets copied", func(t *testing.T) {
		secret := regexp.MustCompile(`(?i)(\.key|\.pem|\.p12|\.pfx|\.crt|(^|/)\.env[^/]*|(^|/)certs?(/|$)|id_rsa|\.db)$`)
		for _, st := range df.stages {
			for _, c := range st.Commands {
				var srcs []string
				switch c := c.(type) {
				case *instructions.CopyCommand:
					if c.From != "" {
						continue
					}
					srcs = c.SourcePaths
				case *instructions.AddCommand:
					srcs = c.SourcePaths
					for _, s := range srcs {
						if strings.Contains(s, "://") {
							t.Errorf("ADD %s: a download at build time; copy from the context, or pin it in a stage", s)
						}
					}
				}
				for _, s := range srcs {
					if secret.MatchString(path.Clean(s)) || s == "." || s == "./" {
						t.Errorf("stage %s copies %s from the context: no keys, certificates, .env or whole context", st.Name, s)
					}
				}
			}
		}
	})

	t.Run("EXPOSE the services' default ports", func(t *testing.T) {
		var exposed []string
		for _, c := range final.Commands {
			if e, ok := c.(*instructions.ExposeCommand); ok {
				exposed = append(exposed, e.Ports...)
			}
		}
		want := []string{
			commandOf(t, "marketplace").flags["port"].Default,
			commandOf(t, "recommendations").flags["port"].Default,
			commandOf(t, "catalog").flags["port"].Default,
		}
		for _, p := range want {
			if !slices.Contains(exposed, p) {
				t.Errorf("EXPOSE %s, want the default ports %s among them", strings.Join(exposed, " "), strings.Join(want, " "))
			}
		}
	})
}

// TestDockerignore checks that the build context holds what the build
// needs and nothing secret.
func TestDockerignore(t *testing.T) {
	pm, err := dockerignore()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		".git/config", ".env", "deploy/.env", "certs/server.key", "certs/ca.crt", "internal/x/tls.pem",
		"bookshop.db", "bookshop.db-wal", "bin/buf", "deploy/k8s/base/kustomization.yaml",
		"internal/catalog/catalogfile/testdata/x.csv", "internal/tool/cli_test.go",
	} {
		if excluded, err := pm.MatchesOrParentMatches(p); err != nil || !excluded {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/bookshop/main.go", "internal/catalog/catalogfile/books.csv", "internal/marketplace/templates/x.html"} {
		if excluded, err := pm.MatchesOrParentMatches(p); err != nil || excluded {
			t.Errorf(".dockerignore keeps %s, which the build needs, out of the build context", p)
		}
	}
}

// TestImageBinary builds the image's binaries as the Dockerfile does, from
// the context .dockerignore leaves (see buildAsDockerfile), and checks
// that each is static. Their size is most of the image's.
func TestImageBinary(t *testing.T) {
	bins := imageBinaries(t)
	for _, name := range sortedKeys(bins) {
		t.Run(strings.TrimPrefix(name, "/"), func(t *testing.T) {
			bin := bins[name]
			f, err := elf.Open(bin)
			if err != nil {
				t.Skipf("not an ELF binary on %s: %v", runtime.GOOS, err)
			}
			defer f.Close()
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("%s has a program interpreter: it is dynamically linked, and distroless static has no C library", name)
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("%s needs the shared libraries %s", name, libs)
			}
			info, err := os.Stat(bin)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s is %.1f MB (%d bytes), built with %s", name, float64(info.Size())/1e6, info.Size(), runtime.Version())
		})
	}
}

// TestImageServiceBinaries checks that each binary of the image other than
// the ENTRYPOINT's, /NAME, is `bookshop NAME`, so that the tests may check
// a container that runs it as one that runs `bookshop NAME`: NAME is a
// command of bookshop (not a group of them), and `NAME -h`, run from the
// binary built as the Dockerfile builds it, lists exactly the flags of
// `bookshop NAME -h`, with the same types, defaults, environment
// variables and usage.
func TestImageServiceBinaries(t *testing.T) {
	for _, bin := range serviceBinaries(t) {
		t.Run(strings.TrimPrefix(bin, "/"), func(t *testing.T) {
			name := path.Base(bin)
			cmdPath, _ := commandPath(t, []string{name})
			want := commandOf(t, cmdPath...)
			res := runBinary(t, bin, nil, "-h")
			if res.exitCode != 0 {
				t.Fatalf("%s -h: exit status %d\n%s%s", bin, res.exitCode, res.stdout, res.stderr)
			}
			if strings.Contains(res.stdout, "Commands:") {
				t.Errorf("%s -h lists commands: want one service's flags\n%s", bin, res.stdout)
			}
			got, err := parseHelp([]string{name}, res.stderr)
			if err != nil {
				t.Fatalf("%s -h: %v\n%s", bin, err, res.stderr)
			}
			for _, f := range sortedKeys(want.flags) {
				g, ok := got.flags[f]
				switch {
				case !ok:
					t.Errorf("%s has no -%s, which %s has: %+v", bin, f, want, want.flags[f])
				case !reflect.DeepEqual(g, want.flags[f]):
					t.Errorf("%s -%s:\n%+v\n%s -%s:\n%+v", bin, f, g, want, f, want.flags[f])
				}
			}
			for _, f := range sortedKeys(got.flags) {
				if _, ok := want.flags[f]; !ok {
					t.Errorf("%s has -%s, which %s has not: %+v", bin, f, want, got.flags[f])
				}
			}
		})
	}
}
