package deploy

import (
	"fmt"
	"math/big"
	"net"
	"slices"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// destination is where a pod connects: another pod (its namespace, their
// labels, and its container ports, for named ports) or an address outside
// the cluster.
type destination struct {
	peer
	ip    string                 // outside the cluster; "" for a pod
	ports []corev1.ContainerPort // a pod's
}

// Destinations besides the overlay's own pods. The cluster's DNS is the
// one the pods that dial names need; the others are where a pod taken over
// would go, and none of the shop's may: an address on the Internet, the
// cloud's instance metadata (which hands out the node's credentials on
// AWS, GCP and Azure), and the Kubernetes API, at its Service's virtual
// address (kubeadm's and kind's default) and at a control-plane node's
// address behind it, which is what most network plugins see once
// kube-proxy has translated the connection.
var (
	// kubeDNS is CoreDNS as kubeadm, GKE, EKS and AKS run it. A cluster
	// whose pods ask another DNS changes it with the DNS rules
	// (base/recommendations.yaml says where they are): for NodeLocal
	// DNSCache, destination{ip: "169.254.20.10"}, which a rule's ipBlock
	// of that one address reaches.
	kubeDNS = destination{
		peer:  podOf("kube-system", map[string]string{"k8s-app": "kube-dns"}),
		ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP}},
	}
	internet      = destination{ip: "93.184.215.14"}
	cloudMetadata = destination{ip: "169.254.169.254"}
	apiService    = destination{ip: "10.96.0.1"}
	apiServer     = destination{ip: "172.18.0.2"}
)

// egressPolicies returns the NetworkPolicies that select p's pods for
// Egress: with none, they may connect anywhere.
func (c *cluster) egressPolicies(tb testing.TB, p *pod) []*networkingv1.NetworkPolicy {
	tb.Helper()
	var out []*networkingv1.NetworkPolicy
	for _, np := range c.netpols {
		if np.Namespace == p.dep.Namespace && slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) && matchesLS(tb, &np.Spec.PodSelector, p.dep.Spec.Template.Labels) {
			out = append(out, np)
		}
	}
	return out
}

// egressAllows reports whether p's pods may open a connection to port
// (proto) of dest under the overlay's NetworkPolicies, as Kubernetes
// defines them: any while no policy selects the pods for Egress;
// otherwise one that a rule of one of those policies allows, by port (a
// named port is the destination pod's) and by peer (selectors select
// pods, an ipBlock addresses outside the cluster).
func (c *cluster) egressAllows(tb testing.TB, p *pod, dest destination, port int32, proto corev1.Protocol) bool {
	tb.Helper()
	policies := c.egressPolicies(tb, p)
	for _, np := range policies {
		for _, rule := range np.Spec.Egress {
			portOK := len(rule.Ports) == 0
			for _, pp := range rule.Ports {
				if protocolOf(pp.Protocol) != proto {
					continue
				}
				switch {
				case pp.Port == nil:
					portOK = true
				case pp.Port.Type == intstr.String:
					for _, cp := range dest.ports {
						if cp.Name == pp.Port.StrVal && cp.ContainerPort == port && protocolOf(&cp.Protocol) == proto {
							portOK = true
						}
					}
				case pp.Port.IntVal == port, pp.EndPort != nil && pp.Port.IntVal <= port && port <= *pp.EndPort:
					portOK = true
				}
			}
			peerOK := len(rule.To) == 0
			for _, to := range rule.To {
				switch {
				case to.IPBlock != nil:
					if dest.ip != "" && inIPBlock(tb, to.IPBlock, dest.ip) {
						peerOK = true
					}
				case dest.ip == "":
					nsOK := dest.namespace == np.Namespace
					if to.NamespaceSelector != nil {
						nsOK = matchesLS(tb, to.NamespaceSelector, dest.nsLabels)
					}
					if nsOK && (to.PodSelector == nil || matchesLS(tb, to.PodSelector, dest.podLabels)) {
						peerOK = true
					}
				}
			}
			if portOK && peerOK {
				return true
			}
		}
	}
	return len(policies) == 0
}

