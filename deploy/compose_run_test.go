package deploy

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
)

// TestComposeRunsOnLoopback runs the services of compose.yaml as processes
// of the image's binaries, in the order their depends_on gives, each with
// the binary it runs (bookshop, or the service's own that its entrypoint
// names), its command and environment, and waits for each as Compose
// would: the one-shot certs to exit 0, each server's health check, run as Compose
// runs it, to pass. With no engine, three things differ: a directory
// stands for each volume (and its subdirectory for a mount of a volume's
// subpath, which must exist when the service starts, as Docker requires;
// read_only is not enforced), each server gets free loopback ports (given as
// flags, which win over its environment), and a name that the Compose
// network resolves is replaced by the loopback address of the first
// service that answers to it. Then a page of the Marketplace must carry
// books, from Recommendations and the Catalog over mutual TLS (the
// Recommendations replicas healthy only once they have the Catalog's
// books), the admin service must export the catalog from the Catalog,
// and the admin ports (ADMIN_ADDR) must serve every metric that the
// Grafana dashboards show.
func TestComposeRunsOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	runComposeOnLoopback(t, loadCompose(t), nil)
}

// runComposeOnLoopback runs the services of p that run the image's
// binaries as TestComposeRunsOnLoopback says. A service of another image
// (such as compose.postgres.yaml's PostgreSQL) is not started: the caller stands in
// for it, and rewrite, unless nil, is given every word of the commands and
// environments first, and returns the word that replaces it, or false to
// leave it to the rewrites above.
func runComposeOnLoopback(t *testing.T, p *types.Project, rewrite func(word string) (string, bool)) {
	services := composeServices(t, p)
	byName := make(map[string]*composeService)
	for _, s := range services {
		byName[s.name] = s
	}
	volumes := make(map[string]string) // volume -> the directory that stands for it
	for name := range p.Volumes {
		volumes[name] = filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(volumes[name], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// mounted returns the directory that stands for what v mounts: the
	// volume's, or with a subpath, its subdirectory.
	mounted := func(v types.ServiceVolumeConfig) string {
		if v.Volume != nil && v.Volume.Subpath != "" {
			return filepath.Join(volumes[v.Source], filepath.FromSlash(v.Volume.Subpath))
		}
		return volumes[v.Source]
	}
	ports := make(map[string]map[string]string) // service -> its port -> the port it gets here
	for _, s := range services {
		ports[s.name] = make(map[string]string)
		for _, port := range s.listenPorts(t) {
			ports[s.name][port] = freePort(t)
		}
	}

	// local rewrites one word of a service's command or environment.
	local := func(s *composeService, word string) string {
		if rewrite != nil {
			if w, ok := rewrite(word); ok {
				return w
			}
		}
		for _, v := range s.svc.Volumes {
			if v.Type == types.VolumeTypeVolume && (word == v.Target || strings.HasPrefix(word, v.Target+"/")) {
				return mounted(v) + strings.TrimPrefix(word, v.Target)
			}
		}
		if u, err := url.Parse(word); err == nil && u.Scheme == "dns" {
			host, port, err := net.SplitHostPort(strings.TrimPrefix(u.Path, "/"))
			if err == nil {
				for _, other := range services {
					if slices.Contains(other.names(), host) && ports[other.name][port] != "" {
						return "localhost:" + ports[other.name][port]
					}
				}
			}
		}
		// NAME:PORT, a service that the Compose network resolves.
		if host, port, err := net.SplitHostPort(word); err == nil && host != "" && host != "localhost" {
			for _, other := range services {
				if slices.Contains(other.names(), host) && ports[other.name][port] != "" {
					return "localhost:" + ports[other.name][port]
				}
			}
		}
		if u, err := url.Parse(word); err == nil && u.Scheme == "http" && u.Hostname() == "localhost" && ports[s.name][u.Port()] != "" {
			u.Host = "localhost:" + ports[s.name][u.Port()]
			return u.String()
		}
		if host, port, err := net.SplitHostPort(word); err == nil && host == "localhost" && ports[s.name][port] != "" {
			return "localhost:" + ports[s.name][port]
		}
		return word
	}
	envOf := func(s *composeService) map[string]string {
		env := make(map[string]string)
		for k, v := range s.env {
			env[k] = local(s, v)
		}
		return env
	}
	argsOf := func(s *composeService, words []string) []string {
		var args []string
		for _, w := range words {
			args = append(args, local(s, w))
		}
		return args
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	procs := make(map[string]*process)
	t.Cleanup(func() {
		for _, name := range sortedKeys(procs) {
			if procs[name].exited() {
				continue // a one-shot, or reported already
			}
			if err := procs[name].stop(); err != nil {
				t.Errorf("service %s after SIGTERM: %v (want a graceful stop, exit status 0)\n%s", name, err, procs[name].log())
			}
		}
	})

	var start func(name string)
	start = func(name string) {
		s := byName[name]
		if _, ok := procs[name]; ok || len(s.svc.Profiles) > 0 { // profiles: not started by docker compose up
			return
		}
		for _, dep := range sortedKeys(s.svc.DependsOn) {
			if byName[dep] == nil {
				continue // another image's: the caller stands in for it
			}
			start(dep)
			switch cond := s.svc.DependsOn[dep].Condition; cond {
			case types.ServiceConditionCompletedSuccessfully:
				if err := procs[dep].wait(ctx); err != nil {
					t.Fatalf("service %s: %v\n%s", dep, err, procs[dep].log())
				}
			case types.ServiceConditionHealthy:
				d := byName[dep]
				procs[dep].waitHealthy(ctx, t, d.svc.HealthCheck, argsOf(d, d.svc.HealthCheck.Test[2:]), envOf(d))
			}
		}
		for _, v := range s.svc.Volumes {
			if v.Type != types.VolumeTypeVolume || v.Volume == nil || v.Volume.Subpath == "" {
				continue
			}
			if info, err := os.Stat(mounted(v)); err != nil || !info.IsDir() {
				t.Fatalf("service %s mounts %s of the volume %s, which holds no such directory when it starts: Docker would refuse to start it (%v)",
					name, v.Volume.Subpath, v.Source, err)
			}
		}
		args := argsOf(s, s.argv)
		for _, l := range s.listeners(t) {
			if l.flag == "port" {
				args = append(args, "-port", ports[name][l.port])
			} else {
				args = append(args, "-"+l.flag, "127.0.0.1:"+ports[name][l.port])
			}
		}
		procs[name] = startProcess(t, name, s.bin, args, envOf(s))
	}
	for _, s := range services {
		start(s.name)
	}
	for _, s := range services {
		if pr, ok := procs[s.name]; ok && longRunning(s) {
			pr.waitHealthy(ctx, t, s.svc.HealthCheck, argsOf(s, s.svc.HealthCheck.Test[2:]), envOf(s))
		}
	}

	for _, m := range running(services, "marketplace") {
		site := "http://localhost:" + ports[m.name][m.setting(t, "port")]
		body := get(ctx, t, site+"/")
		if !strings.Contains(body, `href="/books/`) {
			t.Errorf("service %s: %s/ shows no books from Recommendations:\n%s", m.name, site, body)
		}
		// A book and a category too, for traffic on more routes and methods.
		for _, re := range []*regexp.Regexp{regexp.MustCompile(`href="(/books/[^"]+)"`), regexp.MustCompile(`href="(/categories/[^"]+)"`)} {
			if link := re.FindStringSubmatch(body); link != nil {
				get(ctx, t, site+html.UnescapeString(link[1]))
			}
		}
	}
	// The health names and paths that the Kubernetes probes ask, asked of
	// the same servers: each must answer healthy, as a name the binary
	// does not serve is answered NOT_FOUND and a path it has not 404.
	t.Run("what the Kubernetes probes ask", func(t *testing.T) {
		names := kubernetesHealthNames(t)
		for _, s := range services {
			if _, ok := procs[s.name]; !ok || !longRunning(s) {
				continue
			}
			for _, name := range names[s.cmd.path[0]] {
				check := argsOf(s, withHealthService(s.svc.HealthCheck.Test[2:], name))
				cmd := exec.CommandContext(ctx, imageBinary(t, s.svc.HealthCheck.Test[1]), check...)
				cmd.Env = envSlice(envOf(s))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("service %s: %q, the name a Kubernetes probe of %s asks: %v\n%s", s.name, check, s.cmd, err, out)
				}
			}
		}
		for _, m := range running(services, "marketplace") {
			site := "http://localhost:" + ports[m.name][m.setting(t, "port")]
			get(ctx, t, site+marketplaceLivenessPath)
			get(ctx, t, site+marketplaceReadinessPath)
		}
	})

	for _, a := range running(services, "export") {
		cmd := exec.CommandContext(ctx, imageBinary(t, a.bin), argsOf(a, a.argv)...)
		cmd.Env = envSlice(envOf(a))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || bytes.Count(out, []byte("\n")) < 10 {
			t.Errorf("service %s, %s %q: %v\n%s%s", a.name, a.bin, a.argv, err, out, stderr.String())
		}
	}

	// After that traffic, the services' admin ports serve every metric that
	// the dashboards show, as Prometheus would scrape them.
	t.Run("metrics of the dashboards", func(t *testing.T) {
		families := make(map[string]dto.MetricType)
		for _, s := range services {
			if _, ok := procs[s.name]; !ok || !longRunning(s) {
				continue
			}
			port := s.adminPort(t)
			if port == "" {
				if s.env["ADMIN_ADDR"] != "" {
					t.Errorf("service %s sets ADMIN_ADDR=%s, but %s has no -admin-addr: it serves no metrics", s.name, s.env["ADMIN_ADDR"], s.cmd)
				}
				continue
			}
			for name, typ := range scrapeMetrics(ctx, t, "http://127.0.0.1:"+ports[s.name][port]+"/metrics") {
				families[name] = typ
			}
		}
		for _, series := range dashboardSeries(t) {
			name, typ := series, dto.MetricType(-1)
			if def, sfx, ok := seriesDef(series); ok && sfx != "" {
				name, typ = def.name, dto.MetricType_HISTOGRAM
			}
			got, ok := families[name]
			switch {
			case !ok:
				t.Errorf("a dashboard shows %s, but no service serves %s on its admin port", series, name)
			case typ != -1 && got != typ:
				t.Errorf("a dashboard shows %s, but %s is a %s", series, name, got)
			}
		}
	})
}

// scrapeMetrics gets u as Prometheus scrapes it, in the text format, and
// returns its metric families by name, with their types.
func scrapeMetrics(ctx context.Context, tb testing.TB, u string) map[string]dto.MetricType {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s", u, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: %v", u, err)
	}
	out := make(map[string]dto.MetricType)
	for name, f := range fams {
		out[name] = f.GetType()
	}
	return out
}

