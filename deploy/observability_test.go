package deploy

import (
	"bytes"
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/dns"
	"go.yaml.in/yaml/v3"
)

// The profile observability of compose.yaml: an OpenTelemetry Collector,
// Jaeger, Prometheus and Grafana, from their projects' images, with the
// settings of observability/. These tests check those files against each
// other and against compose.yaml; dashboards_test.go checks Grafana's.

// observabilityProfile is the Compose profile of the four services.
const observabilityProfile = "observability"

// publishedUIs are the services of the profile whose UI compose.yaml
// publishes, on 127.0.0.1, with the port (the README gives these URLs).
var publishedUIs = map[string]string{"grafana": "3000", "jaeger": "16686", "prometheus": "9090"}

// observabilityServices returns the services of compose.yaml that do not
// run the bookshop binary, by name.
func observabilityServices(p *types.Project) map[string]types.ServiceConfig {
	out := make(map[string]types.ServiceConfig)
	for name, svc := range p.Services {
		if !builtHere(p, svc) {
			out[name] = svc
		}
	}
	return out
}

// hostPath returns the file of the repository that a service sees at
// file, through a bind mount, or "".
func hostPath(svc types.ServiceConfig, file string) string {
	file = path.Clean(file)
	for _, v := range svc.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		target := path.Clean(v.Target)
		if file == target {
			return v.Source
		}
		if rel, ok := strings.CutPrefix(file, target+"/"); ok {
			return filepath.Join(v.Source, filepath.FromSlash(rel))
		}
	}
	return ""
}

// flagValue returns the value of --name=V or --name V in args, or "".
func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// configFileOf returns the file of the repository that a service of the
// profile reads its settings from: the file its --config (the collector
// and Jaeger) or --config.file (Prometheus) names, or Grafana's
// provisioning directory.
func configFileOf(tb testing.TB, name string, svc types.ServiceConfig) string {
	tb.Helper()
	inContainer := cmp.Or(flagValue(svc.Command, "config"), flagValue(svc.Command, "config.file"))
	if name == "grafana" {
		// Grafana's image reads GF_PATHS_PROVISIONING, /etc/grafana/provisioning
		// unless set.
		inContainer = "/etc/grafana/provisioning"
		if v := svc.Environment["GF_PATHS_PROVISIONING"]; v != nil {
			inContainer = *v
		}
	}
	if inContainer == "" {
		tb.Fatalf("service %s: %q names no configuration file", name, svc.Command)
	}
	f := hostPath(svc, inContainer)
	if f == "" {
		tb.Fatalf("service %s reads %s, which no bind mount of the repository provides", name, inContainer)
	}
	if _, err := os.Stat(f); err != nil {
		tb.Fatalf("service %s reads %s: %v", name, inContainer, err)
	}
	return f
}

// decodeStrict decodes YAML into v, failing on a key that v has no field
// for.
func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// decodeNode decodes a node of a document into v, leniently: the keys that
// v names are checked, others are left to the program that reads it.
func decodeNode(n yaml.Node, v any) error {
	if n.IsZero() {
		return nil
	}
	return n.Decode(v)
}

// otelConfig is the shape of an OpenTelemetry Collector's configuration,
// and so of Jaeger v2's: the components by kind, and the service that
// wires them into pipelines.
type otelConfig struct {
	Receivers  map[string]yaml.Node `yaml:"receivers"`
	Processors map[string]yaml.Node `yaml:"processors"`
	Exporters  map[string]yaml.Node `yaml:"exporters"`
	Connectors map[string]yaml.Node `yaml:"connectors"`
	Extensions map[string]yaml.Node `yaml:"extensions"`
	Service    struct {
		Extensions []string                `yaml:"extensions"`
		Pipelines  map[string]otelPipeline `yaml:"pipelines"`
		Telemetry  map[string]yaml.Node    `yaml:"telemetry"`
	} `yaml:"service"`
}

type otelPipeline struct {
	Receivers  []string `yaml:"receivers"`
	Processors []string `yaml:"processors"`
	Exporters  []string `yaml:"exporters"`
}

// otlpReceiver is the configuration of an otlp receiver.
type otlpReceiver struct {
	Protocols struct {
		GRPC *struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"grpc"`
		HTTP *struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"http"`
	} `yaml:"protocols"`
}

