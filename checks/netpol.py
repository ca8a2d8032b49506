"""NetworkPolicies evaluated as a cluster does, over every pair of the app's pods and the peers
around them, and the table of edges SPEC section 10 allows.

The rules followed (Kubernetes' NetworkPolicy semantics):
- A pod is isolated for ingress (egress) when some policy of its namespace selects it and has
  `Ingress` (`Egress`) among its policy types; `policyTypes` defaults to Ingress, plus Egress
  when the policy has egress rules. An isolated pod accepts (sends) only what some rule of a
  policy selecting it allows; a pod no policy isolates accepts (sends) everything.
- A connection happens when the source's egress and the destination's ingress both allow it.
- A rule without `from` (`to`) matches every peer, one without `ports` every port. A peer
  with only `podSelector` means pods of the policy's namespace; with `namespaceSelector`, pods
  of the namespaces it selects (and, with both, only those pods); `ipBlock` matches addresses.
- A named port is resolved on the destination pod, for ingress and egress alike.
"""

import ipaddress
from dataclasses import dataclass, field

from checks.manifests import WORKLOAD_KINDS, of_kind, pod_template

NAMESPACE = "voting-app"


@dataclass(frozen=True)
class Peer:
    """Something that opens or accepts connections: a pod, or an address outside the cluster."""

    name: str
    address: str
    # None for an address outside the cluster.
    namespace: str | None = None
    namespace_labels: dict = field(default_factory=dict, hash=False)
    labels: dict = field(default_factory=dict, hash=False)
    # (number, protocol) by port name, and the unnamed ones under their number.
    ports: dict = field(default_factory=dict, hash=False)

    def listening(self):
        return sorted(set(self.ports.values()))


def namespace_labels(objects, name):
    labels = {"kubernetes.io/metadata.name": name}
    for namespace in of_kind(objects, "Namespace"):
        if namespace["metadata"]["name"] == name:
            labels.update(namespace["metadata"].get("labels") or {})
    return labels


def workload_pods(objects):
    """One pod per workload, with the labels and container ports of its template."""
    pods = []
    for number, workload in enumerate(of_kind(objects, *WORKLOAD_KINDS)):
        template = pod_template(workload)
        ports = {}
        for container in template["spec"].get("containers") or []:
            for port in container.get("ports") or []:
                value = (port["containerPort"], port.get("protocol", "TCP"))
                ports[port.get("name", str(port["containerPort"]))] = value
        namespace = workload["metadata"].get("namespace", "default")
        pods.append(
            Peer(
                name=workload["metadata"]["name"],
                address=f"10.244.0.{10 + number}",
                namespace=namespace,
                namespace_labels=namespace_labels(objects, namespace),
                labels=dict(template["metadata"].get("labels") or {}),
                ports=ports,
            )
        )
    return pods


def surroundings(objects):
    """The peers SPEC 10 names besides the app's own pods."""
    return [
        # A browser, or a node forwarding NodePort traffic.
        Peer("outside", "203.0.113.7", ports={"https": (443, "TCP")}),
        # Any pod of another namespace (an Ingress controller, say).
        Peer(
            "other-namespace",
            "10.244.1.5",
            "elsewhere",
            {"kubernetes.io/metadata.name": "elsewhere"},
            {"app": "nginx"},
            {"http": (80, "TCP")},
        ),
        Peer(
            "monitoring",
            "10.244.1.6",
            "monitoring",
            {"kubernetes.io/metadata.name": "monitoring", "voting-app/monitoring": "true"},
            {"app": "prometheus"},
            {"http": (9090, "TCP")},
        ),
        Peer(
            "dns",
            "10.244.1.2",
            "kube-system",
            {"kubernetes.io/metadata.name": "kube-system"},
            {"k8s-app": "kube-dns"},
            {"dns": (53, "UDP"), "dns-tcp": (53, "TCP")},
        ),
        # The seed Job or a test pod.
        Peer(
            "load",
            "10.244.0.90",
            NAMESPACE,
            namespace_labels(objects, NAMESPACE),
            {"voting-app/load": "true"},
        ),
        # `kubectl run` in the namespace, without the load label.
        Peer(
            "unlabelled",
            "10.244.0.91",
            NAMESPACE,
            namespace_labels(objects, NAMESPACE),
            {"run": "debug"},
        ),
    ]