// process is a service's process.
type process struct {
	name   string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{} // closed when it has exited
	err    error         // how it exited
}

// startProcess starts the service name: the image's binary bin (its path
// in the image) with args and env.
func startProcess(tb testing.TB, name, bin string, args []string, env map[string]string) *process {
	tb.Helper()
	p := &process{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(imageBinary(tb, bin), args...)
	p.cmd.Dir = tb.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, &p.stderr
	p.cmd.Env = envSlice(env)
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// log is the end of what the process wrote to stderr: safe once it has
// exited.
func (p *process) log() string { return lastLines(p.stderr.String(), 10) }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit, and returns how it exited.
func (p *process) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the process with SIGTERM, as docker compose stop does, unless
// it has exited, and returns how it exited.
func (p *process) stop() error {
	if !p.exited() {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("still running 30 s after SIGTERM")
	}
}

// waitHealthy runs the health check, the image's binary that hc.Test[1]
// names with check, the words after it, as Compose does in the container,
// until it passes, or until Compose would call the service unhealthy: after the start period, and as many more
// intervals as the retries.
func (p *process) waitHealthy(ctx context.Context, t *testing.T, hc *types.HealthCheckConfig, check []string, env map[string]string) {
	t.Helper()
	every, patience := 200*time.Millisecond, 30*time.Second
	if hc.StartPeriod != nil && hc.Interval != nil && hc.Retries != nil {
		patience = time.Duration(*hc.StartPeriod) + time.Duration(*hc.Retries)*time.Duration(*hc.Interval)
	}
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	var last string
	for ctx.Err() == nil && !p.exited() {
		cmd := exec.CommandContext(ctx, imageBinary(t, hc.Test[1]), check...)
		cmd.Env = envSlice(env)
		out, err := cmd.CombinedOutput()
		if err == nil {
			return
		}
		last = fmt.Sprintf("%v: %s", err, out)
		time.Sleep(every)
	}
	if p.exited() {
		t.Fatalf("service %s exited: %v\n%s", p.name, p.err, p.log())
	}
	t.Fatalf("service %s did not pass its health check %q in %v: %s", p.name, check, patience, last)
}

// givenPorts are the ports that freePort has returned: it returns each
// once.
var givenPorts struct {
	sync.Mutex
	m map[int]bool
}

// freePort returns a port that nothing listens on, below the kernel's
// range of ephemeral ports: the ports are chosen before the services
// start, and one in that range could meanwhile become the local port of
// one of their own connections (to each other, to PostgreSQL), and the
// service given it would fail to listen.
func freePort(tb testing.TB) string {
	tb.Helper()
	low := 32768 // Linux's default, when the range cannot be read
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2048 {
				low = n
			}
		}
	}
	givenPorts.Lock()
	defer givenPorts.Unlock()
	for range 100 {
		port := 1024 + mathrand.IntN(low-1024)
		if givenPorts.m[port] {
			continue // another service's, which may not listen yet
		}
		lis, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // taken
		}
		lis.Close()
		if givenPorts.m == nil {
			givenPorts.m = make(map[int]bool)
		}
		givenPorts.m[port] = true
		return strconv.Itoa(port)
	}
	tb.Fatalf("no free port below %d after 100 tries", low)
	return ""
}

