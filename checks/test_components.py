"""The opt-in components of k8s/components/: each has its overlay in examples/ and a README, the
checks of every overlay know what each component changes by design and still fail on what it
must not, and what ties a component to the base (a copied pod template, a queue's name, the
Ingress's hosts) stays in step."""

import copy

import pytest

from checks import components, invariants, manifests, netpol
from checks.test_manifests import CHECKS, assert_none

EXAMPLES = manifests.EXAMPLES


def overlay(name):
    return manifests.kustomize(EXAMPLES / name)


def problems(name, objects):
    """Every problem the overlay `name`'s checks find in `objects`."""
    expected = components.expectations(EXAMPLES / name)
    return [p for check in components.tailored(CHECKS, expected) for p in check(objects)]


def component_names():
    return sorted(
        path.parent.relative_to(components.COMPONENTS).as_posix()
        for path in components.COMPONENTS.rglob("kustomization.yaml")
        if (path.parent / "README.md").exists()
    )


@pytest.fixture(scope="module")
def rendered():
    """Each component overlay of this file, rendered once; tests break deep copies."""
    names = ("seed", "seed-sustained", "worker-autoscaling", "manual-rollout", "gateway", "logging")
    return {name: overlay(name) for name in names}


@pytest.fixture
def broken(rendered):
    return lambda name: copy.deepcopy(rendered[name])


def test_every_component_has_a_readme_and_an_overlay_that_uses_it():
    listed = {name for path in manifests.overlays() for name in components.components_of(path)}
    assert set(component_names()) >= {
        "seed", "worker-autoscaling", "manual-rollout", "gateway", "logging"
    }
    for name in component_names():
        assert name in listed, f"no overlay in examples/ uses k8s/components/{name}"
    for path in components.COMPONENTS.rglob("kustomization.yaml"):
        top = path.relative_to(components.COMPONENTS).parts[0]
        assert (components.COMPONENTS / top / "README.md").exists(), top


def test_an_overlay_lists_its_components_and_theirs():
    assert components.components_of(EXAMPLES / "seed-sustained") == ["seed", "seed/sustained"]
    assert components.components_of(EXAMPLES / "k3d") == []


def test_without_its_expectations_the_manual_rollout_fails_the_base_checks(rendered):
    # Two workloads behind one Service, version labels, a shared account, vote's edges moved:
    # all by design, and all refused by the checks that do not know the component.
    found = [p for check in CHECKS for p in check(rendered["manual-rollout"])]
    assert any("Service voting-app/vote: selects the pods of 2 workloads" in p for p in found)
    assert any("carry the label version" in p for p in found)
    assert any("ServiceAccount vote is shared" in p for p in found)
    assert any("vote-v1" in p and "not in SPEC 10" in p for p in found)


def test_a_version_in_a_selector_still_fails(broken):
    objects = broken("manual-rollout")
    service = manifests.find(objects, "Service", "vote")
    service["spec"]["selector"]["version"] = "v1"
    assert any("its selector uses version" in p for p in problems("manual-rollout", objects))


def test_a_version_without_its_label_fails(broken):
    objects = broken("manual-rollout")
    v2 = manifests.find(objects, "Deployment", "vote-v2")
    del manifests.pod_template(v2)["metadata"]["labels"]["version"]
    assert any("vote-v2: its pods lack the label version" in p for p in problems("manual-rollout", objects))


def test_the_rollout_versions_run_the_base_vote_pod(rendered, applied_once):
    """vote-v1 and vote-v2 are vote's pod of k8s/20-vote.yaml, but for their labels and
    v2's image tag: the copy in the component must not drift from the base."""
    base = manifests.find(applied_once, "Deployment", "vote")
    for name in ("vote-v1", "vote-v2"):
        version = manifests.find(rendered["manual-rollout"], "Deployment", name)
        assert_none(same_pod(base, version))


def same_pod(base, version):
    ours, theirs = copy.deepcopy(manifests.pod_template(version)), manifests.pod_template(base)
    # The labels that tell the versions apart, which kustomize also adds to the spread's
    # selector (each version spreads its own pods, as vote does).
    for key in ("version", "app.kubernetes.io/instance"):
        ours["metadata"]["labels"].pop(key, None)
        for spread in ours["spec"].get("topologySpreadConstraints") or []:
            spread["labelSelector"]["matchLabels"].pop(key, None)
    for container in ours["spec"]["containers"]:
        # v2 is the new build: the same image at another tag.
        container["image"] = container["image"].rsplit(":", 1)[0] + ":" + manifests.workspace_version()
    spec_keys = {"strategy", "minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit"}
    differences = [
        f"{manifests.describe(version)}: spec.{key} differs from vote's"
        for key in sorted(spec_keys)
        if version["spec"].get(key) != base["spec"].get(key)
    ]
    if ours != theirs:
        differences.append(f"{manifests.describe(version)}: its pod template differs from vote's")
    return differences


def test_a_drifted_copy_of_the_vote_pod_fails(rendered, applied_once):
    version = copy.deepcopy(manifests.find(rendered["manual-rollout"], "Deployment", "vote-v1"))
    manifests.pod_template(version)["spec"]["terminationGracePeriodSeconds"] = 5
    base = manifests.find(applied_once, "Deployment", "vote")
    assert same_pod(base, version) != []