// collectorComponents are the component types that the image of each
// collector-shaped service has, by kind: those of the collector's core
// distribution, and Jaeger's. A type that is not here is a typo, or
// needs another image.
var collectorComponents = map[string]map[string][]string{
	"otel-collector": {
		"receivers":  {"otlp", "nop"},
		"processors": {"batch", "memory_limiter"},
		"exporters":  {"otlp_grpc", "otlp_http", "debug", "nop"},
		"extensions": {"zpages", "memory_limiter"},
	},
	"jaeger": {
		"receivers":  {"otlp", "jaeger", "zipkin"},
		"processors": {"batch", "memory_limiter"},
		"exporters":  {"jaeger_storage_exporter", "debug"},
		"extensions": {"jaeger_storage", "jaeger_query", "remote_sampling", "healthcheckv2", "expvar", "zpages"},
	},
}

// loadOtelConfig reads a collector's configuration strictly (an unknown
// key at the top or in service fails) and checks its wiring: every
// component that a pipeline or the service names is defined, of a type
// that the service's image has, and every one defined is used.
func loadOtelConfig(tb testing.TB, service, file string) *otelConfig {
	tb.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	var c otelConfig
	if err := decodeStrict(data, &c); err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	if len(c.Service.Pipelines) == 0 {
		tb.Fatalf("%s: no pipelines", file)
	}
	known := collectorComponents[service]
	defined := map[string]map[string]yaml.Node{"receivers": c.Receivers, "processors": c.Processors, "exporters": c.Exporters, "extensions": c.Extensions}
	used := make(map[string]map[string]bool)
	use := func(where, kind string, ids []string) {
		if used[kind] == nil {
			used[kind] = make(map[string]bool)
		}
		for _, id := range ids {
			used[kind][id] = true
			if _, ok := defined[kind][id]; !ok {
				tb.Errorf("%s: %s names %s %q, which %s does not define", file, where, kind, id, kind)
			}
		}
	}
	for id, pl := range c.Service.Pipelines {
		if signal, _, _ := strings.Cut(id, "/"); !slices.Contains([]string{"traces", "metrics", "logs"}, signal) {
			tb.Errorf("%s: pipeline %q: want traces, metrics or logs, optionally /NAME", file, id)
		}
		if len(pl.Receivers) == 0 || len(pl.Exporters) == 0 {
			tb.Errorf("%s: pipeline %s: want receivers and exporters", file, id)
		}
		use("pipeline "+id, "receivers", pl.Receivers)
		use("pipeline "+id, "processors", pl.Processors)
		use("pipeline "+id, "exporters", pl.Exporters)
	}
	use("service", "extensions", c.Service.Extensions)
	if len(c.Connectors) > 0 {
		tb.Errorf("%s: connectors: the test does not check them", file)
	}
	for kind, comps := range defined {
		for id := range comps {
			if !used[kind][id] {
				tb.Errorf("%s: %s %q is defined but in no pipeline (or service.extensions): the collector ignores it", file, kind, id)
			}
			if typ, _, _ := strings.Cut(id, "/"); !slices.Contains(known[kind], typ) {
				tb.Errorf("%s: %s %q: the image of %s has no %s of type %q (it has %v)", file, kind, id, service, kind, typ, known[kind])
			}
		}
	}
	return &c
}

// otlpListens returns the ports on which the otlp receivers of c listen,
// by protocol ("grpc" or "http"), checking that each listens on every
// interface of the container: the collector's default, localhost, cannot
// be reached from the other containers.
func otlpListens(tb testing.TB, file string, c *otelConfig) map[string][]string {
	tb.Helper()
	out := make(map[string][]string)
	for id, n := range c.Receivers {
		if typ, _, _ := strings.Cut(id, "/"); typ != "otlp" {
			continue
		}
		var r otlpReceiver
		if err := decodeNode(n, &r); err != nil {
			tb.Errorf("%s: receiver %s: %v", file, id, err)
			continue
		}
		for proto, p := range map[string]*struct {
			Endpoint string `yaml:"endpoint"`
		}{"grpc": r.Protocols.GRPC, "http": r.Protocols.HTTP} {
			if p == nil {
				continue
			}
			if port := reachablePort(tb, fmt.Sprintf("%s: receiver %s, %s", file, id, proto), p.Endpoint); port != "" {
				out[proto] = append(out[proto], port)
			}
		}
	}
	return out
}

