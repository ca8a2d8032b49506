"""Every object, as `apply -f k8s/`, `apply -k k8s/`, each overlay in examples/ and the chart
(its defaults and each values file of charts/voting-app/ci/) give them, against the Kubernetes
schemas of 1.30 (the oldest version SPEC 10 supports: the preStop `sleep` action) and of the
newest version kubernetes-validate knows, strictly (an unknown field fails). Unlike the
`kubernetes-validate` command, which only warns about a kind it has no schema for and exits 0, a
missing schema fails here."""

import copy
import json
import subprocess

import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version

from checks import chart, manifests
from checks.monitoring import objects as monitoring

OLDEST_SUPPORTED = "1.30.0"
# The Prometheus Operator's objects are checked against the operator's own models, which also
# refuse a field they do not know (checks/monitoring/objects.py); the other custom resources by
# custom_resource_problems below.
CUSTOM_GROUPS = {monitoring.OPERATOR_GROUP: monitoring.custom_resource_problems}


def sources():
    yield "apply -f k8s", manifests.apply_f()
    yield "apply -k k8s", manifests.kustomize()
    for overlay in manifests.overlays():
        yield f"kustomize {overlay.relative_to(manifests.REPOSITORY)}", manifests.kustomize(overlay)
    for name, objects in chart.renders():
        yield f"helm template ({name})", objects


# The schemas of the components' custom resources (KEDA's ScaledObject, the Gateway API's
# kinds), from the packages of custom-resources/package.json (`make tools` installs them).
CUSTOM_RESOURCE_SCHEMAS = manifests.REPOSITORY / "checks" / "custom-resources" / "validate.mjs"


def custom_resource_problems(obj):
    """`obj`'s problems by the custom resource schemas, or None when they do not know its kind.
    Those schemas check types, required fields and enumerations, not unknown field names."""
    checked = subprocess.run(
        ["node", str(CUSTOM_RESOURCE_SCHEMAS)],
        input=json.dumps([obj]),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(checked.stdout)[0]


def schema_problems(objects, version):
    problems = []
    for obj in objects:
        group = obj["apiVersion"].rpartition("/")[0]
        if group in CUSTOM_GROUPS:
            problems += CUSTOM_GROUPS[group](obj)
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            problems.append(f"{manifests.describe(obj)}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            custom = custom_resource_problems(obj)
            if custom is None:
                problems.append(f"{manifests.describe(obj)}: {error.message}")
            else:
                problems += [f"{manifests.describe(obj)}: {problem}" for problem in custom]
    return problems


def distinct_objects():
    """Every object of every source once: the sources share most of their objects, and a
    validation takes a tenth of a second. Objects that differ only in their namespace and
    Helm's labels (k8s/ and the chart's) validate alike: both are free-form strings."""
    distinct = {}
    for source, objects in sources():
        for obj in objects:
            distinct.setdefault(json.dumps(chart.plain(obj), sort_keys=True), (source, obj))
    return list(distinct.values())


@pytest.mark.parametrize("version", [OLDEST_SUPPORTED, latest_version()])
def test_every_object_validates_strictly(version):
    objects = distinct_objects()
    assert {source for source, _ in objects} >= {"apply -f k8s"}
    for source, obj in objects:
        assert schema_problems([obj], version) == [], source


def test_an_unknown_field_fails(applied_once):
    broken = copy.deepcopy(applied_once)
    deployment = manifests.find(broken, "Deployment", "vote")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    problems = schema_problems(broken, OLDEST_SUPPORTED)
    assert any("readinesProbe" in problem for problem in problems), problems


def test_a_field_newer_than_the_oldest_version_fails(applied_once):
    # Pod-level `resources` came in Kubernetes 1.32: the 1.30 schema must refuse it.
    broken = copy.deepcopy(applied_once)
    deployment = manifests.find(broken, "Deployment", "vote")
    deployment["spec"]["template"]["spec"]["resources"] = {"requests": {"cpu": "1"}}
    assert schema_problems(broken, OLDEST_SUPPORTED) != []


def test_an_unknown_field_of_a_custom_resource_fails():
    monitor = manifests.find(manifests.kustomize(monitoring.OVERLAY), "PodMonitor", "worker")
    monitor["spec"]["podMetricEndpoints"] = monitor["spec"]["podMetricsEndpoints"]
    problems = schema_problems([monitor], latest_version())
    assert problems == ["PodMonitor voting-app/worker: spec.podMetricEndpoints: not a field of its schema"]


def test_a_kind_without_a_schema_fails():
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert schema_problems([unknown], latest_version()) != []


def test_a_custom_resource_is_checked_against_its_own_schema():
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "worker"},
        "spec": {"scaleTargetRef": {"name": "worker"}, "maxReplicaCount": "four",
                 "triggers": [{"type": "redis", "metadata": {"listName": "votes"}}]},
    }
    problems = schema_problems([scaled], latest_version())
    assert problems == ["ScaledObject worker: data/spec/maxReplicaCount must be integer"]
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "vote"},
        "spec": {"rules": [{"matches": [{"path": {"type": "Prefix", "value": "/"}}]}]},
    }
    assert any("must be equal to one of the allowed values" in p
               for p in schema_problems([route], latest_version()))
