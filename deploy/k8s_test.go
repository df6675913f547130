package deploy

import (
	"crypto/x509"
	"fmt"
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

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// overlays are the kustomize overlays under k8s/overlays.
var overlays = []string{"dev", "prod", "postgres"}

// secretsMadeByHand are the Secrets that the manifests use but do not
// hold, as docs/deployment.md says to create them: the certificates of
// `bookshop certs`, and the database's connection string (and CA), which
// are not committed.
var secretsMadeByHand = []string{"bookshop-tls", databaseSecret}

// databaseSecret is the Secret that holds the PostgreSQL connection
// string (key uri) and the server's CA (key ca.crt, optional).
const databaseSecret = "bookshop-database"

// secretStandIns are what the tests read for a variable from a key of a
// Secret made by hand, which the manifests do not hold: a value of the
// same shape, with no real password.
var secretStandIns = map[string]map[string]string{
	databaseSecret: {"uri": "postgres://bookshop:xxxxx@db.example.internal:5432/bookshop?sslmode=verify-full&sslrootcert=/etc/bookshop/postgres/ca.crt"},
}

// cluster is what `kustomize build` of an overlay makes, decoded into the
// Kubernetes API types.
type cluster struct {
	overlay     string
	namespaces  []*corev1.Namespace
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	pvcs        []*corev1.PersistentVolumeClaim
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	netpols     []*networkingv1.NetworkPolicy
	ingresses   []*networkingv1.Ingress
	secrets     []*corev1.Secret // none: their values would be committed
	objects     []metav1.Object
}

// buildOverlay runs kustomize (its Go API, as `kubectl apply -k` does) on
// the overlay, and decodes each object strictly: an unknown or duplicate
// field, or a kind the test does not know, fails.
func buildOverlay(tb testing.TB, overlay string) *cluster {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join("k8s", "overlays", overlay))
	if err != nil {
		tb.Fatal(err)
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		tb.Fatalf("kustomize build %s: %v", overlay, err)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme, networkingv1.AddToScheme} {
		if err := add(scheme); err != nil {
			tb.Fatal(err)
		}
	}
	decoder := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Strict: true})
	c := &cluster{overlay: overlay, configMaps: make(map[string]*corev1.ConfigMap)}
	for _, r := range resMap.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			tb.Fatal(err)
		}
		obj, gvk, err := decoder.Decode(data, nil, nil)
		if err != nil {
			tb.Errorf("%s: %s %s: %v", overlay, r.GetKind(), r.GetName(), err)
			continue
		}
		switch o := obj.(type) {
		case *corev1.Namespace:
			c.namespaces = append(c.namespaces, o)
		case *appsv1.Deployment:
			c.deployments = append(c.deployments, o)
		case *corev1.Service:
			c.services = append(c.services, o)
		case *corev1.ConfigMap:
			c.configMaps[o.Name] = o
		case *corev1.PersistentVolumeClaim:
			c.pvcs = append(c.pvcs, o)
		case *policyv1.PodDisruptionBudget:
			c.pdbs = append(c.pdbs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			c.hpas = append(c.hpas, o)
		case *networkingv1.NetworkPolicy:
			c.netpols = append(c.netpols, o)
		case *networkingv1.Ingress:
			c.ingresses = append(c.ingresses, o)
		case *corev1.Secret:
			c.secrets = append(c.secrets, o)
		default:
			tb.Errorf("%s: %s %s: a kind the test does not check", overlay, gvk, r.GetName())
			continue
		}
		c.objects = append(c.objects, obj.(metav1.Object))
	}
	if len(c.deployments) == 0 {
		tb.Fatalf("%s: no Deployments", overlay)
	}
	return c
}

// pod is a container of a Deployment, with what it runs (one of the
// image's binaries, and the command of bookshop it is) and its
// environment, resolved from its env and its ConfigMaps, and from the
// stand-ins of the Secrets it reads (secretStandIns).
type pod struct {
	dep *appsv1.Deployment
	c   *corev1.Container
	containerCommand
	env        map[string]string
	fromSecret map[string]*corev1.SecretKeySelector // the variables of env read from a Secret
}

// onPostgres reports whether the container keeps its data in PostgreSQL:
// its command has -database-url, and it is set.
func (p *pod) onPostgres(tb testing.TB) bool {
	tb.Helper()
	_, ok := p.cmd.flags["database-url"]
	return ok && p.setting(tb, "database-url") != ""
}

func (p *pod) String() string {
	return fmt.Sprintf("Deployment %s, container %s", p.dep.Name, p.c.Name)
}

func (p *pod) setting(tb testing.TB, flag string) string {
	tb.Helper()
	return p.cmd.setting(tb, flag, p.args, p.env)
}

// listenPorts are the ports its server listens on: -port, and those of
// -health-addr and -admin-addr when set.
func (p *pod) listenPorts(tb testing.TB) []int32 {
	tb.Helper()
	var ports []int32
	add := func(s string) {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			tb.Errorf("%s: port %q: %v", p, s, err)
		}
		ports = append(ports, int32(n))
	}
	if _, ok := p.cmd.flags["port"]; ok {
		add(p.setting(tb, "port"))
	}
	for _, f := range addrFlags {
		if _, ok := p.cmd.flags[f]; ok {
			if addr := p.setting(tb, f); addr != "" {
				_, port, _ := net.SplitHostPort(addr)
				add(port)
			}
		}
	}
	return ports
}

// serves reports whether the container runs a server: its command has
// -port, or it declares a port named grpc or http.
func (p *pod) serves() bool {
	_, port := p.cmd.flags["port"]
	return port || slices.ContainsFunc(p.c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == "grpc" || cp.Name == "http" })
}

// servesGRPC reports whether the container runs a gRPC server: it declares
// a port named grpc.
func (p *pod) servesGRPC() bool {
	return slices.ContainsFunc(p.c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == "grpc" })
}

// healthPort is the port its gRPC health service answers on: that of
// -health-addr when set, which serves health alone in plaintext, else
// -port.
func (p *pod) healthPort(tb testing.TB) string {
	tb.Helper()
	if _, ok := p.cmd.flags["health-addr"]; ok {
		if addr := p.setting(tb, "health-addr"); addr != "" {
			_, port, _ := net.SplitHostPort(addr)
			return port
		}
	}
	return p.setting(tb, "port")
}

// adminPort is the port of its admin server (-admin-addr: /metrics and
// pprof), or "" when it has none.
func (p *pod) adminPort(tb testing.TB) string {
	tb.Helper()
	if _, ok := p.cmd.flags["admin-addr"]; !ok {
		return ""
	}
	_, port, _ := net.SplitHostPort(p.setting(tb, "admin-addr"))
	return port
}

// containerPort returns the port of the container that port (a number or
// a name) names, or 0.
func (p *pod) containerPort(port intstr.IntOrString) int32 {
	for _, cp := range p.c.Ports {
		if port.Type == intstr.String && cp.Name == port.StrVal || port.Type == intstr.Int && cp.ContainerPort == port.IntVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// mountOf returns the volume mounted on the directory that holds file.
func (p *pod) mountOf(file string) (*corev1.VolumeMount, *corev1.Volume) {
	for i, m := range p.c.VolumeMounts {
		if path.Dir(path.Clean(file)) == path.Clean(m.MountPath) || strings.HasPrefix(path.Clean(file), path.Clean(m.MountPath)+"/") {
			for j, v := range p.dep.Spec.Template.Spec.Volumes {
				if v.Name == m.Name {
					return &p.c.VolumeMounts[i], &p.dep.Spec.Template.Spec.Volumes[j]
				}
			}
		}
	}
	return nil, nil
}

func (c *cluster) pods(tb testing.TB) []*pod {
	tb.Helper()
	var pods []*pod
	for _, d := range c.deployments {
		for i := range d.Spec.Template.Spec.Containers {
			ct := &d.Spec.Template.Spec.Containers[i]
			// A command replaces the image's ENTRYPOINT, and its CMD with
			// it: it must be one of the image's own service binaries.
			run := containerCommandOf(tb, fmt.Sprintf("%s: Deployment %s, container %s", c.overlay, d.Name, ct.Name), "command", ct.Command, ct.Args)
			env := make(map[string]string)
			for _, from := range ct.EnvFrom {
				if from.ConfigMapRef == nil {
					tb.Errorf("%s: Deployment %s: envFrom other than a ConfigMap", c.overlay, d.Name)
					continue
				}
				cm, ok := c.configMaps[from.ConfigMapRef.Name]
				if !ok {
					tb.Errorf("%s: Deployment %s: envFrom ConfigMap %s, which the overlay does not make", c.overlay, d.Name, from.ConfigMapRef.Name)
					continue
				}
				for k, v := range cm.Data {
					env[from.Prefix+k] = v
				}
			}
			fromSecret := make(map[string]*corev1.SecretKeySelector)
			for _, e := range ct.Env {
				switch {
				case e.ValueFrom == nil:
					env[e.Name] = e.Value
				case e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					v, ok := secretStandIns[ref.Name][ref.Key]
					if !ok || !slices.Contains(secretsMadeByHand, ref.Name) {
						tb.Errorf("%s: Deployment %s: env %s from key %s of Secret %s, which docs/deployment.md does not say to make", c.overlay, d.Name, e.Name, ref.Key, ref.Name)
					}
					env[e.Name], fromSecret[e.Name] = v, ref
				default:
					tb.Errorf("%s: Deployment %s: env %s from %v: the test reads values and Secrets' keys only", c.overlay, d.Name, e.Name, e.ValueFrom)
				}
			}
			pods = append(pods, &pod{dep: d, c: ct, containerCommand: run, env: env, fromSecret: fromSecret})
		}
	}
	return pods
}

// running returns the containers that run the command path.
func runningIn(pods []*pod, path ...string) []*pod {
	var out []*pod
	for _, p := range pods {
		if slices.Equal(p.cmd.path, path) {
			out = append(out, p)
		}
	}
	return out
}

func selects(sel map[string]string, pod map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(pod))
}

func selectsLS(tb testing.TB, sel *metav1.LabelSelector, pod map[string]string) bool {
	tb.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		tb.Errorf("selector %v: %v", sel, err)
		return false
	}
	return !s.Empty() && s.Matches(labels.Set(pod))
}