// reachablePort returns the port of a server's endpoint host:port, and
// checks that it listens on every interface of its container.
func reachablePort(tb testing.TB, where, endpoint string) string {
	tb.Helper()
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		tb.Errorf("%s: endpoint %q: %v (set it: the default is localhost, which other containers cannot reach)", where, endpoint, err)
		return ""
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		tb.Errorf("%s: endpoint %q: listens on %s only; want 0.0.0.0, so that other containers reach it", where, endpoint, host)
	}
	return port
}

// listensOf returns the ports a service of the profile listens on, by
// protocol, read from its settings: the collectors' configuration files,
// Prometheus's flags, Grafana's variables, or their defaults.
func listensOf(tb testing.TB, name string, svc types.ServiceConfig) map[string][]string {
	tb.Helper()
	switch name {
	case "otel-collector":
		f := configFileOf(tb, name, svc)
		return otlpListens(tb, f, loadOtelConfig(tb, name, f))
	case "jaeger":
		f := configFileOf(tb, name, svc)
		c := loadOtelConfig(tb, name, f)
		out := otlpListens(tb, f, c)
		var q jaegerQuery
		if err := decodeNode(c.Extensions["jaeger_query"], &q); err != nil {
			tb.Fatalf("%s: jaeger_query: %v", f, err)
		}
		if p := reachablePort(tb, f+": jaeger_query http", q.HTTP.Endpoint); p != "" {
			out["http"] = append(out["http"], p)
		}
		if p := reachablePort(tb, f+": jaeger_query grpc", q.GRPC.Endpoint); p != "" {
			out["grpc"] = append(out["grpc"], p)
		}
		return out
	case "prometheus":
		addr := cmp.Or(flagValue(svc.Command, "web.listen-address"), "0.0.0.0:9090")
		return map[string][]string{"http": {reachablePort(tb, "service prometheus: --web.listen-address", addr)}}
	case "grafana":
		port := "3000"
		if v := svc.Environment["GF_SERVER_HTTP_PORT"]; v != nil {
			port = *v
		}
		return map[string][]string{"http": {port}}
	}
	tb.Fatalf("service %s: the test does not know what it listens on", name)
	return nil
}

// jaegerQuery is the configuration of Jaeger's jaeger_query extension: its
// UI and APIs.
type jaegerQuery struct {
	Storage struct {
		Traces string `yaml:"traces"`
	} `yaml:"storage"`
	HTTP struct {
		Endpoint string `yaml:"endpoint"`
	} `yaml:"http"`
	GRPC struct {
		Endpoint string `yaml:"endpoint"`
	} `yaml:"grpc"`
}

// serviceEndpoint checks that endpoint (host:port, or a URL) names a
// service of the profile and a port it listens on with proto ("" for
// any), and returns the service's name.
func serviceEndpoint(tb testing.TB, p *types.Project, where, endpoint, proto string) string {
	tb.Helper()
	hostport := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		tb.Errorf("%s: %q: %v", where, endpoint, err)
		return ""
	}
	svc, ok := observabilityServices(p)[host]
	if !ok {
		tb.Errorf("%s: %q: %s is no service of the profile %s", where, endpoint, host, observabilityProfile)
		return ""
	}
	listens := listensOf(tb, host, svc)
	var all []string
	for pr, ports := range listens {
		if proto == "" || pr == proto {
			all = append(all, ports...)
		}
	}
	if !slices.Contains(all, port) {
		tb.Errorf("%s: %q: service %s listens on %v (%s), not on %s", where, endpoint, host, listens, cmp.Or(proto, "any protocol"), port)
	}
	return host
}