// protocolOf is a port's protocol: TCP unless it says.
func protocolOf(p *corev1.Protocol) corev1.Protocol {
	if p == nil || *p == "" {
		return corev1.ProtocolTCP
	}
	return *p
}

// inIPBlock reports whether ip is in the block's CIDR and in none of its
// exceptions.
func inIPBlock(tb testing.TB, b *networkingv1.IPBlock, ip string) bool {
	tb.Helper()
	addr := net.ParseIP(ip)
	_, cidr, err := net.ParseCIDR(b.CIDR)
	if err != nil {
		tb.Errorf("ipBlock %s: %v", b.CIDR, err)
		return false
	}
	if !cidr.Contains(addr) {
		return false
	}
	for _, e := range b.Except {
		if _, ex, err := net.ParseCIDR(e); err == nil && ex.Contains(addr) {
			return false
		}
	}
	return true
}

// privateNetwork reports whether every address of cidr is private (RFC
// 1918, or IPv6's fc00::/7): where a database of your own network is, and
// never the Internet or the link-local block of the cloud's metadata.
func privateNetwork(cidr *net.IPNet) bool {
	last := new(big.Int).SetBytes(cidr.IP)
	ones, bits := cidr.Mask.Size()
	last.Or(last, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits-ones)), big.NewInt(1)))
	lastIP := make(net.IP, len(cidr.IP))
	last.FillBytes(lastIP)
	return cidr.IP.IsPrivate() && lastIP.IsPrivate()
}

// ownPolicies returns the NetworkPolicies of d's pods alone: those that
// select its pods and no other Deployment's, which leaves out the
// namespace's default deny.
func (c *cluster) ownPolicies(tb testing.TB, d *appsv1.Deployment) []*networkingv1.NetworkPolicy {
	tb.Helper()
	var out []*networkingv1.NetworkPolicy
	for _, np := range c.netpols {
		if np.Namespace != d.Namespace || !selectsLS(tb, &np.Spec.PodSelector, d.Spec.Template.Labels) {
			continue
		}
		if len(c.selectedBy(func(l map[string]string) bool { return selectsLS(tb, &np.Spec.PodSelector, l) })) == 1 {
			out = append(out, np)
		}
	}
	return out
}

// allowsNothing reports whether np has no rule in either direction: it
// only isolates the pods it selects.
func allowsNothing(np *networkingv1.NetworkPolicy) bool {
	return len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0
}

// egressNeeds is what the pods of a Deployment connect to, from what its
// containers' commands are set to do.
type egressNeeds struct {
	callees  []*pod // the servers of the services it calls (-catalog-host, ...)
	database bool   // it keeps its data in PostgreSQL
	dns      bool   // it dials names: a service's, or the database's
}

// needsOf returns what d's pods connect to: the services its containers'
// commands call (each -*-host flag that is set, the binary's own call
// graph), and their database.
func (c *cluster) needsOf(tb testing.TB, d *appsv1.Deployment, pods []*pod) egressNeeds {
	tb.Helper()
	var n egressNeeds
	for _, p := range pods {
		if p.dep != d {
			continue
		}
		for _, flag := range sortedKeys(calls) {
			if _, ok := p.cmd.flags[flag]; !ok || p.setting(tb, flag) == "" {
				continue
			}
			for _, srv := range runningIn(pods, calls[flag]) {
				if !slices.Contains(n.callees, srv) {
					n.callees = append(n.callees, srv)
				}
			}
		}
		n.database = n.database || p.onPostgres(tb)
		// Tracing sends spans to a collector that no rule lets the pods
		// reach and that this test does not know: turning it on in a
		// manifest comes with a rule to the collector, and this test's
		// knowledge of it.
		for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
			if v := p.env[k]; v != "" {
				tb.Errorf("%s: %s=%s turns tracing on, but no egress rule lets its spans reach the collector, and the test does not know it: add the collector's pods and port to the NetworkPolicies, and to egressNeeds", p, k, v)
			}
		}
	}
	n.dns = len(n.callees) > 0 || n.database
	return n
}