def test_the_seed_without_its_load_label_cannot_reach_the_pages(broken):
    objects = broken("seed")
    job = manifests.find(objects, "Job", "seed")
    del manifests.pod_template(job)["metadata"]["labels"]["voting-app/load"]
    found = problems("seed", objects)
    assert "in SPEC 10 but denied: seed -> vote:8080/TCP" in found


def test_the_sustained_seed_does_not_wait_and_the_burst_does(rendered):
    def env(name):
        job = manifests.find(rendered[name], "Job", "seed")
        return {v["name"]: v["value"] for v in manifests.containers(job)[0]["env"]}

    assert env("seed")["LOADGEN_WAIT_RESULT"] == "http://result:8081"
    assert env("seed-sustained")["LOADGEN_WAIT_RESULT"] == ""
    sustained = manifests.find(rendered["seed-sustained"], "Job", "seed")["spec"]
    assert sustained["completions"] > sustained["parallelism"] > 1


def test_the_worker_with_a_replica_count_fails(broken):
    objects = broken("worker-autoscaling")
    manifests.find(objects, "Deployment", "worker")["spec"]["replicas"] = 1
    assert "Deployment voting-app/worker: sets replicas, which its autoscaler owns" in problems(
        "worker-autoscaling", objects
    )


def test_kedas_operator_without_its_policy_cannot_read_the_queue(broken):
    objects = [o for o in broken("worker-autoscaling") if o["metadata"]["name"] != "redis-keda"]
    found = problems("worker-autoscaling", objects)
    assert "in SPEC 10 but denied: keda-operator -> redis:6379/TCP" in found


def test_a_scaled_object_without_its_target_fails(broken):
    objects = broken("worker-autoscaling")
    manifests.find(objects, "ScaledObject", "worker")["spec"]["scaleTargetRef"]["name"] = "workr"
    assert "ScaledObject voting-app/worker: no Deployment workr" in invariants.autoscaling(objects)


def test_the_scaled_object_reads_the_workers_queue_at_the_redis_service(rendered):
    objects = rendered["worker-autoscaling"]
    trigger = manifests.find(objects, "ScaledObject", "worker")["spec"]["triggers"][0]
    assert trigger["type"] == "redis"
    worker = manifests.find(objects, "Deployment", "worker")
    set_queue = {v["name"]: v.get("value") for v in manifests.containers(worker)[0]["env"]}
    queue = set_queue.get("VOTE_QUEUE", manifests.environment_list("worker")["VOTE_QUEUE"]["default"])
    assert trigger["metadata"]["listName"] == queue
    redis = manifests.find(objects, "Service", "redis")
    host, port = trigger["metadata"]["address"].rsplit(":", 1)
    assert host == f"redis.{redis['metadata']['namespace']}.svc.cluster.local"
    assert int(port) in {p["port"] for p in redis["spec"]["ports"]}


def test_the_routes_serve_the_ingress_hosts_with_the_same_services(rendered):
    objects = rendered["gateway"]
    ingress = manifests.find(objects, "Ingress", "voting-app")
    by_ingress = {
        rule["host"]: path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    by_routes = {
        host: backend["name"]
        for route in manifests.of_kind(objects, "HTTPRoute")
        for host in route["spec"]["hostnames"]
        for rule in route["spec"]["rules"]
        for backend in rule["backendRefs"]
    }
    assert by_routes == by_ingress


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda route: route["spec"]["rules"][0]["backendRefs"][0].update(port=8081),
         "HTTPRoute voting-app/vote: Service vote has no port {'number': 8081}"),
        (lambda route: route["spec"]["parentRefs"][0].update(name="elsewhere"),
         "HTTPRoute voting-app/vote: no Gateway elsewhere"),
        (lambda route: route["spec"]["parentRefs"][0].update(sectionName="https"),
         "HTTPRoute voting-app/vote: Gateway voting-app has no listener https"),
    ],
)
def test_a_route_to_nowhere_fails(broken, change, expected):
    objects = broken("gateway")
    change(manifests.find(objects, "HTTPRoute", "vote"))
    assert expected in invariants.ports(objects)


def test_the_root_collector_is_refused_in_the_restricted_namespace(broken):
    objects = broken("logging")
    collector = manifests.find(objects, "DaemonSet", "fluent-bit")
    assert invariants.conduct(objects) == []
    collector["metadata"]["namespace"] = netpol.NAMESPACE
    assert any(
        "fluent-bit container fluent-bit: not a numeric non-root user" in p
        for p in invariants.conduct(objects)
    )


def test_the_collector_still_drops_every_capability(broken):
    objects = broken("logging")
    collector = manifests.find(objects, "DaemonSet", "fluent-bit")
    manifests.containers(collector)[0]["securityContext"]["capabilities"]["drop"] = []
    assert any("keeps capabilities" in p for p in invariants.conduct(objects))


def test_the_collector_reads_the_apps_namespace_and_grafana_finds_loki(rendered):
    objects = rendered["logging"]
    config = next(
        c for c in manifests.of_kind(objects, "ConfigMap") if c["metadata"]["name"].startswith("fluent-bit")
    )
    assert f"/var/log/containers/*_{netpol.NAMESPACE}_*.log" in config["data"]["fluent-bit.conf"]
    loki = manifests.find(objects, "Service", "loki")
    source = manifests.find(objects, "ConfigMap", "grafana-datasource-loki")
    url = f"http://loki.{loki['metadata']['namespace']}.svc.cluster.local:{loki['spec']['ports'][0]['port']}"
    assert f"url: {url}" in source["data"]["loki-datasource.yaml"]
