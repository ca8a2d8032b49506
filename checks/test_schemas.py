"""Every object, as `apply -f k8s/`, `apply -k k8s/` and each overlay in examples/ give them,
against the Kubernetes schemas of 1.30 (the oldest version SPEC 10 supports: the preStop
`sleep` action) and of the newest version kubernetes-validate knows, strictly (an unknown field
fails). Unlike the `kubernetes-validate` command, which only warns about a kind it has no schema
for and exits 0, a missing schema fails here."""

import copy
import json

import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version

from checks import manifests
from checks.monitoring import objects as monitoring

OLDEST_SUPPORTED = "1.30.0"
# Objects of custom resource groups have no schema in kubernetes-validate; each group here is
# checked against its own (the Prometheus Operator's: checks/monitoring/objects.py).
CUSTOM_GROUPS = {monitoring.OPERATOR_GROUP: monitoring.custom_resource_problems}


def sources():
    yield "apply -f k8s", manifests.apply_f()
    yield "apply -k k8s", manifests.kustomize()
    for overlay in manifests.overlays():
        yield f"kustomize {overlay.relative_to(manifests.REPOSITORY)}", manifests.kustomize(overlay)


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
            problems.append(f"{manifests.describe(obj)}: {error.message}")
    return problems


def distinct_objects():
    """Every object of every source once: the sources share most of their objects, and a
    validation takes a tenth of a second."""
    distinct = {}
    for source, objects in sources():
        for obj in objects:
            distinct.setdefault(json.dumps(obj, sort_keys=True), (source, obj))
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