// TestKubernetes checks every overlay: each object decodes strictly into
// the API types, and the invariants hold between the objects and with the
// binary's flags.
func TestKubernetes(t *testing.T) {
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			c := buildOverlay(t, overlay)
			pods := c.pods(t)
			recs, markets, catalogs := runningIn(pods, "recommendations"), runningIn(pods, "marketplace"), runningIn(pods, "catalog")
			if len(recs) != 1 || len(markets) != 1 || len(catalogs) != 1 {
				t.Fatalf("%d Deployments run Recommendations, %d the Marketplace and %d the Catalog, want 1 each", len(recs), len(markets), len(catalogs))
			}
			accts := runningIn(pods, "accounts")
			if len(accts) != 1 {
				t.Fatalf("%d Deployments run Accounts, want 1", len(accts))
			}
			carts := runningIn(pods, "cart")
			if len(carts) != 1 {
				t.Fatalf("%d Deployments run the Cart, want 1", len(carts))
			}
			ords := runningIn(pods, "orders")
			if len(ords) != 1 {
				t.Fatalf("%d Deployments run Orders, want 1", len(ords))
			}
			invs := runningIn(pods, "inventory")
			if len(invs) != 1 {
				t.Fatalf("%d Deployments run the Inventory, want 1", len(invs))
			}
			pays := runningIn(pods, "payments")
			if len(pays) != 1 {
				t.Fatalf("%d Deployments run Payments, want 1", len(pays))
			}
			proms := runningIn(pods, "promotions")
			if len(proms) != 1 {
				t.Fatalf("%d Deployments run Promotions, want 1", len(proms))
			}
			checkouts := runningIn(pods, "checkout")
			if len(checkouts) != 1 {
				t.Fatalf("%d Deployments run the Checkout, want 1", len(checkouts))
			}

			t.Run("one namespace", func(t *testing.T) {
				if len(c.namespaces) != 1 {
					t.Fatalf("%d Namespaces, want 1", len(c.namespaces))
				}
				ns := c.namespaces[0]
				if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
					t.Errorf("Namespace %s: want the label pod-security.kubernetes.io/enforce: restricted", ns.Name)
				}
				for _, o := range c.objects {
					if _, isNS := o.(*corev1.Namespace); !isNS && o.GetNamespace() != ns.Name {
						t.Errorf("%T %s is in namespace %q, want %s", o, o.GetName(), o.GetNamespace(), ns.Name)
					}
				}
			})

			t.Run("no Secret in the manifests", func(t *testing.T) {
				for _, sec := range c.secrets {
					t.Errorf("Secret %s: its value would be committed with the manifests: make it in the cluster (docs/deployment.md)", sec.Name)
				}
			})

			t.Run("selectors match pod labels", func(t *testing.T) {
				for _, d := range c.deployments {
					if !selectsLS(t, d.Spec.Selector, d.Spec.Template.Labels) {
						t.Errorf("Deployment %s: selector %v does not match its pods' labels %v", d.Name, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
					}
					for _, other := range c.deployments {
						if other != d && selectsLS(t, d.Spec.Selector, other.Spec.Template.Labels) {
							t.Errorf("Deployment %s's selector also matches the pods of %s", d.Name, other.Name)
						}
					}
				}
				for _, s := range c.services {
					if n := len(c.selectedBy(func(l map[string]string) bool { return selects(s.Spec.Selector, l) })); n != 1 {
						t.Errorf("Service %s: selector %v matches the pods of %d Deployments, want 1", s.Name, s.Spec.Selector, n)
					}
				}
				for _, pdb := range c.pdbs {
					if n := len(c.selectedBy(func(l map[string]string) bool { return selectsLS(t, pdb.Spec.Selector, l) })); n != 1 {
						t.Errorf("PodDisruptionBudget %s matches the pods of %d Deployments, want 1", pdb.Name, n)
					}
				}
				// Each policy is one Deployment's, but for the namespace's
				// default deny, which allows nothing and selects every pod.
				for _, np := range c.netpols {
					if n := len(c.selectedBy(func(l map[string]string) bool { return selectsLS(t, &np.Spec.PodSelector, l) })); n != 1 && !allowsNothing(np) {
						t.Errorf("NetworkPolicy %s matches the pods of %d Deployments, want 1", np.Name, n)
					}
				}
				for _, h := range c.hpas {
					if c.deployment(h.Spec.ScaleTargetRef.Name) == nil || h.Spec.ScaleTargetRef.Kind != "Deployment" {
						t.Errorf("HorizontalPodAutoscaler %s scales %s %s, which the overlay does not make", h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
					}
				}
			})

			t.Run("container ports are the servers' ports", func(t *testing.T) {
				for _, p := range pods {
					listen := p.listenPorts(t)
					var declared []int32
					for _, cp := range p.c.Ports {
						declared = append(declared, cp.ContainerPort)
						if cp.Name == "" {
							t.Errorf("%s: containerPort %d has no name", p, cp.ContainerPort)
						}
					}
					slices.Sort(listen)
					slices.Sort(declared)
					if !slices.Equal(listen, declared) {
						t.Errorf("%s: containerPorts %v, but the server listens on %v (%s -h)", p, declared, listen, p.cmd)
					}
				}
			})

			t.Run("Service target ports exist on the containers", func(t *testing.T) {
				for _, s := range c.services {
					for _, p := range pods {
						if !selects(s.Spec.Selector, p.dep.Spec.Template.Labels) {
							continue
						}
						for _, sp := range s.Spec.Ports {
							target := sp.TargetPort
							if target.Type == intstr.Int && target.IntVal == 0 {
								target = intstr.FromInt32(sp.Port)
							}
							cp := p.containerPort(target)
							switch {
							case cp == 0:
								t.Errorf("Service %s: port %s targets %s, which %s does not declare", s.Name, sp.Name, target.String(), p)
							case s.Spec.ClusterIP == corev1.ClusterIPNone && cp != sp.Port:
								t.Errorf("headless Service %s: port %d, but clients dial the pods directly, on %d", s.Name, sp.Port, cp)
							}
						}
					}
				}
			})

			t.Run("probes", func(t *testing.T) {
				for _, p := range pods {
					probes := map[string]*corev1.Probe{"startup": p.c.StartupProbe, "readiness": p.c.ReadinessProbe, "liveness": p.c.LivenessProbe}
					for kind, pr := range probes {
						if pr == nil {
							t.Errorf("%s: no %s probe", p, kind)
							continue
						}
						var port intstr.IntOrString
						switch {
						case pr.GRPC != nil:
							port = intstr.FromInt32(pr.GRPC.Port)
						case pr.HTTPGet != nil:
							port = pr.HTTPGet.Port
						default:
							t.Errorf("%s: %s probe is neither grpc nor httpGet: the image has no shell for exec", p, kind)
							continue
						}
						cp := p.containerPort(port)
						if cp == 0 {
							t.Errorf("%s: %s probe on port %s, which the container does not declare", p, kind, port.String())
						}
						if pr.GRPC != nil {
							// The kubelet's gRPC probe has no client certificate: it needs
							// the plaintext health port when the main port requires one.
							if p.setting(t, "tls-client-ca") != "" && strconv.Itoa(int(cp)) == p.setting(t, "port") {
								t.Errorf("%s: %s probe on the main port, which requires client certificates: probe -health-addr's port", p, kind)
							}
						}
					}
				}
				for _, rp := range pods {
					if !rp.servesGRPC() {
						continue
					}
					for kind, pr := range map[string]*corev1.Probe{"startup": rp.c.StartupProbe, "readiness": rp.c.ReadinessProbe, "liveness": rp.c.LivenessProbe} {
						if pr != nil && pr.GRPC == nil {
							t.Errorf("%s: %s probe: want a native grpc probe", rp, kind)
						}
					}
				}
			})

			// What each probe asks: a typo in a health service name is
			// answered NOT_FOUND, and in a path 404, and the kubelet takes
			// either for a failure (a pod never ready, or restarted for
			// ever); a liveness probe that follows the dependency checks
			// restarts every replica while a database is out.
			t.Run("probes ask the names and paths that answer", func(t *testing.T) {
				httpPaths := map[string][]string{
					"liveness":  {marketplaceLivenessPath},
					"readiness": {marketplaceReadinessPath},
					"startup":   {marketplaceLivenessPath}, // readiness follows the services it calls: see the startup probes of gRPC below
				}
				for _, p := range pods {
					for kind, pr := range map[string]*corev1.Probe{"startup": p.c.StartupProbe, "readiness": p.c.ReadinessProbe, "liveness": p.c.LivenessProbe} {
						switch {
						case pr == nil:
						case pr.GRPC != nil:
							if name := deref(pr.GRPC.Service); !knownHealthName(t, name) {
								t.Errorf("%s: %s probe asks health for %q, which is neither %q, %q nor a service of the .proto files under proto/: the server answers NOT_FOUND", p, kind, name, "", livenessService)
							}
							if port := strconv.Itoa(int(pr.GRPC.Port)); port != p.healthPort(t) {
								t.Errorf("%s: %s probe on port %s, want the health port %s (-health-addr)", p, kind, port, p.healthPort(t))
							}
						case pr.HTTPGet != nil:
							if !slices.Contains(httpPaths[kind], pr.HTTPGet.Path) {
								t.Errorf("%s: %s probe gets %q, want one of %q", p, kind, pr.HTTPGet.Path, httpPaths[kind])
							}
						}
					}
					if !p.servesGRPC() {
						continue
					}
					if pr := p.c.LivenessProbe; pr != nil && pr.GRPC != nil && deref(pr.GRPC.Service) != livenessService {
						t.Errorf("%s: liveness probe asks %q, want %q: every other name follows the checks of the database and of the services it depends on, so an outage of 30 s would restart every replica into CrashLoopBackOff", p, deref(pr.GRPC.Service), livenessService)
					}
					if pr := p.c.StartupProbe; pr != nil && pr.GRPC != nil && deref(pr.GRPC.Service) != livenessService {
						t.Errorf("%s: startup probe asks %q, want %q: every other name follows the checks of the services it depends on, so a pod started while one is down (Recommendations without the Catalog) would be restarted after its startup probe's minute, into CrashLoopBackOff", p, deref(pr.GRPC.Service), livenessService)
					}
					own := ownServices(t, p.cmd.path[0])
					if pr := p.c.ReadinessProbe; pr != nil && pr.GRPC != nil {
						if name := deref(pr.GRPC.Service); name != "" && !slices.Contains(own, name) {
							t.Errorf("%s: readiness probe asks %q, want \"\" or a service of its own (%q), whose health follows its checks: the pod must leave the balancers while it cannot serve", p, name, own)
						}
					}
				}
			})

			t.Run("containers are hardened and bounded", func(t *testing.T) {
				for _, p := range pods {
					spec := p.dep.Spec.Template.Spec
					sc, psc := p.c.SecurityContext, spec.SecurityContext
					if sc == nil {
						sc = &corev1.SecurityContext{}
					}
					if psc == nil {
						psc = &corev1.PodSecurityContext{}
					}
					if !isTrue(sc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
						t.Errorf("%s: no runAsNonRoot", p)
					}
					if !isTrue(sc.ReadOnlyRootFilesystem) {
						t.Errorf("%s: no readOnlyRootFilesystem", p)
					}
					if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
						t.Errorf("%s: want allowPrivilegeEscalation: false", p)
					}
					if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
						t.Errorf("%s: want capabilities: drop [ALL], add none", p)
					}
					if (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) &&
						(psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
						t.Errorf("%s: want seccompProfile RuntimeDefault", p)
					}
					for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
						req, okReq := p.c.Resources.Requests[res]
						lim, okLim := p.c.Resources.Limits[res]
						if !okReq || !okLim {
							t.Errorf("%s: want requests and limits of %s", p, res)
						} else if req.Cmp(lim) > 0 {
							t.Errorf("%s: %s request %s above its limit %s", p, res, req.String(), lim.String())
						}
					}
					if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
						t.Errorf("%s: want automountServiceAccountToken: false: the services call no Kubernetes API", p)
					}
					// A Service's environment variables (RECOMMENDATIONS_PORT=tcp://...)
					// would be read as the binary's settings.
					if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
						t.Errorf("%s: want enableServiceLinks: false", p)
					}
				}
			})

			t.Run("commands and environment", func(t *testing.T) {
				var image string
				for _, p := range pods {
					p.checkEnvAccepted(t, c.overlay+": "+p.String(), p.env)
					if image == "" {
						image = p.c.Image
					} else if p.c.Image != image {
						t.Errorf("%s runs %s, others %s: want the one image", p, p.c.Image, image)
					}
					if tag := image[strings.LastIndex(image, ":")+1:]; !strings.Contains(image, ":") || tag == "latest" {
						t.Errorf("%s: image %s: want a version tag", p, image)
					}
				}
			})

			t.Run("writable files are on volumes", func(t *testing.T) {
				for _, p := range slices.Concat(catalogs, accts, carts, ords, invs, pays, proms, checkouts) {
					if p.onPostgres(t) {
						continue // no file: TestKubernetesPostgres checks it
					}
					db, env := p.setting(t, "db"), p.cmd.flags["db"].Env
					mnt, v := p.mountOf(db)
					switch {
					case v == nil:
						t.Errorf("%s: %s=%s is on the read-only root file system: want a volume mounted there", p, env, db)
					case mnt.ReadOnly:
						t.Errorf("%s: %s=%s is on the volume %s, mounted read-only", p, env, db, v.Name)
					case v.PersistentVolumeClaim != nil:
						claim := c.pvc(v.PersistentVolumeClaim.ClaimName)
						if claim == nil {
							t.Errorf("%s: volume %s: PersistentVolumeClaim %s, which the overlay does not make", p, v.Name, v.PersistentVolumeClaim.ClaimName)
							break
						}
						if _, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
							t.Errorf("PersistentVolumeClaim %s requests no storage", claim.Name)
						}
						// A rolling update would start the new pod, on the same file
						// (or waiting for a ReadWriteOnce volume held by the old pod),
						// before the old one stops.
						if p.dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
							t.Errorf("%s keeps the database on PersistentVolumeClaim %s: want strategy Recreate, so that two pods never open the file", p.dep.Name, claim.Name)
						}
					case v.EmptyDir == nil:
						t.Errorf("%s: %s=%s is on volume %s: want a PersistentVolumeClaim or an emptyDir", p, env, db, v.Name)
					}
				}
				for _, p := range pods {
					if _, v := p.mountOf("/tmp/x"); v == nil || v.EmptyDir == nil {
						t.Errorf("%s: want an emptyDir on /tmp, for the temporary files of the Go runtime and SQLite", p)
					}
				}
			})

			t.Run("grace period exceeds the pause, the grace and the drain timeout", func(t *testing.T) {
				for _, p := range pods {
					drain, err := time.ParseDuration(p.setting(t, "shutdown-timeout"))
					if err != nil {
						t.Fatal(err)
					}
					grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
					if g := p.dep.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
						grace = *g
					}
					var pause time.Duration
					if l := p.c.Lifecycle; l != nil && l.PreStop != nil {
						if l.PreStop.Sleep == nil {
							t.Errorf("%s: preStop other than sleep: the image has no shell", p)
						} else {
							pause = time.Duration(l.PreStop.Sleep.Seconds) * time.Second
						}
					}
					// The Marketplace serves for -drain-grace before it drains.
					var serving time.Duration
					if _, ok := p.cmd.flags["drain-grace"]; ok {
						if serving, err = time.ParseDuration(p.setting(t, "drain-grace")); err != nil {
							t.Fatal(err)
						}
					}
					if time.Duration(grace)*time.Second <= drain+pause+serving {
						t.Errorf("%s: terminationGracePeriodSeconds %d, want more than preStop %v plus -drain-grace %v plus -shutdown-timeout %v", p, grace, pause, serving, drain)
					}
				}
			})

			t.Run("Marketplace balances over a headless Service", func(t *testing.T) {
				m, r := markets[0], recs[0]
				host := m.setting(t, "recommendations-host")
				u, err := url.Parse(host)
				if err != nil || u.Scheme != "dns" || u.Host != "" {
					t.Fatalf("%s: RECOMMENDATIONS_HOST=%s, want dns:///NAME:PORT (round_robin over the addresses of a headless Service)", m, host)
				}
				name, port, err := net.SplitHostPort(strings.TrimPrefix(u.Path, "/"))
				if err != nil {
					t.Fatalf("%s: RECOMMENDATIONS_HOST=%s: %v", m, host, err)
				}
				svc := c.serviceOfDNS(name)
				if svc == nil {
					t.Fatalf("%s calls %s, which is no Service of the overlay (want SERVICE.NAMESPACE.svc.cluster.local)", m, name)
				}
				if svc.Spec.ClusterIP != corev1.ClusterIPNone {
					t.Errorf("Service %s: clusterIP %q: want None (headless), so that DNS gives each pod's address and calls spread over them", svc.Name, svc.Spec.ClusterIP)
				}
				if !selects(svc.Spec.Selector, r.dep.Spec.Template.Labels) {
					t.Errorf("Service %s does not select the Recommendations pods", svc.Name)
				}
				if port != r.setting(t, "port") {
					t.Errorf("%s calls port %s; Recommendations serves on %s", m, port, r.setting(t, "port"))
				}
			})

			// A gRPC client holds one connection to a cluster IP and sends
			// every call down it, so replicas behind one get none of its
			// calls; over a headless Service, dialled with dns:///, it
			// holds one to each pod and spreads its calls (round_robin).
			t.Run("replicated gRPC services are headless, dialled per pod, spread over nodes", func(t *testing.T) {
				for _, p := range pods {
					if c.maxReplicas(p.dep) < 2 {
						continue
					}
					if !slices.ContainsFunc(p.dep.Spec.Template.Spec.TopologySpreadConstraints, func(tsc corev1.TopologySpreadConstraint) bool {
						return tsc.TopologyKey == "kubernetes.io/hostname" && tsc.LabelSelector != nil && selectsLS(t, tsc.LabelSelector, p.dep.Spec.Template.Labels)
					}) {
						t.Errorf("%s: up to %d replicas, and no topologySpreadConstraints over kubernetes.io/hostname that select its pods: they may all land on one node", p, c.maxReplicas(p.dep))
					}
					if !p.servesGRPC() {
						continue
					}
					for _, svc := range c.services {
						if selects(svc.Spec.Selector, p.dep.Spec.Template.Labels) && svc.Spec.ClusterIP != corev1.ClusterIPNone {
							t.Errorf("Service %s: clusterIP %q in front of %s, which runs up to %d replicas: want None (headless), so that each caller reaches every pod and spreads its calls over them", svc.Name, svc.Spec.ClusterIP, p.dep.Name, c.maxReplicas(p.dep))
						}
					}
					for _, q := range pods {
						for _, flag := range sortedKeys(calls) {
							if _, ok := q.cmd.flags[flag]; !ok || calls[flag] != p.cmd.path[0] {
								continue
							}
							if u, err := url.Parse(q.setting(t, flag)); err != nil || u.Scheme != "dns" {
								t.Errorf("%s: %s=%s: want dns:///NAME:PORT, as %s runs up to %d replicas: gRPC's DNS resolver gets every pod's address", q, q.cmd.flags[flag].Env, q.setting(t, flag), p.dep.Name, c.maxReplicas(p.dep))
							}
						}
					}
				}
			})

			// A live panel is a session in the memory of the Marketplace
			// replica that opened it: its events sent to another are
			// answered 404. With more than one replica, a browser must
			// come back to the same one.
			t.Run("a browser stays on the Marketplace replica of its live session", func(t *testing.T) {
				m := markets[0]
				if c.maxReplicas(m.dep) < 2 {
					return
				}
				var headless, routed bool
				for _, svc := range c.services {
					switch {
					case !selects(svc.Spec.Selector, m.dep.Spec.Template.Labels):
					case svc.Spec.ClusterIP == corev1.ClusterIPNone:
						// No virtual IP for kube-proxy to keep affinity on: only
						// an Ingress's cookie can (below).
						headless = true
					case svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP:
						t.Errorf("Service %s: sessionAffinity %q in front of %s, which runs up to %d replicas: want ClientIP, so that a client without the Ingress comes back to the pod that holds its live session", svc.Name, svc.Spec.SessionAffinity, m.dep.Name, c.maxReplicas(m.dep))
					}
				}
				for _, ing := range c.ingresses {
					if !c.routesTo(ing, m) {
						continue
					}
					routed = true
					want := map[string]func(string) bool{
						"affinity":                func(v string) bool { return v == "cookie" },
						"affinity-mode":           func(v string) bool { return v == "persistent" }, // balanced moves browsers to new pods
						"session-cookie-name":     func(v string) bool { return v != "" },
						"session-cookie-path":     func(v string) bool { return v == "/" }, // the page, /live and its events
						"session-cookie-samesite": func(v string) bool { return v == "Lax" || v == "Strict" },
						"session-cookie-secure":   func(v string) bool { return v == "true" },
					}
					var wrong []string
					for _, key := range sortedKeys(want) {
						if v := ing.Annotations[nginxAnnotation+key]; !want[key](v) {
							wrong = append(wrong, fmt.Sprintf("%s %q", key, v))
						}
					}
					if len(wrong) > 0 {
						t.Errorf("Ingress %s: %s: want cookie affinity (%saffinity cookie, affinity-mode persistent, a session-cookie-name, session-cookie-path /, session-cookie-samesite Lax, session-cookie-secure true), as %s runs up to %d replicas and a live session is in one replica's memory", ing.Name, strings.Join(wrong, ", "), nginxAnnotation, m.dep.Name, c.maxReplicas(m.dep))
					}
				}
				if headless && !routed {
					t.Errorf("a headless Service selects %s, which runs up to %d replicas, and no Ingress routes to it: nothing keeps a browser on the replica of its live session", m.dep.Name, c.maxReplicas(m.dep))
				}
			})

			t.Run("callers find the services they call", func(t *testing.T) {
				for _, p := range pods {
					for _, flag := range sortedKeys(calls) {
						if _, ok := p.cmd.flags[flag]; !ok {
							continue
						}
						env := p.cmd.flags[flag].Env
						servers := runningIn(pods, calls[flag])
						if len(servers) != 1 {
							t.Errorf("%s: %s: %d Deployments run bookshop %s, want 1", p, env, len(servers), calls[flag])
							continue
						}
						srv := servers[0]
						target := p.setting(t, flag)
						name, port, ok := hostPortOf(target)
						if !ok {
							t.Errorf("%s: %s=%q, want NAME:PORT or dns:///NAME:PORT, the Service of %s", p, env, target, srv.dep.Name)
							continue
						}
						svc := c.serviceOfDNS(name)
						if svc == nil {
							t.Errorf("%s calls %s, which is no Service of the overlay (want SERVICE.NAMESPACE.svc.cluster.local)", p, name)
							continue
						}
						if !selects(svc.Spec.Selector, srv.dep.Spec.Template.Labels) {
							t.Errorf("%s: %s: Service %s does not select the pods of %s", p, env, svc.Name, srv.dep.Name)
						}
						var reached bool
						for _, sp := range svc.Spec.Ports {
							target := sp.TargetPort
							if target.Type == intstr.Int && target.IntVal == 0 {
								target = intstr.FromInt32(sp.Port)
							}
							if strconv.Itoa(int(sp.Port)) == port && strconv.Itoa(int(srv.containerPort(target))) == srv.setting(t, "port") {
								reached = true
							}
						}
						if !reached {
							t.Errorf("%s calls port %s of Service %s, which does not lead to the port of %s, %s", p, port, svc.Name, srv.dep.Name, srv.setting(t, "port"))
						}
					}
				}
			})

			t.Run("only its callers reach each gRPC service", func(t *testing.T) {
				c.onlyCallersReach(t, recs[0], markets...)
				c.onlyCallersReach(t, catalogs[0], slices.Concat(markets, recs, carts, checkouts)...)
				c.onlyCallersReach(t, accts[0], markets...)
				c.onlyCallersReach(t, carts[0], slices.Concat(markets, checkouts)...)
				c.onlyCallersReach(t, checkouts[0], markets...)
				c.onlyCallersReach(t, ords[0], slices.Concat(markets, checkouts)...)
				c.onlyCallersReach(t, invs[0], slices.Concat(markets, checkouts)...)
				c.onlyCallersReach(t, pays[0], checkouts...)
				c.onlyCallersReach(t, proms[0], slices.Concat(markets, checkouts)...)
			})

			// Without a NetworkPolicy that selects its pods, every pod of the
			// cluster reaches every port of a server: its gRPC port, its
			// health port and its admin port (pprof shows the heap). The
			// namespace's default deny does not count: without it, the
			// server would be open again.
			t.Run("every server has an ingress NetworkPolicy", func(t *testing.T) {
				for _, p := range pods {
					if !p.serves() {
						continue
					}
					if !slices.ContainsFunc(c.ownPolicies(t, p.dep), func(np *networkingv1.NetworkPolicy) bool {
						return len(np.Spec.PolicyTypes) == 0 || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
					}) {
						t.Errorf("%s serves (ports %v), but no NetworkPolicy selects its pods for Ingress: every pod of the cluster reaches each of them", p, p.listenPorts(t))
					}
				}
			})

			t.Run("metrics for Prometheus", func(t *testing.T) {
				for _, p := range pods { // every Deployment, a new one too
					if _, ok := p.cmd.flags["admin-addr"]; !ok {
						t.Errorf("%s: %s has no -admin-addr, so ADMIN_ADDR serves no metrics", p, p.cmd)
						continue
					}
					admin := p.adminPort(t)
					if admin == "" {
						t.Errorf("%s: no ADMIN_ADDR: its metrics are not served", p)
						continue
					}
					var metrics *corev1.ContainerPort
					for i, cp := range p.c.Ports {
						if cp.Name == metricsPortName {
							metrics = &p.c.Ports[i]
						}
					}
					if metrics == nil || strconv.Itoa(int(metrics.ContainerPort)) != admin {
						t.Errorf("%s: want a containerPort named %s, %s (ADMIN_ADDR)", p, metricsPortName, admin)
					}
					if admin == p.setting(t, "port") {
						t.Errorf("%s: the admin port is the public port %s: metrics and pprof must be apart", p, admin)
					}
					ann := p.dep.Spec.Template.Annotations
					for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": admin, "prometheus.io/path": "/metrics"} {
						if ann[k] != want {
							t.Errorf("%s: pod annotation %s: %q, want %q", p, k, ann[k], want)
						}
					}
					for _, svc := range c.services {
						if !selects(svc.Spec.Selector, p.dep.Spec.Template.Labels) {
							continue
						}
						for _, sp := range svc.Spec.Ports {
							if cp := p.containerPort(sp.TargetPort); cp != 0 && strconv.Itoa(int(cp)) == admin {
								t.Errorf("Service %s exposes the admin port of %s: the services' ports never serve metrics and pprof", svc.Name, p)
							}
						}
					}
				}
			})

			t.Run("who reaches which port", func(t *testing.T) {
				// Pods that try to connect: the scraper in its namespace, every
				// Deployment's pods, and pods elsewhere (the Ingress controller's,
				// anyone's).
				scraper := podOf(scraperNamespace, map[string]string{"app.kubernetes.io/name": "prometheus"})
				ingress := podOf("ingress-nginx", map[string]string{"app.kubernetes.io/name": "ingress-nginx"})
				stranger := podOf("default", map[string]string{"app": "curl"})
				ns := c.namespaces[0]
				neighbours := []peer{{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: map[string]string{"app": "debug"}}}
				for _, d := range c.deployments {
					neighbours = append(neighbours, peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: d.Spec.Template.Labels})
				}
				marketplace := peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: markets[0].dep.Spec.Template.Labels}
				recommendations := peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: recs[0].dep.Spec.Template.Labels}
				catalog := peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: catalogs[0].dep.Spec.Template.Labels}
				cart := peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: carts[0].dep.Spec.Template.Labels}
				checkout := peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: checkouts[0].dep.Spec.Template.Labels}
				debug := neighbours[0]

				check := func(p *pod, portName string, from peer, want bool) {
					t.Helper()
					var cp *corev1.ContainerPort
					for i := range p.c.Ports {
						if p.c.Ports[i].Name == portName {
							cp = &p.c.Ports[i]
						}
					}
					if cp == nil {
						t.Errorf("%s: no containerPort %s", p, portName)
						return
					}
					if got := c.reaches(t, from, p, *cp); got != want {
						t.Errorf("a pod in namespace %s with labels %v reaches port %s of %s: %v, want %v", from.namespace, from.podLabels, portName, p, got, want)
					}
				}
				for _, p := range pods {
					check(p, metricsPortName, scraper, true)
					for _, other := range append(neighbours, ingress, stranger) {
						check(p, metricsPortName, other, false)
					}
				}
				// The plaintext health ports: no pod, not even a caller; the
				// kubelet probes them from the node, which NetworkPolicies
				// always let in (not modelled by reaches).
				for _, p := range pods {
					if !p.servesGRPC() {
						continue
					}
					for _, other := range append(neighbours, scraper, ingress, stranger) {
						check(p, "health", other, false)
					}
				}
				check(markets[0], "http", ingress, true)
				// Behind the Ingress, the Marketplace trusts the address the
				// controller puts in X-Forwarded-For: no other pod may reach
				// it, or it would name its own and escape every per-client
				// limit. Without one (dev, which has no Ingress), any pod does.
				check(markets[0], "http", stranger, len(c.ingresses) == 0)
				check(markets[0], "http", debug, len(c.ingresses) == 0)
				check(recs[0], "grpc", marketplace, true)
				for _, other := range []peer{catalog, cart, checkout, debug, scraper, ingress, stranger} {
					check(recs[0], "grpc", other, false)
				}
				check(catalogs[0], "grpc", marketplace, true)
				check(catalogs[0], "grpc", recommendations, true)
				check(catalogs[0], "grpc", cart, true)
				check(catalogs[0], "grpc", checkout, true)
				for _, other := range []peer{debug, scraper, ingress, stranger} {
					check(catalogs[0], "grpc", other, false)
				}
				check(accts[0], "grpc", marketplace, true)
				for _, other := range []peer{catalog, recommendations, cart, checkout, debug, scraper, ingress, stranger} {
					check(accts[0], "grpc", other, false)
				}
				check(carts[0], "grpc", marketplace, true)
				check(carts[0], "grpc", checkout, true)
				for _, other := range []peer{catalog, recommendations, debug, scraper, ingress, stranger} {
					check(carts[0], "grpc", other, false)
				}
				check(ords[0], "grpc", marketplace, true)
				check(ords[0], "grpc", checkout, true)
				for _, other := range []peer{catalog, recommendations, cart, debug, scraper, ingress, stranger} {
					check(ords[0], "grpc", other, false)
				}
				check(invs[0], "grpc", marketplace, true)
				check(invs[0], "grpc", checkout, true)
				for _, other := range []peer{catalog, recommendations, cart, debug, scraper, ingress, stranger} {
					check(invs[0], "grpc", other, false)
				}
				// The Checkout: the Marketplace alone.
				check(checkouts[0], "grpc", marketplace, true)
				for _, other := range []peer{catalog, recommendations, cart, debug, scraper, ingress, stranger} {
					check(checkouts[0], "grpc", other, false)
				}
				// Payments: the Checkout alone; not the Marketplace.
				check(pays[0], "grpc", checkout, true)
				for _, other := range []peer{marketplace, catalog, recommendations, cart, debug, scraper, ingress, stranger} {
					check(pays[0], "grpc", other, false)
				}
				// Promotions: the Marketplace and the Checkout.
				check(proms[0], "grpc", marketplace, true)
				check(proms[0], "grpc", checkout, true)
				for _, other := range []peer{catalog, recommendations, cart, debug, scraper, ingress, stranger} {
					check(proms[0], "grpc", other, false)
				}
			})

			// A pod taken over (the Marketplace is the Internet's) reaches
			// what its service calls, and nothing else: not the cloud's
			// metadata, not the Kubernetes API, not the Internet.
			t.Run("each pod's egress is exactly what it needs", func(t *testing.T) {
				for _, p := range pods {
					c.checkEgress(t, p, pods)
				}
			})

			t.Run("egress and ingress agree", func(t *testing.T) {
				c.checkSidesAgree(t, pods)
			})

			t.Run("the namespace denies by default", func(t *testing.T) {
				c.checkDefaultDeny(t, pods)
			})

			t.Run("replicas, autoscaling and disruption budgets", func(t *testing.T) {
				// The Catalog, Accounts, the Cart, Orders, the Inventory,
				// Payments, Promotions and the Checkout are each the one
				// writer of their SQLite database: one pod, never scaled.
				// On PostgreSQL, replicas share the database.
				for _, p := range slices.Concat(catalogs, accts, carts, ords, invs, pays, proms, checkouts) {
					if p.onPostgres(t) {
						continue
					}
					if d := p.dep; d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || c.hpaOf(d.Name) != nil {
						t.Errorf("Deployment %s runs %s, the writer of an SQLite database: want replicas: 1 and no HorizontalPodAutoscaler", d.Name, p.cmd)
					}
				}
				for _, d := range c.deployments {
					hpa := c.hpaOf(d.Name)
					switch {
					case hpa != nil && d.Spec.Replicas != nil:
						t.Errorf("Deployment %s sets replicas, and HorizontalPodAutoscaler %s does too: each apply would reset the count", d.Name, hpa.Name)
					case hpa == nil && d.Spec.Replicas == nil:
						t.Errorf("Deployment %s: no replicas and no HorizontalPodAutoscaler", d.Name)
					}
					var budget bool
					for _, pdb := range c.pdbs {
						if selectsLS(t, pdb.Spec.Selector, d.Spec.Template.Labels) {
							budget = true
							if pdb.Spec.MinAvailable != nil {
								t.Errorf("PodDisruptionBudget %s: minAvailable blocks node drains when replicas are few: use maxUnavailable", pdb.Name)
							}
						}
					}
					if !budget {
						t.Errorf("Deployment %s has no PodDisruptionBudget", d.Name)
					}
				}
			})
		})
	}
}

