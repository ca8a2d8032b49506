"""What each opt-in component of k8s/components/ changes in what the checks expect, and the
checks an overlay of examples/ must pass: the base's, with the expectations of the components
its kustomization lists. A component not named here (or an overlay with none) changes nothing.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from checks import invariants, netpol
from checks.manifests import K8S
from checks.netpol import Peer

COMPONENTS = K8S / "components"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class Expectations:
    # New peers that act as one SPEC 10's table names: their name -> that one's.
    roles: dict = field(default_factory=dict)
    # Peers of SPEC 10's table that the component removes (their edges go with them).
    removed: frozenset = frozenset()
    # Clients the component lets in that no object of the overlay runs.
    peers: tuple = ()
    # Edges SPEC 10 leaves to the component ("a component that adds a client adds its own
    # policy").
    edges: frozenset = frozenset()
    # The Services and ServiceAccounts that several workloads share, by design: the versions
    # of one program.
    shared: frozenset = frozenset()
    # Workloads whose pods carry a `version` label, by design.
    versioned: frozenset = frozenset()

    def __or__(self, other):
        return Expectations(
            roles={**self.roles, **other.roles},
            removed=self.removed | other.removed,
            peers=self.peers + other.peers,
            edges=self.edges | other.edges,
            shared=self.shared | other.shared,
            versioned=self.versioned | other.versioned,
        )


# KEDA's operator, where its release manifest and its chart put it.
KEDA_OPERATOR = Peer(
    "keda-operator",
    "10.244.2.7",
    "keda",
    {"kubernetes.io/metadata.name": "keda"},
    {"app.kubernetes.io/name": "keda-operator", "app": "keda-operator"},
    {"metrics": (8080, "TCP")},
)

EXPECTATIONS = {
    # The Job's pods are load generators.
    "seed": Expectations(roles={"seed": "load"}),
    # KEDA's operator is a pod of another namespace that also reads the queue's length.
    "worker-autoscaling": Expectations(
        roles={"keda-operator": "other-namespace"},
        peers=(KEDA_OPERATOR,),
        edges=frozenset({("keda-operator", "redis", 6379, "TCP")}),
    ),
    # Two Deployments of vote behind the Service `vote`, each its own version.
    "manual-rollout": Expectations(
        roles={"vote-v1": "vote", "vote-v2": "vote"},
        removed=frozenset({"vote"}),
        shared=frozenset({"vote"}),
        versioned=frozenset({"vote-v1", "vote-v2"}),
    ),
    # The collector and its store run in a namespace of their own: to the app, pods of
    # another namespace.
    "logging": Expectations(roles={"fluent-bit": "other-namespace", "loki": "other-namespace"}),
}


def kustomization(directory):
    for name in KUSTOMIZATION_NAMES:
        path = Path(directory) / name
        if path.exists():
            return yaml.safe_load(path.read_text())
    raise FileNotFoundError(f"no kustomization in {directory}")


def components_of(overlay):
    """The names (paths under k8s/components/, `seed/sustained`) of the components `overlay`
    lists, and of the components those list in turn."""
    found = []
    pending = [Path(overlay)]
    while pending:
        directory = pending.pop(0)
        for entry in kustomization(directory).get("components") or []:
            path = (directory / entry).resolve()
            found.append(path.relative_to(COMPONENTS.resolve()).as_posix())
            pending.append(path)
    return found


def expectations(overlay):
    combined = Expectations()
    for name in components_of(overlay):
        combined = combined | EXPECTATIONS.get(name, Expectations())
    return combined


def tailored(checks, expected):
    """`checks` (functions of the objects), each told what the components change."""

    def selectors(objects):
        return invariants.selectors(objects, expected.shared)

    def conduct(objects):
        return invariants.conduct(objects, expected.shared)

    def labels(objects):
        return invariants.labels(objects, expected.versioned)

    def edge_problems(objects):
        edges = {
            edge
            for edge in netpol.with_roles(netpol.EXPECTED_EDGES, expected.roles) | expected.edges
            if not expected.removed & {edge[0], edge[1]}
        }
        return netpol.edge_problems(objects, frozenset(edges), expected.peers)

    replacements = {
        invariants.selectors: selectors,
        invariants.labels: labels,
        invariants.conduct: conduct,
        netpol.edge_problems: edge_problems,
    }
    return [replacements.get(check, check) for check in checks]
