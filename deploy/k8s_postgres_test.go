package deploy

import (
	"net/url"
	"path"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// maxDatabaseConnections is the most connections that the pods on
// PostgreSQL may open together, at the height of a rollout: PostgreSQL's
// default max_connections (100, CloudNativePG's too), less 3 reserved for
// superusers and 7 for an operator's psql, bookshop migrate-data and the
// server's own tools.
const maxDatabaseConnections = 90

// connectionsBesidesPool are the connections that a command's process
// opens to PostgreSQL besides its pool (-database-max-conns): every one
// its readiness connection (pgdb.DB.Ping), and the Catalog one more, on
// which it LISTENs for the imports of other replicas
// (internal/catalog/postgres).
func connectionsBesidesPool(cmd string) int {
	if cmd == "catalog" {
		return 2
	}
	return 1
}

// The database, as the tests see it: a managed PostgreSQL server in the
// cloud network, or the primary of the CloudNativePG Cluster that
// docs/deployment.md makes. A pod on PostgreSQL must reach one of them on
// 5432, and a pod not on it neither.
var managedPostgres = destination{ip: "10.128.0.5"}

// cnpgPrimary is the primary instance of a CloudNativePG Cluster named
// bookshop-db in namespace ns.
func cnpgPrimary(ns *corev1.Namespace) destination {
	return destination{
		peer:  peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: map[string]string{"cnpg.io/cluster": "bookshop-db", "cnpg.io/instanceRole": "primary"}},
		ports: []corev1.ContainerPort{{Name: "postgresql", ContainerPort: 5432}},
	}
}