// TestKubernetesDev checks what is particular to the dev overlay: one
// replica of each service, plaintext.
func TestKubernetesDev(t *testing.T) {
	c := buildOverlay(t, "dev")
	for _, d := range c.deployments {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			t.Errorf("Deployment %s: replicas %v, want 1", d.Name, d.Spec.Replicas)
		}
	}
	if len(c.hpas) > 0 {
		t.Errorf("%d HorizontalPodAutoscalers, want none in dev", len(c.hpas))
	}
	for _, p := range c.pods(t) {
		for _, f := range []string{"tls-cert", "tls-key", "tls-ca", "tls-client-ca", "tls-client-cert", "tls-client-key"} {
			if _, ok := p.cmd.flags[f]; ok && p.setting(t, f) != "" {
				t.Errorf("%s: -%s is set: dev is plaintext", p, f)
			}
		}
	}
}

// TestKubernetesProd checks what is particular to the prod overlay: mutual
// TLS on both sides of every call with the certificates of `bookshop
// certs`, each caller with its own identity, the health ports apart,
// autoscaling from two replicas but for the Catalog, Accounts, the Cart,
// Orders, the Inventory, Payments, Promotions and the Checkout, and an
// Ingress that serves every host over HTTPS. The overlay postgres, which
// is prod with the component postgres, must keep all that.
func TestKubernetesProd(t *testing.T) {
	for _, overlay := range []string{"prod", "postgres"} {
		t.Run(overlay, func(t *testing.T) {
			checkProd(t, buildOverlay(t, overlay))
		})
	}
}