// checkEgress checks where p's pods may connect under the overlay's
// NetworkPolicies: exactly what they need. Each rule of each policy that
// selects them for Egress names its ports, one by one, and its peers (a
// rule with no to reaches every address, the cloud's metadata, the
// Kubernetes API and the Internet included), and each peer is one of what
// they need: the cluster's DNS on 53, the pods of a service they call on
// its gRPC port (where its clients check its health too), their database
// on 5432 (pods that are none of the overlay's, or a private network).
// Then, connection by connection: each of those is reached; DNS only by a
// pod that dials names, as queries carry data out to any domain's
// servers; no other port of the overlay's pods; neither a pod that is not
// the shop's, nor the Internet, the cloud's metadata or the Kubernetes
// API.
func (c *cluster) checkEgress(t *testing.T, p *pod, pods []*pod) {
	t.Helper()
	ns := c.namespaces[0]
	need := c.needsOf(t, p.dep, pods)
	if len(c.egressPolicies(t, p)) == 0 {
		t.Errorf("%s: no NetworkPolicy restricts its egress: its pods may connect anywhere, the cloud's metadata, the Kubernetes API and the Internet included", p)
		return
	}

	// Rule by rule.
	for _, np := range c.egressPolicies(t, p) {
		for i, rule := range np.Spec.Egress {
			where := fmt.Sprintf("%s: NetworkPolicy %s, egress rule %d", p.dep.Name, np.Name, i)
			if len(rule.To) == 0 {
				t.Errorf("%s has no to: its pods reach every address on its ports, in the cluster and outside it (the cloud's metadata, the Kubernetes API, the Internet): name the peers", where)
			}
			if len(rule.Ports) == 0 {
				t.Errorf("%s names no port: its peers are reached on every port", where)
			}
			for _, pp := range rule.Ports {
				if pp.Port == nil || pp.EndPort != nil {
					t.Errorf("%s: every port, or a range: name the port", where)
				}
			}
			isPort := func(port int32, protos ...corev1.Protocol) bool {
				for _, pp := range rule.Ports {
					if pp.Port == nil || pp.EndPort != nil || pp.Port.Type != intstr.Int || pp.Port.IntVal != port || !slices.Contains(protos, protocolOf(pp.Protocol)) {
						return false
					}
				}
				return true
			}
			dns := func(peer string) {
				if !need.dns {
					t.Errorf("%s: %s, the cluster's DNS, but %s dials no name (it calls no service and has no database): a pod taken over would have DNS queries as its way out", where, peer, p.dep.Name)
				}
				if !isPort(53, corev1.ProtocolUDP, corev1.ProtocolTCP) {
					t.Errorf("%s: %s, the cluster's DNS, on ports other than 53", where, peer)
				}
			}
			database := func(peer string) {
				switch {
				case !need.database:
					t.Errorf("%s: %s, which is none of the pods it calls, and it has no database", where, peer)
				case !isPort(5432, corev1.ProtocolTCP):
					t.Errorf("%s: %s, its database, on ports other than 5432/TCP", where, peer)
				}
			}
			for _, to := range rule.To {
				switch {
				case to.IPBlock != nil:
					_, cidr, err := net.ParseCIDR(to.IPBlock.CIDR)
					if err != nil {
						t.Errorf("%s: ipBlock %s: %v", where, to.IPBlock.CIDR, err)
						continue
					}
					// The DNS as an address (NodeLocal DNSCache's), if kubeDNS
					// says so: that one address alone.
					if ones, bits := cidr.Mask.Size(); kubeDNS.ip != "" && ones == bits && cidr.Contains(net.ParseIP(kubeDNS.ip)) {
						dns(fmt.Sprintf("ipBlock %s", to.IPBlock.CIDR))
						continue
					}
					if !privateNetwork(cidr) {
						t.Errorf("%s: ipBlock %s, which holds addresses outside your private networks (0.0.0.0/0 is every address, 169.254.0.0/16 the cloud's metadata): a database there is at a private address: name it, or its subnets", where, to.IPBlock.CIDR)
						continue
					}
					database(fmt.Sprintf("ipBlock %s", to.IPBlock.CIDR))
				case to.PodSelector == nil || emptySelector(t, to.PodSelector):
					t.Errorf("%s: a peer with no podSelector, or an empty one: every pod of its namespaces (%v): name the pods", where, to.NamespaceSelector)
				case to.NamespaceSelector != nil && matchesLS(t, to.NamespaceSelector, kubeDNS.nsLabels) && matchesLS(t, to.PodSelector, kubeDNS.podLabels):
					if matchesLS(t, to.NamespaceSelector, withName(ns.Name, ns.Labels)) || matchesLS(t, to.NamespaceSelector, withName("default", nil)) {
						t.Errorf("%s: the cluster's DNS by a namespaceSelector (%v) that selects other namespaces than %s: any pod labelled like it there would be reached", where, to.NamespaceSelector, kubeDNS.namespace)
					}
					dns(fmt.Sprintf("pods %v of namespaces %v", to.PodSelector, to.NamespaceSelector))
				case to.NamespaceSelector != nil && matchesLS(t, to.NamespaceSelector, withName(ns.Name, ns.Labels)):
					t.Errorf("%s: a namespaceSelector (%v) that selects the namespace's own pods, and maybe others: name them with a podSelector alone", where, to.NamespaceSelector)
				case to.NamespaceSelector != nil:
					database(fmt.Sprintf("pods %v of namespaces %v", to.PodSelector, to.NamespaceSelector))
				default:
					deps := c.selectedBy(func(l map[string]string) bool { return selectsLS(t, to.PodSelector, l) })
					if len(deps) == 0 {
						database(fmt.Sprintf("pods %v", to.PodSelector))
						continue
					}
					for _, d := range deps {
						srv := slices.IndexFunc(need.callees, func(s *pod) bool { return s.dep == d })
						if srv < 0 {
							t.Errorf("%s: the pods of %s, which it does not call", where, d.Name)
							continue
						}
						callee := need.callees[srv]
						for _, pp := range rule.Ports {
							if pp.Port == nil || protocolOf(pp.Protocol) != corev1.ProtocolTCP || strconv.Itoa(int(callee.containerPort(*pp.Port))) != callee.setting(t, "port") {
								t.Errorf("%s: port %v of %s, which is not its gRPC port (%s): the health and admin ports are the kubelet's and Prometheus's", where, pp.Port, d.Name, callee.setting(t, "port"))
							}
						}
					}
				}
			}
		}
	}

	// Connection by connection.
	for _, proto := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
		switch got := c.egressAllows(t, p, kubeDNS, 53, proto); {
		case need.dns && !got:
			t.Errorf("%s: its NetworkPolicies let it reach no DNS server on port 53/%s: it dials names", p, proto)
		case !need.dns && got:
			t.Errorf("%s: its NetworkPolicies let it reach the cluster's DNS on 53/%s, but it dials no name", p, proto)
		}
	}
	for _, srv := range pods {
		dest := destination{peer: peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: srv.dep.Spec.Template.Labels}, ports: srv.c.Ports}
		for _, cp := range srv.c.Ports {
			want := slices.Contains(need.callees, srv) && strconv.Itoa(int(cp.ContainerPort)) == srv.setting(t, "port")
			switch got := c.egressAllows(t, p, dest, cp.ContainerPort, corev1.ProtocolTCP); {
			case want && !got:
				t.Errorf("%s calls %s, but its NetworkPolicies do not let it reach port %s (%d) of %s", p, srv.dep.Name, cp.Name, cp.ContainerPort, srv)
			case !want && got:
				t.Errorf("%s: its NetworkPolicies let it reach port %s (%d) of %s, which it does not call there", p, cp.Name, cp.ContainerPort, srv)
			}
		}
	}
	reachesDatabase := c.egressAllows(t, p, managedPostgres, 5432, corev1.ProtocolTCP) || c.egressAllows(t, p, cnpgPrimary(ns), 5432, corev1.ProtocolTCP)
	switch {
	case need.database && !reachesDatabase:
		t.Errorf("%s keeps its data in PostgreSQL, but its NetworkPolicies let it reach port 5432 neither of a managed server (%s) nor of a CloudNativePG primary in namespace %s", p, managedPostgres.ip, ns.Name)
	case !need.database && reachesDatabase:
		t.Errorf("%s has no database, but its NetworkPolicies let it reach PostgreSQL's port 5432", p)
	}
	for _, out := range []struct {
		what  string
		dest  destination
		port  int32
		proto corev1.Protocol
	}{
		{"an address on the Internet", internet, 443, corev1.ProtocolTCP},
		{"a DNS server on the Internet", internet, 53, corev1.ProtocolUDP},
		{"a DNS server on the Internet", internet, 53, corev1.ProtocolTCP},
		{"the cloud's metadata address", cloudMetadata, 80, corev1.ProtocolTCP},
		{"the Kubernetes API's Service", apiService, 443, corev1.ProtocolTCP},
		{"a Kubernetes API server", apiServer, 6443, corev1.ProtocolTCP},
		{"a pod of the namespace that is not the shop's", destination{peer: peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: map[string]string{"app": "debug"}}, ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 50051}}}, 50051, corev1.ProtocolTCP},
		{"a pod of another namespace", destination{peer: podOf("default", map[string]string{"app": "curl"}), ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 50051}}}, 50051, corev1.ProtocolTCP},
	} {
		if c.egressAllows(t, p, out.dest, out.port, out.proto) {
			t.Errorf("%s: its NetworkPolicies let it reach %s (port %d/%s)", p, out.what, out.port, out.proto)
		}
	}
}

