"""The manifests-to-kube-play transform on small manifests of its own (no engine needed)."""

from __future__ import annotations

import itertools

import kube

LABELS = {"app": "queue"}


def statefulset() -> dict:
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "queue-set"},
        "spec": {
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "securityContext": {"runAsUser": 999},
                    "containers": [{
                        "name": "redis",
                        "image": "redis:7.4.8",
                        "ports": [{"name": "redis", "containerPort": 6379}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                         {"name": "password", "mountPath": "/run/secrets/db"}],
                    }],
                    "volumes": [{"name": "password", "secret": {
                        "secretName": "db-password", "defaultMode": 0o440,
                        "items": [{"key": "password", "path": "password"}]}}],
                },
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
        },
    }


def objects() -> list[dict]:
    return [
        {"kind": "Namespace", "metadata": {"name": "voting-app"}},
        {"kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"A": "1"}},
        # "c2VjcmV0" is "secret" in base64.
        {"kind": "Secret", "metadata": {"name": "db-password"}, "data": {"password": "c2VjcmV0"},
         "stringData": {"other": "plain"}},
        {"kind": "Service", "metadata": {"name": "redis"}, "spec": {"selector": LABELS}},
        {"kind": "Service", "metadata": {"name": "elsewhere"}, "spec": {"selector": {"app": "other"}}},
        {"kind": "NetworkPolicy", "metadata": {"name": "redis"}},
        statefulset(),
        None,
    ]


def played() -> kube.Played:
    ports = itertools.count(40000)
    return kube.transform(objects(), lambda image: f"test/{image}", lambda: next(ports))


def by_kind(result: kube.Played, kind: str) -> list[dict]:
    return [document for document in result.documents if document["kind"] == kind]


def test_only_what_podman_plays_is_left_and_the_secret_is_a_config_map():
    result = played()
    assert sorted(document["kind"] for document in result.documents) == [
        "ConfigMap", "ConfigMap", "PersistentVolumeClaim", "Pod"]
    secret = next(cm for cm in by_kind(result, "ConfigMap") if cm["metadata"]["name"] == "db-password")
    assert secret["data"] == {"password": "secret", "other": "plain"}


def test_a_statefulset_becomes_a_pod_named_after_its_service_with_its_claims():
    result = played()
    (pod,) = by_kind(result, "Pod")
    (claim,) = by_kind(result, "PersistentVolumeClaim")
    assert pod["metadata"] == {"name": "redis", "labels": LABELS}
    assert claim["metadata"]["name"] == "data-queue-set-0"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"]}
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "data-queue-set-0"}
    assert volumes["password"] == {"name": "password", "configMap": {
        "name": "db-password", "defaultMode": 0o440, "items": [{"key": "password", "path": "password"}]}}
    assert pod["spec"]["securityContext"] == {"runAsUser": 999}
    assert result.workloads["redis"]["metadata"]["name"] == "queue-set"


def test_ports_go_to_free_loopback_ports_and_images_are_mapped():
    result = played()
    (pod,) = by_kind(result, "Pod")
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "test/redis:7.4.8"
    assert container["ports"] == [
        {"name": "redis", "containerPort": 6379, "hostIP": "127.0.0.1", "hostPort": 40000}]
    assert result.host_ports == {"redis": {"redis": {"redis": 40000}}}


def test_a_workload_no_service_selects_keeps_its_own_name():
    lonely = statefulset()
    lonely["spec"]["template"]["metadata"]["labels"] = {"app": "lonely"}
    result = kube.transform([lonely], lambda image: image, lambda: 1)
    assert [pod["metadata"]["name"] for pod in by_kind(result, "Pod")] == ["queue-set"]