// checkProd checks c as TestKubernetesProd says.
func checkProd(t *testing.T, c *cluster) {
	pods := c.pods(t)
	recs, markets, catalogs := runningIn(pods, "recommendations"), runningIn(pods, "marketplace"), runningIn(pods, "catalog")
	if len(recs) != 1 || len(markets) != 1 || len(catalogs) != 1 {
		t.Fatalf("%d Deployments run Recommendations, %d the Marketplace and %d the Catalog, want 1 each", len(recs), len(markets), len(catalogs))
	}
	accts := runningIn(pods, "accounts")
	if len(accts) != 1 {
		t.Fatalf("%d Deployments run Accounts, want 1", len(accts))
	}
	carts := runningIn(pods, "cart")
	if len(carts) != 1 {
		t.Fatalf("%d Deployments run the Cart, want 1", len(carts))
	}
	ords := runningIn(pods, "orders")
	if len(ords) != 1 {
		t.Fatalf("%d Deployments run Orders, want 1", len(ords))
	}
	invs := runningIn(pods, "inventory")
	if len(invs) != 1 {
		t.Fatalf("%d Deployments run the Inventory, want 1", len(invs))
	}
	pays := runningIn(pods, "payments")
	if len(pays) != 1 {
		t.Fatalf("%d Deployments run Payments, want 1", len(pays))
	}
	proms := runningIn(pods, "promotions")
	if len(proms) != 1 {
		t.Fatalf("%d Deployments run Promotions, want 1", len(proms))
	}
	checkouts := runningIn(pods, "checkout")
	if len(checkouts) != 1 {
		t.Fatalf("%d Deployments run the Checkout, want 1", len(checkouts))
	}
	m := markets[0]
	set := certsFor(t, c.namespaces[0].Name)

	// file checks that flag names a file of set in a Secret volume that
	// holds it, and returns its name in the set.
	file := func(p *pod, flag string) string {
		v := p.setting(t, flag)
		if v == "" {
			t.Errorf("%s: -%s (%s) is not set: want mutual TLS", p, flag, p.cmd.flags[flag].Env)
			return ""
		}
		mnt, vol := p.mountOf(v)
		if vol == nil || vol.Secret == nil {
			t.Errorf("%s: -%s %s is on no Secret volume", p, flag, v)
			return ""
		}
		if !mnt.ReadOnly {
			t.Errorf("%s: the Secret volume %s is mounted read-write", p, vol.Name)
		}
		// Readable by the pod's group (fsGroup); written and run by no one, read by no one else.
		var fsGroup *int64
		if psc := p.dep.Spec.Template.Spec.SecurityContext; psc != nil {
			fsGroup = psc.FSGroup
		}
		if mode := vol.Secret.DefaultMode; mode == nil || *mode&0o037 != 0 || *mode&0o040 == 0 || fsGroup == nil {
			t.Errorf("%s: the Secret volume %s: defaultMode %#o, fsGroup %v: want the files readable by the pod's fsGroup and no one else", p, vol.Name, deref(mode), deref(fsGroup))
		}
		if !slices.Contains(secretsMadeByHand, vol.Secret.SecretName) {
			t.Errorf("%s: Secret %s: the README says to create %v", p, vol.Secret.SecretName, secretsMadeByHand)
		}
		name := path.Base(v)
		var key string
		for _, it := range vol.Secret.Items {
			if path.Clean(it.Path) == name {
				key = it.Key
			}
		}
		if len(vol.Secret.Items) > 0 && key == "" {
			t.Errorf("%s: -%s %s: the Secret volume %s does not project it", p, flag, v, vol.Name)
			return ""
		}
		if key == "" {
			key = name
		}
		if !set.has(key) {
			t.Errorf("%s: -%s: key %s of Secret %s: bookshop certs writes no such file (it writes %v)", p, flag, key, vol.Secret.SecretName, set.files)
			return ""
		}
		return key
	}

	t.Run("the gRPC services require client certificates", func(t *testing.T) {
		// Every gRPC server, whatever it runs: a new one must not serve
		// in plaintext, or without asking who calls.
		var grpcServers []*pod
		for _, p := range pods {
			if p.servesGRPC() {
				grpcServers = append(grpcServers, p)
			}
		}
		if len(grpcServers) < 9 {
			t.Errorf("%d containers declare a port named grpc, want the 9 gRPC services at least", len(grpcServers))
		}
		for _, r := range grpcServers {
			if f := file(r, "tls-cert"); f != "" && !set.usage(t, f, x509.ExtKeyUsageServerAuth) {
				t.Errorf("%s: -tls-cert %s is not a server certificate", r, f)
			}
			file(r, "tls-key")
			if f := file(r, "tls-client-ca"); f != "" && !set.isCA(t, f) {
				t.Errorf("%s: -tls-client-ca %s is not the CA", r, f)
			}
			health := r.setting(t, "health-addr")
			_, hp, _ := net.SplitHostPort(health)
			if health == "" || hp == r.setting(t, "port") {
				t.Errorf("%s: -health-addr %q: want a port of its own, for the kubelet's probes", r, health)
			}
		}
	})

	t.Run("callers present their identity", func(t *testing.T) {
		servers := map[string]*pod{"recommendations": recs[0], "catalog": catalogs[0], "accounts": accts[0], "cart": carts[0], "orders": ords[0], "inventory": invs[0], "payments": pays[0], "promotions": proms[0], "checkout": checkouts[0]}
		for _, p := range pods {
			var called []string
			for _, flag := range sortedKeys(calls) {
				if _, ok := p.cmd.flags[flag]; ok {
					called = append(called, flag)
				}
			}
			if len(called) == 0 {
				continue
			}
			if f := file(p, "tls-ca"); f != "" && !set.isCA(t, f) {
				t.Errorf("%s: -tls-ca %s is not the CA", p, f)
			}
			certFlag, keyFlag := clientCertFlags(p.cmd)
			if certFlag == "" {
				t.Errorf("%s: %s has no flag for a client certificate", p, p.cmd)
				continue
			}
			if f := file(p, certFlag); f != "" {
				if !set.usage(t, f, x509.ExtKeyUsageClientAuth) {
					t.Errorf("%s: -%s %s is not a client certificate", p, certFlag, f)
				}
				if id, want := set.identity(t, f), callerIdentity[p.cmd.path[0]]; id != want {
					t.Errorf("%s presents identity %q, want %q", p, id, want)
				}
			}
			file(p, keyFlag)
			for _, flag := range called {
				host, _, _ := hostPortOf(p.setting(t, flag))
				srv := servers[calls[flag]]
				if sc := path.Base(srv.setting(t, "tls-cert")); set.has(sc) && !set.coversName(t, sc, host) {
					t.Errorf("%s calls %s (-%s), which the server certificate of bookshop certs -namespace %s does not cover", p, host, flag, c.namespaces[0].Name)
				}
			}
		}
	})

	t.Run("autoscaling from two replicas", func(t *testing.T) {
		for _, d := range c.deployments {
			if d == catalogs[0].dep || d == accts[0].dep || d == carts[0].dep || d == ords[0].dep || d == invs[0].dep || d == pays[0].dep || d == proms[0].dep || d == checkouts[0].dep {
				continue // one pod: the one writer of its SQLite database
			}
			h := c.hpaOf(d.Name)
			if h == nil {
				t.Errorf("Deployment %s has no HorizontalPodAutoscaler", d.Name)
				continue
			}
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
				t.Errorf("HorizontalPodAutoscaler %s: %v to %d replicas, want 2 or more", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
			}
		}
	})

	t.Run("Ingress to the Marketplace", func(t *testing.T) {
		if len(c.ingresses) == 0 {
			t.Fatal("no Ingress")
		}
		for _, ing := range c.ingresses {
			for _, rule := range ing.Spec.Rules {
				for _, p := range rule.HTTP.Paths {
					b := p.Backend.Service
					svc := c.service(b.Name)
					if svc == nil || !selects(svc.Spec.Selector, m.dep.Spec.Template.Labels) {
						t.Errorf("Ingress %s: backend %s is not a Service of the Marketplace", ing.Name, b.Name)
						continue
					}
					if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool {
						return b.Port.Name != "" && sp.Name == b.Port.Name || b.Port.Number != 0 && sp.Port == b.Port.Number
					}) {
						t.Errorf("Ingress %s: Service %s has no port %v", ing.Name, b.Name, b.Port)
					}
				}
			}
		}
		// The controller caps what one client address has in flight
		// (ingress-nginx's limit-connections, answered 503 past it), above
		// the live sessions the Marketplace lets one client open, each a
		// request that lasts.
		perClient, err := strconv.Atoi(m.setting(t, "live-sessions-per-client"))
		if err != nil {
			t.Fatal(err)
		}
		for _, ing := range c.ingresses {
			const key = "nginx.ingress.kubernetes.io/limit-connections"
			n, err := strconv.Atoi(ing.Annotations[key])
			if err != nil || n <= perClient {
				t.Errorf("Ingress %s: %s %q, want a number above the %d live sessions of one client (-live-sessions-per-client)", ing.Name, key, ing.Annotations[key], perClient)
			}
		}
		// The Ingress controller adds the client's address to X-Forwarded-For.
		if got := m.setting(t, "trusted-proxies"); got != "1" {
			t.Errorf("%s: %s=%s behind an Ingress, want 1", m, m.cmd.flags["trusted-proxies"].Env, got)
		}
	})

	// Shoppers sign in and pay through the Ingress: every host it serves
	// has a certificate, and plain HTTP is redirected.
	t.Run("the Ingress serves HTTPS", func(t *testing.T) {
		realCluster := docSection(t, "docs/deployment.md", "## A real cluster")
		for _, ing := range c.ingresses {
			if v := ing.Annotations[nginxAnnotation+"ssl-redirect"]; v != "true" {
				t.Errorf("Ingress %s: %sssl-redirect %q, want \"true\": plain HTTP must be redirected to HTTPS", ing.Name, nginxAnnotation, v)
			}
			for _, rule := range ing.Spec.Rules {
				if rule.Host == "" {
					t.Errorf("Ingress %s: a rule with no host, which no tls entry can name", ing.Name)
					continue
				}
				if !slices.ContainsFunc(ing.Spec.TLS, func(tls networkingv1.IngressTLS) bool {
					return tls.SecretName != "" && slices.ContainsFunc(tls.Hosts, func(h string) bool { return hostCovers(h, rule.Host) })
				}) {
					t.Errorf("Ingress %s: host %s is covered by no tls entry with a secretName: it would be served in plaintext, or with the controller's default certificate", ing.Name, rule.Host)
				}
			}
			for _, tls := range ing.Spec.TLS {
				named := regexp.MustCompile(`(^|[^-\w])` + regexp.QuoteMeta(tls.SecretName) + `([^-\w]|$)`)
				if tls.SecretName != "" && !named.MatchString(realCluster) {
					t.Errorf("Ingress %s: tls Secret %s, which docs/deployment.md's \"A real cluster\" does not say how to make", ing.Name, tls.SecretName)
				}
			}
		}
	})
}

