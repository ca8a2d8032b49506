"""The manifests-to-kube-play transform on small manifests of its own (no engine needed)."""

from __future__ import annotations

import itertools

import kube

LABELS = {"app": "queue"}


def statefulset() -> dict:
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "queue-set", "labels": LABELS},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "securityContext": {"runAsUser": 999},
                    "containers": [{
                        "name": "redis",
                        "image": "redis:7.4.8",
                        "ports": [{"name": "redis", "containerPort": 6379}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                         {"name": "password", "mountPath": "/run/secrets/db"},
                                         {"name": "socket", "mountPath": "/var/run/redis"}],
                    }],
                    "volumes": [
                        {"name": "password", "secret": {
                            "secretName": "db-password", "defaultMode": 0o440,
                            "items": [{"key": "password", "path": "password"}]}},
                        {"name": "socket", "emptyDir": {"sizeLimit": "16Mi"}},
                    ],
                },
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
        },
    }


def deployment() -> dict:
    labels = {"app": "page"}
    return {
        "kind": "Deployment",
        "metadata": {"name": "page"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "page", "image": "voting-app/page:0.1.0"}]}},
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
        {"kind": "Service", "metadata": {"name": "queue"}, "spec": {"selector": {"app": "queue"}}},
        {"kind": "Service", "metadata": {"name": "elsewhere"}, "spec": {"selector": {"app": "other"}}},
        {"kind": "NetworkPolicy", "metadata": {"name": "redis"}},
        statefulset(),
        deployment(),
        None,
    ]


def played() -> list[kube.Workload]:
    ports = itertools.count(40000)
    return kube.transform(objects(), lambda image: f"test/{image}", lambda: next(ports))


def by_kind(workload: kube.Workload, kind: str) -> list[dict]:
    return [document for document in workload.documents if document["kind"] == kind]


def test_one_play_per_workload_with_only_what_podman_plays_and_the_secret_as_a_config_map():
    queue, page = played()
    assert (queue.name, page.name) == ("queue-set", "page")
    assert sorted(document["kind"] for document in queue.documents) == [
        "ConfigMap", "ConfigMap", "Deployment", "PersistentVolumeClaim"]
    assert sorted(document["kind"] for document in page.documents) == [
        "ConfigMap", "ConfigMap", "Deployment"]
    secret = next(cm for cm in by_kind(queue, "ConfigMap") if cm["metadata"]["name"] == "db-password")
    assert secret["data"] == {"password": "secret", "other": "plain"}


def test_a_statefulset_becomes_a_deployment_of_one_with_its_claims_and_the_same_pod_template():
    queue, _ = played()
    (claim,) = by_kind(queue, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "data-queue-set-0"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"]}
    played_deployment = queue.deployment
    assert played_deployment["metadata"] == {"name": "queue-set", "labels": LABELS}
    assert played_deployment["spec"]["replicas"] == 1
    assert played_deployment["spec"]["selector"] == {"matchLabels": LABELS}
    spec = played_deployment["spec"]["template"]["spec"]
    assert spec["securityContext"] == {"runAsUser": 999}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "data-queue-set-0"}
    assert volumes["password"] == {"name": "password", "configMap": {
        "name": "db-password", "defaultMode": 0o440, "items": [{"key": "password", "path": "password"}]}}
    assert (queue.pod, queue.container("redis")) == ("queue-set-pod-0", "queue-set-pod-0-redis")
    assert queue.volumes == ["data-queue-set-0", "db-password", "socket"]
    # The manifest itself is left as it was.
    assert queue.source == statefulset()


def test_the_services_that_select_a_workload_are_its_aliases():
    queue, page = played()
    assert queue.aliases == ["queue", "redis"]
    assert page.aliases == []


def test_a_deployment_runs_one_replica():
    _, page = played()
    assert page.deployment["spec"]["replicas"] == 1
    assert page.source["spec"]["replicas"] == 2


def test_ports_go_to_free_loopback_ports_images_are_mapped_and_var_run_is_run():
    queue, page = played()
    (container,) = queue.deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "test/redis:7.4.8"
    assert container["ports"] == [
        {"name": "redis", "containerPort": 6379, "hostIP": "127.0.0.1", "hostPort": 40000}]
    assert queue.host_ports == {"redis": {"redis": 40000}}
    assert [mount["mountPath"] for mount in container["volumeMounts"]] == [
        "/data", "/run/secrets/db", "/run/redis"]
    (page_container,) = page.deployment["spec"]["template"]["spec"]["containers"]
    assert page_container["image"] == "test/voting-app/page:0.1.0"
    assert page.host_ports == {}