def selects(selector, labels):
    """Whether a label selector (matchLabels and matchExpressions) matches `labels`."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def peer_matches(rule_peer, policy_namespace, peer):
    if "ipBlock" in rule_peer:
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(peer.address)
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if peer.namespace is None:
        return False
    namespace_selector = rule_peer.get("namespaceSelector")
    pod_selector = rule_peer.get("podSelector")
    if namespace_selector is None:
        in_namespace = peer.namespace == policy_namespace
    else:
        in_namespace = selects(namespace_selector, peer.namespace_labels)
    return in_namespace and (pod_selector is None or selects(pod_selector, peer.labels))


def port_matches(rule_ports, destination, port, protocol):
    if not rule_ports:
        return True
    for rule_port in rule_ports:
        if rule_port.get("protocol", "TCP") != protocol:
            continue
        wanted = rule_port.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            if destination.ports.get(wanted) == (port, protocol):
                return True
        elif wanted <= port <= rule_port.get("endPort", wanted):
            return True
    return False


def policy_types(policy):
    spec = policy["spec"]
    if "policyTypes" in spec:
        return set(spec["policyTypes"])
    return {"Ingress", "Egress"} if "egress" in spec else {"Ingress"}


def allows(policies, direction, subject, other, destination, port, protocol):
    """Whether `subject`'s policies let it talk with `other` in `direction` ("Ingress":
    `other` connects to `subject`; "Egress": `subject` connects to `other`)."""
    if subject.namespace is None:
        return True
    selecting = [
        policy
        for policy in policies
        if policy["metadata"].get("namespace", "default") == subject.namespace
        and selects(policy["spec"].get("podSelector") or {}, subject.labels)
        and direction in policy_types(policy)
    ]
    if not selecting:
        return True
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        namespace = policy["metadata"].get("namespace", "default")
        for rule in policy["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            if peers and not any(peer_matches(p, namespace, other) for p in peers):
                continue
            if port_matches(rule.get("ports"), destination, port, protocol):
                return True
    return False


def connects(policies, source, destination, port, protocol):
    return allows(policies, "Egress", source, destination, destination, port, protocol) and allows(
        policies, "Ingress", destination, source, destination, port, protocol
    )


# A port nothing listens on: a policy that opens every port shows up on it.
UNUSED_PORT = (12345, "TCP")


def edge_table(objects, extra_peers=()):
    """(source, destination, port, protocol) -> allowed, for every pair of peers where at least
    one is in the app's namespace, on every port the destination listens on and one it does
    not. Each pair is tried in both directions. `extra_peers` are clients a component brings
    that no object here runs (KEDA's operator, say)."""
    policies = of_kind(objects, "NetworkPolicy")
    peers = workload_pods(objects) + surroundings(objects) + list(extra_peers)
    table = {}
    for source in peers:
        for destination in peers:
            if source is destination:
                continue
            if NAMESPACE not in (source.namespace, destination.namespace):
                continue
            for port, protocol in destination.listening() + [UNUSED_PORT]:
                key = (source.name, destination.name, port, protocol)
                table[key] = connects(policies, source, destination, port, protocol)
    return table


IN_NAMESPACE = ("vote", "worker", "result", "redis", "db", "load", "unlabelled")

# SPEC section 10's edges, and nothing else.
EXPECTED_EDGES = frozenset(
    # Anyone reaches the two public pages. Inside the namespace, where every pod's egress is
    # closed by default, only the load generators are meant to.
    {
        (source, page, port, "TCP")
        for source in ("outside", "other-namespace", "monitoring", "dns", "load")
        for page, port in (("vote", 8080), ("result", 8081))
    }
    # vote and worker reach Redis; worker and result reach PostgreSQL.
    | {
        ("vote", "redis", 6379, "TCP"),
        ("worker", "redis", 6379, "TCP"),
        ("worker", "db", 5432, "TCP"),
        ("result", "db", 5432, "TCP"),
    }
    # Every pod resolves names.
    | {(source, "dns", 53, protocol) for source in IN_NAMESPACE for protocol in ("UDP", "TCP")}
    # Monitoring reaches every metrics port (vote's and result's are their public ports).
    | {("monitoring", "worker", 8082, "TCP")}
)


def with_roles(expected, roles):
    """`expected` plus, for each `peer: role` of `roles`, every edge of `role` with `peer` in
    its place, at either end or both: a component's new peers that act as one SPEC 10 names
    (vote-v1 as vote, the seed Job as a load generator)."""

    def standing_for(name):
        return {name} | {peer for peer, role in roles.items() if role == name}

    return frozenset(
        (source, destination, port, protocol)
        for role_source, role_destination, port, protocol in expected
        for source in standing_for(role_source)
        for destination in standing_for(role_destination)
    )


def edge_problems(objects, expected=EXPECTED_EDGES, extra_peers=()):
    """The differences between what the policies allow and `expected`, one line each."""
    table = edge_table(objects, extra_peers)
    problems = []
    for key, allowed in sorted(table.items()):
        source, destination, port, protocol = key
        edge = f"{source} -> {destination}:{port}/{protocol}"
        if allowed and key not in expected:
            problems.append(f"allowed but not in SPEC 10: {edge}")
        if not allowed and key in expected:
            problems.append(f"in SPEC 10 but denied: {edge}")
    for key in sorted(expected - table.keys()):
        problems.append("in SPEC 10 but never tried (no such peer or port): %s -> %s:%s/%s" % key)
    return problems