// hostCovers reports whether a tls entry's host, such as shop.example.com
// or *.example.com (one label, as in a certificate), covers host.
func hostCovers(pattern, host string) bool {
	if strings.EqualFold(pattern, host) {
		return true
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, domain, found := strings.Cut(host, ".")
		return found && label != "" && label != "*" && strings.EqualFold(domain, rest)
	}
	return false
}

// docSection returns the section of the document file, from its heading
// (such as "## A real cluster") to the next heading of the same level.
func docSection(tb testing.TB, file, heading string) string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, file))
	if err != nil {
		tb.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		tb.Fatalf("%s has no heading %q", file, heading)
	}
	level := heading[:strings.Index(heading, " ")+1]
	section := text[start+1:]
	if end := strings.Index(section[len(heading):], "\n"+level); end >= 0 {
		section = section[:len(heading)+end]
	}
	return section
}

// metricsPortName is the name of the containerPort of the admin server.
const metricsPortName = "metrics"

// scraperNamespace is the namespace whose pods may scrape the admin ports
// (Prometheus's, in most clusters): the NetworkPolicies open those ports to
// it alone.
const scraperNamespace = "monitoring"

// peer is a pod that connects to another, as a NetworkPolicy sees it: its
// namespace, that namespace's labels and its own.
type peer struct {
	namespace string
	nsLabels  map[string]string
	podLabels map[string]string
}

