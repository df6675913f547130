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

// buildCommand is the RUN of the build stage that makes the binary:
// its environment and its command's words, as the shell would split them.
type buildCommand struct {
	stage *instructions.Stage
	env   map[string]string // the stage's ARG and ENV, the RUN's own assignments, TARGETOS/TARGETARCH of this machine
	words []string          // "go", "build", ...
	out   string            // the value of -o
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// buildCommand finds the RUN that writes the binary the final stage copies.
func (df *dockerfile) buildCommand() (*buildCommand, error) {
	_, cp, err := df.binary()
	if err != nil {
		return nil, err
	}
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
	for _, c := range st.Commands {
		switch c := c.(type) {
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
			i := slices.Index(words, "-o")
			if i < 0 || i+1 >= len(words) || words[i+1] != cp.SourcePaths[0] {
				continue
			}
			bc := &buildCommand{stage: st, env: maps.Clone(env), out: words[i+1]}
			for len(words) > 0 && assignment.MatchString(words[0]) {
				k, v, _ := strings.Cut(words[0], "=")
				bc.env[k] = v
				words = words[1:]
			}
			bc.words = words
			return bc, nil
		}
	}
	return nil, fmt.Errorf("no RUN in stage %s writes %s with -o", cp.From, cp.SourcePaths[0])
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

// buildAsDockerfile builds the binary as the Dockerfile's build stage
// does, into dir, and returns its path: it copies the build context that
// .dockerignore leaves, does the stage's WORKDIR and COPY instructions
// in a directory that stands for the stage's root, and runs the RUN that
// writes the binary the final stage copies, with that RUN's environment
// and flags (only its -o is changed). The Go toolchain is this machine's,
// not the golang image's.
func buildAsDockerfile(dir string) (string, error) {
	df, err := parseDockerfile()
	if err != nil {
		return "", err
	}
	bc, err := df.buildCommand()
	if err != nil {
		return "", err
	}
	contextDir, root := filepath.Join(dir, "context"), filepath.Join(dir, "root")
	if err := copyContext(contextDir); err != nil {
		return "", fmt.Errorf("copy the build context: %w", err)
	}
	workdir := "/"
	for _, c := range bc.stage.Commands {
		switch c := c.(type) {
		case *instructions.WorkdirCommand:
			workdir = path.Join(workdir, c.Path)
		case *instructions.CopyCommand:
			if c.From != "" {
				return "", fmt.Errorf("COPY --from in the build stage: the test does not follow it")
			}
			if err := copyInto(contextDir, root, workdir, c); err != nil {
				return "", err
			}
		}
	}
	if bc.words[0] != "go" || len(bc.words) < 2 || bc.words[1] != "build" {
		return "", fmt.Errorf("the binary is made by %q, not go build", bc.words)
	}
	bin := filepath.Join(dir, "bookshop")
	args := slices.Clone(bc.words[1:])
	args[slices.Index(args, "-o")+1] = bin
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
		return "", fmt.Errorf("%s in %s: %w\n%s", strings.Join(bc.words, " "), workdir, err, out)
	}
	return bin, nil
}

// TestDockerfile checks the image: built in a stage of its own, with the
// binary static, and run from distroless static (or scratch) as a user
// that is not root, with nothing in it but the binary.
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
				t.Errorf("RUN %s in the final stage: it has no shell, and the image should hold only the binary", c.CmdLine)
			case *instructions.AddCommand:
				t.Errorf("ADD %s in the final stage: copy only the binary, from the build stage", c.SourcePaths)
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
		if pkg := bc.words[len(bc.words)-1]; pkg != "./cmd/bookshop" {
			t.Errorf("the build makes %s, want ./cmd/bookshop, the binary of every command", pkg)
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

// TestImageBinary builds the binary as the Dockerfile does, from the
// context .dockerignore leaves (see buildAsDockerfile), and checks that it
// is static. Its size is most of the image's.
func TestImageBinary(t *testing.T) {
	bin := bookshopBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Skipf("not an ELF binary on %s: %v", runtime.GOOS, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: it is dynamically linked, and distroless static has no C library", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs the shared libraries %s", bin, libs)
	}
	info, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the binary is %.1f MB (%d bytes), built with %s", float64(info.Size())/1e6, info.Size(), runtime.Version())
}