// TestObservabilityProfile checks the services of the profile in
// compose.yaml: only in that profile, so that `docker compose up` is
// unchanged; each from a pinned image, hardened, with its UI on 127.0.0.1
// only; each reading configuration files of the repository that exist.
func TestObservabilityProfile(t *testing.T) {
	p := loadCompose(t)
	obs := observabilityServices(p)
	if len(obs) == 0 {
		t.Fatalf("compose.yaml has no service of the profile %s", observabilityProfile)
	}
	obsDir, err := filepath.Abs("observability")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("only in the profile", func(t *testing.T) {
		for name, svc := range obs {
			if !slices.Equal(svc.Profiles, []string{observabilityProfile}) {
				t.Errorf("service %s: profiles %v, want [%s]: every service that does not run bookshop is part of it, and only of it", name, svc.Profiles, observabilityProfile)
			}
		}
		def := loadComposeWith(t, nil, nil) // docker compose up
		for name := range obs {
			if _, ok := def.Services[name]; ok {
				t.Errorf("docker compose up starts %s", name)
			}
		}
		for name, svc := range def.Services {
			for dep := range svc.DependsOn {
				if _, ok := obs[dep]; ok {
					t.Errorf("service %s depends on %s, of the profile %s: docker compose up would need the profile", name, dep, observabilityProfile)
				}
			}
		}
		withProfile := loadComposeWith(t, []string{observabilityProfile}, nil)
		for name := range obs {
			if _, ok := withProfile.Services[name]; !ok {
				t.Errorf("docker compose --profile %s up does not start %s", observabilityProfile, name)
			}
		}
		for name := range def.Services {
			if _, ok := withProfile.Services[name]; !ok {
				t.Errorf("docker compose --profile %s up does not start %s, which docker compose up does", observabilityProfile, name)
			}
		}
	})

	t.Run("pinned images", func(t *testing.T) {
		for name, svc := range obs {
			ref, err := reference.ParseNormalizedNamed(svc.Image)
			if err != nil {
				t.Errorf("service %s: image %q: %v", name, svc.Image, err)
				continue
			}
			tagged, ok := ref.(reference.NamedTagged)
			if !ok || !regexp.MustCompile(`^v?\d+\.\d+\.\d+$`).MatchString(tagged.Tag()) {
				t.Errorf("service %s: image %q: want a full version tag (such as 1.2.3), not latest or a moving 1.2", name, svc.Image)
			}
			if svc.Build != nil {
				t.Errorf("service %s: builds an image: want the project's own", name)
			}
		}
	})

	t.Run("hardened", func(t *testing.T) {
		for name, svc := range obs {
			if !svc.ReadOnly {
				t.Errorf("service %s: want read_only: true", name)
			}
			if !slices.Contains(svc.CapDrop, "ALL") || len(svc.CapAdd) > 0 {
				t.Errorf("service %s: cap_drop %v, cap_add %v: want ALL dropped, none added", name, svc.CapDrop, svc.CapAdd)
			}
			if !slices.Contains(svc.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("service %s: security_opt %v, want no-new-privileges:true", name, svc.SecurityOpt)
			}
			if svc.Privileged || svc.User == "root" || svc.User == "0" || svc.NetworkMode == "host" {
				t.Errorf("service %s: privileged, root or the host's network: want none", name)
			}
			for _, v := range svc.Volumes {
				if v.Type == types.VolumeTypeBind && !v.ReadOnly {
					t.Errorf("service %s mounts %s read-write: want :ro", name, v.Source)
				}
			}
		}
	})

	t.Run("UIs on 127.0.0.1 only", func(t *testing.T) {
		for name, svc := range obs {
			for _, pc := range svc.Ports {
				target := strconv.Itoa(int(pc.Target))
				if pc.HostIP != "127.0.0.1" {
					t.Errorf("service %s publishes %s on %q: want 127.0.0.1 only", name, target, pc.HostIP)
				}
				if want, ok := publishedUIs[name]; !ok || target != want || pc.Published != want {
					t.Errorf("service %s publishes %s:%d; the UIs published are %v", name, pc.Published, pc.Target, publishedUIs)
				}
				var listens []string
				for _, ports := range listensOf(t, name, svc) {
					listens = append(listens, ports...)
				}
				if !slices.Contains(listens, target) {
					t.Errorf("service %s publishes %d, but listens on %v", name, pc.Target, listens)
				}
			}
		}
		for name, port := range publishedUIs {
			if svc, ok := obs[name]; !ok || !slices.ContainsFunc(svc.Ports, func(pc types.ServicePortConfig) bool { return pc.Published == port }) {
				t.Errorf("service %s does not publish its UI on 127.0.0.1:%s", name, port)
			}
		}
	})

	t.Run("configuration files", func(t *testing.T) {
		for name, svc := range obs {
			for _, v := range svc.Volumes {
				if v.Type != types.VolumeTypeBind {
					t.Errorf("service %s: volume %s: want only the repository's files, bind-mounted (state goes to a tmpfs)", name, v.Source)
					continue
				}
				if rel, err := filepath.Rel(obsDir, v.Source); err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("service %s mounts %s, which is not under deploy/observability", name, v.Source)
				}
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("service %s mounts %s: %v", name, v.Source, err)
				}
			}
			configFileOf(t, name, svc)
		}
	})
}