// TestKubernetesPostgres checks what the component postgres makes of prod
// in the overlay postgres: every service that can keep its data in
// PostgreSQL reads its connection string from the Secret made in the
// cluster, has no volume and rolls its pods one by one; the Inventory and
// the Checkout run two or three replicas on the shared database; the
// pools, at the height of a rollout, stay under the server's
// max_connections. TestKubernetes checks its NetworkPolicies, as every
// overlay's: each pod's egress is exactly DNS, its database's pods and the
// services it calls (k8s_egress_test.go).
func TestKubernetesPostgres(t *testing.T) {
	c := buildOverlay(t, "postgres")
	pods := c.pods(t)
	var onPostgres []*pod
	for _, p := range pods {
		if p.onPostgres(t) {
			onPostgres = append(onPostgres, p)
		}
	}

	t.Run("every service with state reads its URL from the Secret", func(t *testing.T) {
		var from *corev1.SecretKeySelector
		for _, p := range pods {
			f, ok := p.cmd.flags["database-url"]
			if !ok {
				continue
			}
			if !p.onPostgres(t) {
				t.Errorf("%s: %s can keep its data in PostgreSQL, but the component postgres does not point it there (DATABASE_URL from Secret %s)", p, p.cmd, databaseSecret)
				continue
			}
			// The variable it takes the URL from, by the binary's precedence.
			var name string
			for _, k := range append([]string{f.Env}, f.AltEnv...) {
				if p.env[k] != "" {
					name = k
					break
				}
			}
			ref := p.fromSecret[name]
			switch {
			case ref == nil:
				t.Errorf("%s: %s is a value in the manifests: want it from a Secret made in the cluster (valueFrom.secretKeyRef), as it holds a password", p, name)
			case from == nil:
				from = ref
			case ref.Name != from.Name || ref.Key != from.Key:
				t.Errorf("%s: %s from key %s of Secret %s, others from key %s of %s: want one database, each service in its schema", p, name, ref.Key, ref.Name, from.Key, from.Name)
			}
			if ref != nil && isTrue(ref.Optional) {
				t.Errorf("%s: %s from an optional key: without it the service would start on an SQLite file on the read-only root file system", p, name)
			}
		}
		if len(onPostgres) == 0 {
			t.Fatal("no Deployment keeps its data in PostgreSQL")
		}
	})

	t.Run("no volume, and rolling updates", func(t *testing.T) {
		for _, p := range onPostgres {
			for _, v := range p.dep.Spec.Template.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					t.Errorf("%s keeps its data in PostgreSQL, but mounts PersistentVolumeClaim %s: a ReadWriteOnce claim would hold its replicas to one node", p, v.PersistentVolumeClaim.ClaimName)
				}
			}
			if p.dep.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
				t.Errorf("%s keeps its data in PostgreSQL: want strategy RollingUpdate, which Recreate makes a few seconds of downtime", p)
			}
			if ru := p.dep.Spec.Strategy.RollingUpdate; deref(p.dep.Spec.Replicas) == 1 && (ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 || ru.MaxUnavailable.Type != intstr.Int) {
				t.Errorf("%s: one replica: want rollingUpdate maxUnavailable 0, so that the new pod is ready before the old one stops", p)
			}
		}
		for _, claim := range c.pvcs {
			if !c.claimed(claim.Name) {
				t.Errorf("PersistentVolumeClaim %s: no Deployment mounts it", claim.Name)
			}
		}
	})

	t.Run("a pod waits for its database less long than its startupProbe", func(t *testing.T) {
		for _, p := range pods {
			if !p.onPostgres(t) {
				continue
			}
			wait, err := time.ParseDuration(p.setting(t, "database-wait"))
			if err != nil {
				t.Fatalf("%s: -database-wait: %v", p, err)
			}
			pr := p.c.StartupProbe
			if pr == nil {
				t.Errorf("%s: no startupProbe", p)
				continue
			}
			budget := time.Duration(pr.PeriodSeconds*pr.FailureThreshold) * time.Second
			if wait >= budget {
				t.Errorf("%s: -database-wait %v, at or past its startupProbe's %v: the kubelet restarts it before it can say why it gave up", p, wait, budget)
			}
		}
	})

	t.Run("the Inventory and the Checkout run replicas on the shared database", func(t *testing.T) {
		for _, cmd := range []string{"inventory", "checkout"} {
			for _, p := range runningIn(pods, cmd) {
				if n := deref(p.dep.Spec.Replicas); n < 2 || n > 3 || !p.onPostgres(t) {
					t.Errorf("%s: %d replicas, on PostgreSQL %v: want 2 or 3 on the shared database, as the concurrency tests run them", p, n, p.onPostgres(t))
				}
			}
		}
	})

	t.Run("the pools stay under max_connections", func(t *testing.T) {
		total := 0
		for _, p := range onPostgres {
			replicas := int(deref(p.dep.Spec.Replicas))
			if h := c.hpaOf(p.dep.Name); h != nil {
				replicas = int(h.Spec.MaxReplicas)
			}
			surge := 0
			if p.dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				ms := intstr.FromString("25%") // Kubernetes' default
				if ru := p.dep.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
					ms = *ru.MaxSurge
				}
				var err error
				if surge, err = intstr.GetScaledValueFromIntOrPercent(&ms, replicas, true); err != nil {
					t.Fatal(err)
				}
			}
			conns, err := strconv.Atoi(p.setting(t, "database-max-conns"))
			if err != nil {
				t.Fatal(err)
			}
			conns += connectionsBesidesPool(p.cmd.path[0])
			t.Logf("%s: (%d replicas + %d during a rollout) × %d connections", p.dep.Name, replicas, surge, conns)
			total += (replicas + surge) * conns
		}
		if total > maxDatabaseConnections {
			t.Errorf("the pools open %d connections at most, past %d (PostgreSQL's default max_connections of 100, less what operators need): lower -database-max-conns, or raise max_connections and this bound", total, maxDatabaseConnections)
		}
	})

	t.Run("the server's CA from the Secret", func(t *testing.T) {
		for _, p := range onPostgres {
			u, err := url.Parse(p.setting(t, "database-url"))
			if err != nil {
				t.Fatal(err)
			}
			ca := u.Query().Get("sslrootcert")
			if ca == "" || ca == "system" {
				continue
			}
			mnt, v := p.mountOf(ca)
			switch {
			case v == nil || v.Secret == nil || v.Secret.SecretName != databaseSecret:
				t.Errorf("%s: sslrootcert=%s, as docs/deployment.md says, but no volume of Secret %s is mounted there", p, ca, databaseSecret)
			case !mnt.ReadOnly:
				t.Errorf("%s: the volume %s is mounted read-write", p, v.Name)
			case !isTrue(v.Secret.Optional):
				t.Errorf("%s: the volume %s: want optional: true, for a Secret with no ca.crt (sslrootcert=system, or no TLS)", p, v.Name)
			case !slices.ContainsFunc(v.Secret.Items, func(it corev1.KeyToPath) bool {
				return it.Key == "ca.crt" && path.Join(mnt.MountPath, it.Path) == path.Clean(ca)
			}):
				t.Errorf("%s: the volume %s does not put the key ca.crt at %s", p, v.Name, ca)
			}
		}
	})
}

// claimed reports whether a Deployment mounts the PersistentVolumeClaim.
func (c *cluster) claimed(name string) bool {
	for _, d := range c.deployments {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name {
				return true
			}
		}
	}
	return false
}