// emptySelector reports whether sel selects everything.
func emptySelector(tb testing.TB, sel *metav1.LabelSelector) bool {
	tb.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		tb.Errorf("selector %v: %v", sel, err)
		return false
	}
	return s.Empty()
}

// checkSidesAgree checks that each gRPC port of the overlay is reached by
// the pods its ingress lets in, and by no other of the overlay's: a
// connection needs both the caller's egress and the server's ingress, so
// a rule on one side alone is either dead or a caller cut off.
func (c *cluster) checkSidesAgree(t *testing.T, pods []*pod) {
	t.Helper()
	ns := c.namespaces[0]
	for _, from := range pods {
		caller := peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: from.dep.Spec.Template.Labels}
		for _, srv := range pods {
			if srv.dep == from.dep {
				continue
			}
			dest := destination{peer: peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: srv.dep.Spec.Template.Labels}, ports: srv.c.Ports}
			for _, cp := range srv.c.Ports {
				if strconv.Itoa(int(cp.ContainerPort)) != srv.setting(t, "port") || !srv.servesGRPC() {
					continue
				}
				out := c.egressAllows(t, from, dest, cp.ContainerPort, corev1.ProtocolTCP)
				in := c.reaches(t, caller, srv, cp)
				switch {
				case out && !in:
					t.Errorf("%s's egress reaches the gRPC port of %s, whose ingress does not let it in: the calls fail; let it in, or drop the egress rule", from.dep.Name, srv.dep.Name)
				case in && !out:
					t.Errorf("the ingress of %s lets %s in on its gRPC port, whose egress does not reach it: the calls fail; add the egress rule, or drop the ingress one", srv.dep.Name, from.dep.Name)
				}
			}
		}
	}
}