// TestTracingEnvironment checks the way to turn tracing on that
// compose.yaml gives, OTEL_EXPORTER_OTLP_ENDPOINT=URL docker compose
// --profile observability up: the URL is the collector's OTLP/gRPC
// receiver, the services get it when it is set and an empty value (off)
// when it is not.
func TestTracingEnvironment(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`OTEL_EXPORTER_OTLP_ENDPOINT=(\S+) docker compose --profile (\S+) up`).FindSubmatch(data)
	if m == nil {
		t.Fatal("compose.yaml does not say how to turn tracing on: want a comment OTEL_EXPORTER_OTLP_ENDPOINT=URL docker compose --profile observability up")
	}
	endpoint, profile := string(m[1]), string(m[2])
	if profile != observabilityProfile {
		t.Errorf("compose.yaml says --profile %s, want %s", profile, observabilityProfile)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" || u.Path != "" {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%s: want http://HOST:PORT (http: the collector's receiver has no TLS)", endpoint)
	}
	p := loadCompose(t)
	// The binary exports with otlptracegrpc (sdkEnv): the port must take
	// OTLP over gRPC.
	if got := serviceEndpoint(t, p, "OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "grpc"); got != "" && got != "otel-collector" {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%s names %s, want the collector, otel-collector", endpoint, got)
	}

	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, ""},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint}, endpoint},
	} {
		p := loadComposeWith(t, []string{observabilityProfile}, tc.env)
		services := composeServices(t, p)
		var traced []*composeService
		for _, cmd := range append(slices.Clone(stateful), "recommendations", "marketplace") {
			traced = append(traced, running(services, cmd)...)
		}
		for _, s := range traced {
			v, ok := s.svc.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
			switch {
			case !ok || v == nil:
				t.Errorf("with %q: service %s: OTEL_EXPORTER_OTLP_ENDPOINT is unset, want %q", tc.env, s.name, tc.want)
			case *v != tc.want:
				t.Errorf("with %q: service %s: OTEL_EXPORTER_OTLP_ENDPOINT=%q, want %q", tc.env, s.name, *v, tc.want)
			}
		}
	}
}