// podOf returns a pod with podLabels in a namespace with no labels but the
// one Kubernetes gives each namespace, its name.
func podOf(namespace string, podLabels map[string]string) peer {
	return peer{namespace: namespace, nsLabels: withName(namespace, nil), podLabels: podLabels}
}

// withName returns a namespace's labels with kubernetes.io/metadata.name,
// which the API server sets to its name.
func withName(namespace string, l map[string]string) map[string]string {
	out := map[string]string{"kubernetes.io/metadata.name": namespace}
	for k, v := range l {
		out[k] = v
	}
	return out
}

// matchesLS reports whether sel selects l, as a NetworkPolicy reads it: an
// empty selector selects everything.
func matchesLS(tb testing.TB, sel *metav1.LabelSelector, l map[string]string) bool {
	tb.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		tb.Errorf("selector %v: %v", sel, err)
		return false
	}
	return s.Matches(labels.Set(l))
}

// reaches reports whether from may open a TCP connection to port of p's
// pods under the overlay's NetworkPolicies, as Kubernetes defines them:
// any connection while no policy selects the pods for Ingress; otherwise
// one that a rule of one of those policies allows, by port and by peer.
// An ipBlock peer counts as allowing any pod, to err on the side of
// reaching.
func (c *cluster) reaches(tb testing.TB, from peer, p *pod, port corev1.ContainerPort) bool {
	tb.Helper()
	isolated := false
	for _, np := range c.netpols {
		ingress := len(np.Spec.PolicyTypes) == 0 || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		if np.Namespace != p.dep.Namespace || !ingress || !matchesLS(tb, &np.Spec.PodSelector, p.dep.Spec.Template.Labels) {
			continue
		}
		isolated = true
		for _, rule := range np.Spec.Ingress {
			portOK := len(rule.Ports) == 0
			for _, pp := range rule.Ports {
				if pp.Protocol != nil && *pp.Protocol != corev1.ProtocolTCP {
					continue
				}
				switch {
				case pp.Port == nil:
					portOK = true
				case pp.Port.Type == intstr.String && pp.Port.StrVal == port.Name:
					portOK = true
				case pp.Port.Type == intstr.Int && pp.Port.IntVal <= port.ContainerPort &&
					(pp.Port.IntVal == port.ContainerPort || pp.EndPort != nil && port.ContainerPort <= *pp.EndPort):
					portOK = true
				}
			}
			peerOK := len(rule.From) == 0
			for _, f := range rule.From {
				if f.IPBlock != nil {
					peerOK = true
					continue
				}
				nsOK := from.namespace == np.Namespace
				if f.NamespaceSelector != nil {
					nsOK = matchesLS(tb, f.NamespaceSelector, from.nsLabels)
				}
				podOK := f.PodSelector == nil || matchesLS(tb, f.PodSelector, from.podLabels)
				if nsOK && podOK {
					peerOK = true
				}
			}
			if portOK && peerOK {
				return true
			}
		}
	}
	return !isolated
}