// checkDefaultDeny checks the namespace's default: a policy that allows
// nothing, in both directions, selects every pod of the namespace, the
// overlay's and a pod added without a policy of its own, which is then
// reached by nothing and reaches nothing, DNS included; not a
// CloudNativePG Cluster's, should the database run there; and each
// Deployment has a policy of its own for both directions, so that the
// default is defence in depth, not the one thing that closes its pods.
// Policies add up, so the default takes nothing from the services' rules
// ("who reaches which port" checks Prometheus's scrapes, checkEgress and
// checkSidesAgree the calls). The kubelet's probes come from the node,
// which Kubernetes lets in whatever the policies say.
func (c *cluster) checkDefaultDeny(t *testing.T, pods []*pod) {
	t.Helper()
	ns := c.namespaces[0]
	newcomer := &pod{
		dep: &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "newcomer", Namespace: ns.Name},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
				Labels: map[string]string{"app.kubernetes.io/name": "newcomer", "app.kubernetes.io/part-of": "bookshop"},
			}}},
		},
		c: &corev1.Container{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
	}
	var deny bool
	for _, np := range c.netpols {
		if np.Namespace != ns.Name || !allowsNothing(np) ||
			!slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) ||
			!matchesLS(t, &np.Spec.PodSelector, newcomer.dep.Spec.Template.Labels) {
			continue
		}
		deny = true
		for _, d := range c.deployments {
			if !matchesLS(t, &np.Spec.PodSelector, d.Spec.Template.Labels) {
				t.Errorf("NetworkPolicy %s, the namespace's default deny, does not select the pods of %s", np.Name, d.Name)
			}
		}
		// docs/deployment.md's CloudNativePG Cluster may run in the
		// namespace, and its instances need the Kubernetes API, their
		// operator and each other.
		if db := cnpgPrimary(ns); matchesLS(t, &np.Spec.PodSelector, db.podLabels) {
			t.Errorf("NetworkPolicy %s, the namespace's default deny, selects the pods of a CloudNativePG Cluster (%v): in this namespace, as docs/deployment.md allows, they would lose the Kubernetes API, their operator and each other", np.Name, db.podLabels)
		}
	}
	if !deny {
		t.Errorf("no NetworkPolicy of namespace %s allows nothing in both directions to every pod: one added without a policy of its own may connect anywhere, and be reached by any pod", ns.Name)
	}
	if c.egressAllows(t, newcomer, kubeDNS, 53, corev1.ProtocolUDP) || c.egressAllows(t, newcomer, kubeDNS, 53, corev1.ProtocolTCP) {
		t.Errorf("a pod with no policy of its own reaches the cluster's DNS")
	}
	if c.egressAllows(t, newcomer, internet, 443, corev1.ProtocolTCP) {
		t.Errorf("a pod with no policy of its own reaches the Internet")
	}
	for _, srv := range pods {
		for _, cp := range srv.c.Ports {
			dest := destination{peer: peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: srv.dep.Spec.Template.Labels}, ports: srv.c.Ports}
			if c.egressAllows(t, newcomer, dest, cp.ContainerPort, corev1.ProtocolTCP) {
				t.Errorf("a pod with no policy of its own reaches port %s of %s", cp.Name, srv)
			}
		}
		from := peer{namespace: ns.Name, nsLabels: withName(ns.Name, ns.Labels), podLabels: srv.dep.Spec.Template.Labels}
		if c.reaches(t, from, newcomer, newcomer.c.Ports[0]) {
			t.Errorf("%s reaches a pod with no policy of its own", srv)
		}
	}
	for _, from := range []peer{podOf(scraperNamespace, map[string]string{"app.kubernetes.io/name": "prometheus"}), podOf("default", map[string]string{"app": "curl"})} {
		if c.reaches(t, from, newcomer, newcomer.c.Ports[0]) {
			t.Errorf("a pod of namespace %s reaches a pod with no policy of its own", from.namespace)
		}
	}
	for _, d := range c.deployments {
		var in, out bool
		for _, np := range c.ownPolicies(t, d) {
			in = in || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
			out = out || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
		if !in || !out {
			t.Errorf("Deployment %s: its own NetworkPolicies restrict Ingress %v, Egress %v: want both, so that the namespace's default deny is not all that closes its pods", d.Name, in, out)
		}
	}
}