// TestOtelCollectorConfig checks the collector's and Jaeger's files:
// wired pipelines (loadOtelConfig), an exporter to a port that Jaeger
// listens on, and Jaeger's storage named where it is used.
func TestOtelCollectorConfig(t *testing.T) {
	p := loadCompose(t)
	obs := observabilityServices(p)
	for _, name := range []string{"otel-collector", "jaeger"} {
		if _, ok := obs[name]; !ok {
			t.Fatalf("compose.yaml has no service %s", name)
		}
	}

	t.Run("otel-collector", func(t *testing.T) {
		f := configFileOf(t, "otel-collector", obs["otel-collector"])
		c := loadOtelConfig(t, "otel-collector", f)
		if len(otlpListens(t, f, c)["grpc"]) == 0 {
			t.Errorf("%s: no otlp receiver takes gRPC, which the services send", f)
		}
		for id, pl := range c.Service.Pipelines {
			// memory_limiter first, so that it refuses data before anything
			// holds it; batch last, so that it batches what the others let by.
			if n := len(pl.Processors); n == 0 || pl.Processors[0] != "memory_limiter" || pl.Processors[n-1] != "batch" {
				t.Errorf("%s: pipeline %s: processors %v, want memory_limiter first and batch last", f, id, pl.Processors)
			}
		}
		for id, n := range c.Exporters {
			typ, _, _ := strings.Cut(id, "/")
			var e struct {
				Endpoint string `yaml:"endpoint"`
				TLS      struct {
					Insecure bool `yaml:"insecure"`
				} `yaml:"tls"`
			}
			if err := decodeNode(n, &e); err != nil {
				t.Errorf("%s: exporter %s: %v", f, id, err)
				continue
			}
			switch typ {
			case "otlp_grpc":
				serviceEndpoint(t, p, f+": exporter "+id, e.Endpoint, "grpc")
				if !e.TLS.Insecure {
					t.Errorf("%s: exporter %s: want tls: insecure: true; Jaeger's receiver has no TLS", f, id)
				}
			case "otlp_http":
				serviceEndpoint(t, p, f+": exporter "+id, e.Endpoint, "http")
			}
		}
	})

	t.Run("jaeger", func(t *testing.T) {
		f := configFileOf(t, "jaeger", obs["jaeger"])
		c := loadOtelConfig(t, "jaeger", f)
		var storage struct {
			Backends map[string]yaml.Node `yaml:"backends"`
		}
		if err := decodeNode(c.Extensions["jaeger_storage"], &storage); err != nil || len(storage.Backends) == 0 {
			t.Fatalf("%s: jaeger_storage: no backends (%v)", f, err)
		}
		var q jaegerQuery
		if err := decodeNode(c.Extensions["jaeger_query"], &q); err != nil {
			t.Fatalf("%s: jaeger_query: %v", f, err)
		}
		if _, ok := storage.Backends[q.Storage.Traces]; !ok {
			t.Errorf("%s: jaeger_query reads traces from %q, which jaeger_storage does not define", f, q.Storage.Traces)
		}
		for id, n := range c.Exporters {
			var e struct {
				TraceStorage string `yaml:"trace_storage"`
			}
			if err := decodeNode(n, &e); err != nil {
				t.Errorf("%s: exporter %s: %v", f, id, err)
			}
			if _, ok := storage.Backends[e.TraceStorage]; strings.HasPrefix(id, "jaeger_storage_exporter") && !ok {
				t.Errorf("%s: exporter %s writes to %q, which jaeger_storage does not define", f, id, e.TraceStorage)
			}
			if e.TraceStorage != q.Storage.Traces {
				t.Errorf("%s: exporter %s writes to %q, jaeger_query reads from %q: the UI would show nothing", f, id, e.TraceStorage, q.Storage.Traces)
			}
		}
	})
}

// scrapeTarget is a target of prometheus.yml: a host and port, found by
// name (static) or by DNS (every address of the name).
type scrapeTarget struct {
	job, host, port string
	dns             bool
}

// loadPrometheus loads prometheus.yml with Prometheus's own parser (of the
// version of go.mod: the image must be that version).
func loadPrometheus(tb testing.TB, p *types.Project) (*promconfig.Config, string) {
	tb.Helper()
	obs := observabilityServices(p)
	svc, ok := obs["prometheus"]
	if !ok {
		tb.Fatal("compose.yaml has no service prometheus")
	}
	f := configFileOf(tb, "prometheus", svc)
	cfg, err := promconfig.LoadFile(f, false, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("load %s: %v", f, err)
	}
	return cfg, f
}