func isTrue(b *bool) bool { return b != nil && *b }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (c *cluster) deployment(name string) *appsv1.Deployment {
	for _, d := range c.deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (c *cluster) service(name string) *corev1.Service {
	for _, s := range c.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// serviceOfDNS returns the Service whose DNS name is name: SERVICE,
// SERVICE.NAMESPACE, or with .svc or .svc.cluster.local after.
func (c *cluster) serviceOfDNS(name string) *corev1.Service {
	for _, s := range c.services {
		full := s.Name + "." + s.Namespace + ".svc.cluster.local"
		if name == s.Name || strings.HasPrefix(full, name) && strings.HasPrefix(name, s.Name+"."+s.Namespace) && (len(name) == len(full) || full[len(name)] == '.') {
			return s
		}
	}
	return nil
}

func (c *cluster) pvc(name string) *corev1.PersistentVolumeClaim {
	for _, p := range c.pvcs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// onlyCallersReach checks the NetworkPolicies of server's pods: each rule
// that opens its gRPC port (-port) lets in only pods of the callers'
// Deployments, named by pod selectors in its own namespace that select no
// other Deployment's pods; every rule names its ports and whom it lets
// in (a rule with no from lets in every pod of the cluster); and no rule
// opens the port of its grpc probes (the plaintext health port), which
// the kubelet probes from the node: Kubernetes lets a pod's node reach it
// whatever the policies say, and no one else needs to.
func (c *cluster) onlyCallersReach(t *testing.T, server *pod, callers ...*pod) {
	t.Helper()
	var callerDeps []*appsv1.Deployment
	for _, p := range callers {
		callerDeps = append(callerDeps, p.dep)
	}
	main := intstr.FromString("")
	for _, cp := range server.c.Ports {
		if strconv.Itoa(int(cp.ContainerPort)) == server.setting(t, "port") {
			main = intstr.FromString(cp.Name)
		}
	}
	var policies []*networkingv1.NetworkPolicy
	for _, np := range c.netpols {
		if selectsLS(t, &np.Spec.PodSelector, server.dep.Spec.Template.Labels) {
			policies = append(policies, np)
		}
	}
	if len(policies) == 0 {
		t.Errorf("no NetworkPolicy selects the pods of %s", server.dep.Name)
		return
	}
	probePorts := make(map[int32]bool)
	for _, pr := range []*corev1.Probe{server.c.StartupProbe, server.c.ReadinessProbe, server.c.LivenessProbe} {
		if pr != nil && pr.GRPC != nil {
			probePorts[pr.GRPC.Port] = true
		}
	}
	for _, np := range policies {
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			t.Errorf("NetworkPolicy %s: policyTypes %v: want Ingress", np.Name, np.Spec.PolicyTypes)
		}
		for i, rule := range np.Spec.Ingress {
			var ports []int32
			for _, pp := range rule.Ports {
				if pp.Port == nil {
					t.Errorf("NetworkPolicy %s: rule %d allows every port", np.Name, i)
					continue
				}
				ports = append(ports, server.containerPort(*pp.Port))
			}
			if len(rule.Ports) == 0 {
				t.Errorf("NetworkPolicy %s: rule %d allows every port", np.Name, i)
			}
			if len(rule.From) == 0 {
				t.Errorf("NetworkPolicy %s: rule %d has no from, so every pod of the cluster reaches ports %v of %s: name whom it lets in (the kubelet's probes come from the node, which Kubernetes always lets in)", np.Name, i, ports, server.dep.Name)
			}
			fromCallersOnly := len(rule.From) > 0
			for _, from := range rule.From {
				if from.PodSelector == nil || from.IPBlock != nil || from.NamespaceSelector != nil {
					fromCallersOnly = false
					continue
				}
				for _, d := range c.selectedBy(func(l map[string]string) bool { return selectsLS(t, from.PodSelector, l) }) {
					if !slices.Contains(callerDeps, d) {
						fromCallersOnly = false
					}
				}
			}
			for _, port := range ports {
				if port == server.containerPort(main) && !fromCallersOnly {
					t.Errorf("NetworkPolicy %s: rule %d lets others than its callers reach the gRPC port of %s", np.Name, i, server.dep.Name)
				}
				if probePorts[port] && port != server.containerPort(main) {
					t.Errorf("NetworkPolicy %s: rule %d opens port %d of %s, where the kubelet probes it, to pods: the kubelet probes from the node, which Kubernetes lets in whatever the policies say, and a pod that reaches the port can take its connections and health watches", np.Name, i, port, server.dep.Name)
				}
			}
		}
	}
	// Each caller is let in: the simulation of "who reaches which port"
	// checks it by connection; here, that some rule names it.
	for _, caller := range callers {
		var named bool
		for _, np := range policies {
			for _, rule := range np.Spec.Ingress {
				for _, from := range rule.From {
					if from.PodSelector != nil && from.NamespaceSelector == nil && selectsLS(t, from.PodSelector, caller.dep.Spec.Template.Labels) {
						named = true
					}
				}
			}
		}
		if !named {
			t.Errorf("no NetworkPolicy of %s names the pods of its caller %s", server.dep.Name, caller.dep.Name)
		}
	}
}

// nginxAnnotation is the prefix of ingress-nginx's annotations.
const nginxAnnotation = "nginx.ingress.kubernetes.io/"

// maxReplicas is the most replicas the Deployment may run: its
// autoscaler's maxReplicas, or its replicas (1 when unset).
func (c *cluster) maxReplicas(d *appsv1.Deployment) int32 {
	if h := c.hpaOf(d.Name); h != nil {
		return h.Spec.MaxReplicas
	}
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// routesTo reports whether the Ingress sends requests to a Service that
// selects p's pods.
func (c *cluster) routesTo(ing *networkingv1.Ingress, p *pod) bool {
	var backends []*networkingv1.IngressBackend
	if ing.Spec.DefaultBackend != nil {
		backends = append(backends, ing.Spec.DefaultBackend)
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for i := range rule.HTTP.Paths {
			backends = append(backends, &rule.HTTP.Paths[i].Backend)
		}
	}
	for _, b := range backends {
		if b.Service != nil {
			if svc := c.service(b.Service.Name); svc != nil && selects(svc.Spec.Selector, p.dep.Spec.Template.Labels) {
				return true
			}
		}
	}
	return false
}

func (c *cluster) hpaOf(deployment string) *autoscalingv2.HorizontalPodAutoscaler {
	for _, h := range c.hpas {
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == deployment {
			return h
		}
	}
	return nil
}

// selectedBy returns the Deployments whose pods match.
func (c *cluster) selectedBy(match func(podLabels map[string]string) bool) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range c.deployments {
		if match(d.Spec.Template.Labels) {
			out = append(out, d)
		}
	}
	return out
}