func get(ctx context.Context, tb testing.TB, u string) string {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s %v", u, resp.Status, err)
	}
	return string(body)
}

// kubernetesHealthNames returns, by command, the health service names
// that the gRPC probes of the overlays' Deployments ask.
func kubernetesHealthNames(tb testing.TB) map[string][]string {
	tb.Helper()
	names := make(map[string][]string)
	for _, overlay := range overlays {
		c := buildOverlay(tb, overlay)
		for _, p := range c.pods(tb) {
			for _, pr := range []*corev1.Probe{p.c.StartupProbe, p.c.ReadinessProbe, p.c.LivenessProbe} {
				if pr == nil || pr.GRPC == nil {
					continue
				}
				cmd, name := p.cmd.path[0], deref(pr.GRPC.Service)
				if !slices.Contains(names[cmd], name) {
					names[cmd] = append(names[cmd], name)
				}
			}
		}
	}
	return names
}

// withHealthService returns the words of a `bookshop health -grpc` check
// with -service name in place of the one it asks.
func withHealthService(check []string, name string) []string {
	var out []string
	for i := 0; i < len(check); i++ {
		switch w := check[i]; {
		case w == "-service" || w == "--service":
			i++ // and its value
		case strings.HasPrefix(w, "-service=") || strings.HasPrefix(w, "--service="):
		default:
			out = append(out, w)
		}
	}
	return append(out, "-service="+name)
}