// TestPrometheusConfig checks prometheus.yml: it loads with Prometheus's
// own parser, and its targets are the admin ports of the services of
// compose.yaml, every one of them.
func TestPrometheusConfig(t *testing.T) {
	p := loadCompose(t)
	services := composeServices(t, p)
	cfg, f := loadPrometheus(t, p)

	t.Run("the image is the parser's version", func(t *testing.T) {
		// Prometheus 3.X.Y is the Go module v0.3XX.Y, which go.mod requires
		// directly (a test binary has no dependencies in its build
		// information).
		gomod, err := os.ReadFile("go.mod")
		if err != nil {
			t.Fatal(err)
		}
		var mod string
		if m := regexp.MustCompile(`(?m)^\s*github\.com/prometheus/prometheus (\S+)$`).FindSubmatch(gomod); m != nil {
			mod = string(m[1])
		}
		m := regexp.MustCompile(`^v0\.3(\d\d)\.(\d+)$`).FindStringSubmatch(mod)
		if m == nil {
			t.Fatalf("go.mod: github.com/prometheus/prometheus %q: not a version of Prometheus 3", mod)
		}
		minor, _ := strconv.Atoi(m[1])
		want := fmt.Sprintf("v3.%d.%s", minor, m[2])
		image := observabilityServices(p)["prometheus"].Image
		if _, tag, _ := strings.Cut(image, ":"); tag != want {
			t.Errorf("service prometheus runs %s, but the test parses prometheus.yml as Prometheus %s does (github.com/prometheus/prometheus %s in deploy/go.mod): move both together", image, want, mod)
		}
	})

	scrapes, err := cfg.GetScrapeConfigs()
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	var targets []scrapeTarget
	for _, sc := range scrapes {
		if d := time.Duration(sc.ScrapeInterval); d < 5*time.Second || d > 15*time.Second {
			t.Errorf("%s: job %s: scrape_interval %v, want 5s to 15s", f, sc.JobName, d)
		}
		if sc.MetricsPath != "/metrics" || sc.Scheme != "http" {
			t.Errorf("%s: job %s: scrapes %s://...%s, want http and /metrics (the admin server is plaintext)", f, sc.JobName, sc.Scheme, sc.MetricsPath)
		}
		for _, sd := range sc.ServiceDiscoveryConfigs {
			switch sd := sd.(type) {
			case discovery.StaticConfig:
				for _, g := range sd {
					for _, lset := range g.Targets {
						host, port, err := net.SplitHostPort(string(lset[model.AddressLabel]))
						if err != nil {
							t.Errorf("%s: job %s: target %v: %v", f, sc.JobName, lset, err)
							continue
						}
						targets = append(targets, scrapeTarget{sc.JobName, host, port, false})
					}
				}
			case *dns.SDConfig:
				if sd.Type != "A" && sd.Type != "AAAA" {
					t.Errorf("%s: job %s: dns_sd_configs of type %s: Docker's DNS answers A and AAAA", f, sc.JobName, sd.Type)
				}
				for _, n := range sd.Names {
					targets = append(targets, scrapeTarget{sc.JobName, n, strconv.Itoa(sd.Port), true})
				}
			default:
				t.Errorf("%s: job %s: %s service discovery: the test knows static_configs and dns_sd_configs", f, sc.JobName, sd.Name())
			}
		}
	}

	reached := make(map[string]bool)
	for _, tg := range targets {
		var answer []*composeService
		for _, s := range services {
			if slices.Contains(s.names(), tg.host) {
				answer = append(answer, s)
			}
		}
		if len(answer) == 0 {
			t.Errorf("%s: job %s scrapes %s, which no service of compose.yaml answers to", f, tg.job, tg.host)
			continue
		}
		containers := 0
		for _, s := range answer {
			containers += s.replicas()
			reached[s.name] = true
			if port := s.adminPort(t); port != tg.port {
				t.Errorf("%s: job %s scrapes %s:%s, but service %s serves /metrics on %q (ADMIN_ADDR)", f, tg.job, tg.host, tg.port, s.name, port)
			}
		}
		if containers > 1 && !tg.dns {
			t.Errorf("%s: job %s: %d containers answer to %s, and a static target reaches one of them: use dns_sd_configs", f, tg.job, containers, tg.host)
		}
	}
	for _, s := range services {
		if longRunning(s) && s.adminPort(t) != "" && !reached[s.name] {
			t.Errorf("service %s serves /metrics on %s, but %s scrapes it in no job", s.name, s.adminPort(t), f)
		}
	}
	for _, cmd := range append(slices.Clone(stateful), "recommendations", "marketplace") {
		if len(running(services, cmd)) == 0 {
			t.Errorf("no service runs bookshop %s", cmd)
		}
		for _, s := range running(services, cmd) {
			if s.adminPort(t) == "" {
				t.Errorf("service %s: no ADMIN_ADDR: its metrics are not served", s.name)
			}
			for _, pc := range s.svc.Ports {
				if strconv.Itoa(int(pc.Target)) == s.adminPort(t) && s.adminPort(t) != "" {
					t.Errorf("service %s publishes its admin port %d: metrics and pprof stay on the Compose network", s.name, pc.Target)
				}
			}
		}
	}
}
