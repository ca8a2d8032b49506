"""The Helm chart of charts/voting-app: with its default values it renders the objects of
`kubectl kustomize k8s/`, object by object, under Helm 4 and Helm 3 alike; every values file of
charts/voting-app/ci/ keeps the checks k8s/ keeps, and does what it says; the values schema
refuses a wrong type or an unknown key; the `helm test` pods pass against the real programs,
and fail when the worker does not move the votes."""

import base64
import contextlib
import copy
import shutil
import subprocess

import pytest
import yaml

from checks import chart, components, invariants, manifests, netpol, programs
from checks.manifests import find, pod_template
from checks.monitoring import objects as monitoring
from checks.test_manifests import CHECKS, assert_none

MAJORS = ("4", "3")


@pytest.fixture(scope="module")
def defaults():
    return chart.render()


def variation(name):
    return chart.VARIATIONS / name


# --- the default values are k8s/ ----------------------------------------------------------


@pytest.mark.parametrize("major", MAJORS)
def test_the_default_values_render_k8s(major, kustomized_once):
    assert_none(chart.drift(chart.render(major=major), kustomized_once))


def test_a_change_to_k8s_alone_is_drift(tmp_path, defaults):
    copy_of_k8s = tmp_path / "k8s"
    shutil.copytree(manifests.K8S, copy_of_k8s, ignore=shutil.ignore_patterns("components"))
    vote = copy_of_k8s / "20-vote.yaml"
    vote.write_text(vote.read_text().replace("memory: 128Mi", "memory: 192Mi", 1))
    assert chart.drift(defaults, manifests.kustomize(copy_of_k8s)) == [
        "Deployment vote differs at .spec.template.spec.containers[0].resources.limits.memory: "
        "the chart has '128Mi', k8s/ has '192Mi'"
    ]


def test_a_change_to_the_chart_alone_is_drift(kustomized_once):
    changed = chart.render(settings=["worker.replicas=3", "ingress.hosts.vote=poll.localhost"])
    assert chart.drift(changed, kustomized_once) == [
        "Deployment worker differs at .spec.replicas: the chart has 3, k8s/ has 1",
        "Ingress voting-app differs at .spec.rules[0].host: the chart has 'poll.localhost', "
        "k8s/ has 'vote.localhost'",
    ]


def test_an_object_on_one_side_only_is_drift(defaults, kustomized_once):
    without_ingress = [obj for obj in defaults if obj["kind"] != "Ingress"]
    assert chart.drift(without_ingress, kustomized_once) == [
        "only in k8s/: Ingress voting-app"
    ]
    assert chart.drift(defaults, [o for o in kustomized_once if o["kind"] != "Ingress"]) == [
        "only in the chart: Ingress voting-app"
    ]


def test_helm_labels_are_left_out_only_from_the_objects_own_metadata(defaults, kustomized_once):
    # On a pod template they would restart every pod at each chart upgrade: that is drift.
    changed = copy.deepcopy(defaults)
    pod_template(find(changed, "Deployment", "result"))["metadata"]["labels"][
        "helm.sh/chart"
    ] = "voting-app-0.1.0"
    assert chart.drift(changed, kustomized_once) == [
        "Deployment result differs at .spec.template.metadata.labels.helm.sh/chart: the chart "
        "has 'voting-app-0.1.0', k8s/ has None"
    ]


def test_every_object_carries_helm_labels_and_the_release_namespace(defaults):
    for obj in defaults:
        labels = obj["metadata"].get("labels") or {}
        assert set(chart.HELM_LABELS) <= labels.keys(), manifests.describe(obj)
        assert obj["metadata"]["namespace"] == chart.NAMESPACE, manifests.describe(obj)


@pytest.mark.parametrize("path", chart.variations(), ids=lambda path: path.name)
def test_helm_3_and_helm_4_render_the_same(path):
    # The generated password is random: compare everything else.
    def stable(objects):
        for obj in objects:
            if obj["kind"] == "Secret" and "data" in obj:
                obj["data"] = {key: "random" for key in obj["data"]}
        return objects

    assert stable(chart.render([path], major="3")) == stable(chart.render([path], major="4"))


def test_the_chart_is_released_with_the_app():
    metadata = yaml.safe_load((chart.CHART / "Chart.yaml").read_text())
    assert metadata["appVersion"] == manifests.workspace_version()
    assert metadata["version"] == manifests.workspace_version()


def test_the_release_package_pulls_the_published_images(tmp_path):
    helm = chart.helm_binaries()["4"]
    subprocess.run(
        [
            str(manifests.REPOSITORY / "scripts" / "package-chart.sh"),
            helm,
            "1.2.3",
            "ghcr.io/someone",
            "voting-app",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    package = tmp_path / "voting-app-1.2.3.tgz"
    done = chart.helm("template", chart.RELEASE, package, "--namespace", chart.NAMESPACE)
    assert done.returncode == 0, done.stderr
    specs = pod_specs(manifests.parse_documents(done.stdout))
    images = sorted({container["image"] for spec in specs for container in spec["containers"]})
    assert images == [
        "ghcr.io/someone/voting-app/loadgen:1.2.3",
        "ghcr.io/someone/voting-app/result:1.2.3",
        "ghcr.io/someone/voting-app/vote:1.2.3",
        "ghcr.io/someone/voting-app/worker:1.2.3",
        "postgres:17.9",
        "redis:7.4.8",
    ]
    shown = chart.helm("show", "chart", package)
    assert yaml.safe_load(shown.stdout)["appVersion"] == "1.2.3"


# --- every variation keeps the checks ------------------------------------------------------


def stand_ins(values):
    """The Secrets a values file names and expects the operator to have made."""
    secrets = []
    password = (values.get("database") or {}).get("password") or {}
    redis = values.get("externalRedis") or {}
    for name, key in (
        (password.get("existingSecret"), password.get("existingSecretKey", "password")),
        (redis.get("existingSecret"), redis.get("existingSecretKey", "url")),
    ):
        if name:
            secrets.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name, "namespace": chart.NAMESPACE},
                    "stringData": {key: "made by the operator"},
                }
            )
    return secrets


def present_edges(objects, expected, extra_peers=()):
    """The edges of `expected` between the peers that exist in `objects` (an external Redis
    takes the bundled one's edges along)."""
    peers = netpol.workload_pods(objects) + netpol.surroundings(objects) + list(extra_peers)
    names = {peer.name for peer in peers}
    return frozenset(edge for edge in expected if edge[0] in names and edge[1] in names)


@pytest.mark.parametrize("path", chart.variations(), ids=lambda path: path.name)
def test_every_variation_keeps_the_checks(path):
    objects = chart.release(chart.render([path])) + stand_ins(chart.values_file(path))
    overlay = chart.overlay_of(path)
    # What the components a variation switches on change by design, as for their overlays.
    expected = components.expectations(overlay) if overlay else components.Expectations()
    # The app's Namespace is Helm's (--create-namespace), so no render starts with it; the
    # network policies are checked below, without the peers a variation leaves out.
    for check in components.tailored(CHECKS, expected):
        if check.__name__ not in ("namespace_first", "edge_problems"):
            assert_none(check(objects))
    assert_none(monitoring.monitors(objects))
    if manifests.of_kind(objects, "NetworkPolicy"):
        edges = netpol.with_roles(netpol.EXPECTED_EDGES, expected.roles) | expected.edges
        present = present_edges(objects, edges, expected.peers)
        assert_none(netpol.edge_problems(objects, present, expected.peers))


OVERLAY_VARIATIONS = [path for path in chart.variations() if chart.overlay_of(path)]
# What an overlay makes that the chart leaves to others: kube-prometheus-stack's namespace is
# its own release's (the chart's values file says to label it).
NOT_THE_CHARTS = {"kube-prometheus-stack": {("", "Namespace", "", "monitoring")}}


@pytest.mark.parametrize("path", OVERLAY_VARIATIONS, ids=lambda path: path.name)
def test_each_overlay_values_file_renders_its_overlay(path):
    overlay = chart.overlay_of(path)
    left_out = NOT_THE_CHARTS.get(overlay.name, set())
    kustomized = manifests.kustomize(overlay)
    assert left_out <= {manifests.identity(obj) for obj in kustomized}
    theirs = [obj for obj in kustomized if manifests.identity(obj) not in left_out]
    assert_none(chart.drift(chart.render([path]), theirs, other_side=f"examples/{overlay.name}"))


def test_every_component_and_overlay_but_the_manual_rollout_has_a_values_file():
    switched = {
        component
        for path in OVERLAY_VARIATIONS
        for component in components.components_of(chart.overlay_of(path))
    }
    offered = {path.name for path in components.COMPONENTS.iterdir() if path.is_dir()}
    # The manual rollout is a kustomize lesson: two Deployments by hand.
    assert switched == offered - {"manual-rollout"} | {"seed/sustained", "monitoring/annotations"}
    # And every overlay of examples/ has its values file.
    overlays = {overlay.name for overlay in manifests.overlays()}
    assert {chart.overlay_of(path).name for path in OVERLAY_VARIATIONS} == overlays - {
        "manual-rollout"
    }
    assert chart.refusal(settings=["manualRollout.enabled=true"]) is not None


def test_a_component_switch_changed_alone_is_drift():
    changed = chart.render([variation("seed-values.yaml")], settings=["seed.votes=1000000"])
    assert chart.drift(changed, manifests.kustomize(manifests.EXAMPLES / "seed")) == [
        "Job seed differs at .spec.template.spec.containers[0].env[2].value: the chart has "
        "'1000000', k8s/ has '20000'"
    ]


def test_logging_follows_its_namespace_and_the_release_namespace():
    done = chart.helm(
        *chart.template_arguments(
            [variation("logging-values.yaml")], ["logging.namespace=logs"], namespace="poll"
        )
    )
    assert done.returncode == 0, done.stderr
    objects = manifests.parse_documents(done.stdout)
    logging = [obj for obj in objects if obj["metadata"].get("namespace") == "logs"]
    assert {manifests.describe(obj) for obj in logging} >= {
        "Deployment logs/loki",
        "DaemonSet logs/fluent-bit",
        "ConfigMap logs/grafana-datasource-loki",
    }
    assert find(objects, "Namespace", "logs")
    fluent_bit = next(obj for obj in logging if obj["metadata"]["name"].startswith("fluent-bit-"))
    assert "Path             /var/log/containers/*_poll_*.log" in (
        fluent_bit["data"]["fluent-bit.conf"]
    )
    datasource = find(objects, "ConfigMap", "grafana-datasource-loki")
    assert "http://loki.logs.svc.cluster.local:3100" in datasource["data"]["loki-datasource.yaml"]


def pod_specs(objects):
    """The pod spec of every workload and bare Pod (the test pods)."""
    for obj in objects:
        if obj["kind"] == "Pod":
            yield obj["spec"]
        elif obj["kind"] in manifests.WORKLOAD_KINDS:
            yield pod_template(obj)["spec"]


def test_the_private_registry_variation_pulls_every_image_from_it():
    specs = list(pod_specs(chart.render([variation("private-registry-values.yaml")])))
    assert sorted(c["image"] for spec in specs for c in spec["containers"]) == [
        *["ghcr.io/example/voting-app/loadgen:0.1.0"] * 3,
        "ghcr.io/example/voting-app/result:0.1.0",
        "ghcr.io/example/voting-app/vote:0.1.1",
        "ghcr.io/example/voting-app/worker:0.1.0",
        "mirror.example.com/library/postgres:17.9",
        "mirror.example.com/library/redis:7.4.8",
    ]
    for spec in specs:
        assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}]


def test_the_external_services_variation_uses_them_and_opens_only_them():
    objects = chart.render([variation("external-services-values.yaml")])
    names = {manifests.describe(obj) for obj in objects}
    assert not {name for name in names if "redis" in name or " db" in name}
    settings = find(objects, "ConfigMap", "settings")["data"]
    assert "REDIS_URL" not in settings
    assert settings["DATABASE_URL"] == (
        "postgres://votes@db.example.com:5432/votes?sslmode=verify-full"
    )
    assert manifests.of_kind(objects, "Secret") == []
    for program in ("vote", "worker"):
        container = pod_template(find(objects, "Deployment", program))["spec"]["containers"][0]
        redis_url = next(v for v in container["env"] if v["name"] == "REDIS_URL")
        assert redis_url["valueFrom"] == {"secretKeyRef": {"name": "managed-redis", "key": "url"}}
    for program in ("worker", "result"):
        volume = pod_template(find(objects, "Deployment", program))["spec"]["volumes"][0]
        assert volume["secret"]["secretName"] == "managed-postgres"
    # The managed services, as peers the network policies see.
    policies = manifests.of_kind(objects, "NetworkPolicy")
    pods = {peer.name: peer for peer in netpol.workload_pods(objects)}
    managed_redis = netpol.Peer("managed-redis", "198.51.100.5", ports={"redis": (6380, "TCP")})
    managed_db = netpol.Peer("managed-db", "198.51.100.20", ports={"pg": (5432, "TCP")})
    reaches = {
        (program, peer.name)
        for program in ("vote", "worker", "result")
        for peer, port in ((managed_redis, 6380), (managed_db, 5432))
        if netpol.connects(policies, pods[program], peer, port, "TCP")
    }
    assert reaches == {
        ("vote", "managed-redis"),
        ("worker", "managed-redis"),
        ("worker", "managed-db"),
        ("result", "managed-db"),
    }
    # Only those ports: the same addresses on another port stay closed.
    assert not netpol.connects(policies, pods["worker"], managed_db, 22, "TCP")


def test_the_production_variation_sets_what_it_says():
    objects = chart.render([variation("production-values.yaml")])
    settings = find(objects, "ConfigMap", "settings")["data"]
    assert (settings["OPTION_A"], settings["OPTION_B"]) == ("Tea", "Coffee")
    assert (settings["LOG_FORMAT"], settings["RUST_LOG"]) == ("text", "info,sqlx=warn")
    autoscaler = find(objects, "HorizontalPodAutoscaler", "vote")["spec"]
    assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (3, 20)
    assert autoscaler["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert find(objects, "PodDisruptionBudget", "vote")["spec"]["minAvailable"] == "50%"
    assert find(objects, "PodDisruptionBudget", "result")["spec"]["minAvailable"] == 2
    assert find(objects, "Deployment", "result")["spec"]["replicas"] == 3
    assert find(objects, "Deployment", "worker")["spec"]["replicas"] == 2
    for name in ("vote", "result"):
        service = find(objects, "Service", name)["spec"]
        assert service["type"] == "ClusterIP" and "nodePort" not in service["ports"][0]
    for name, size in (("redis", "5Gi"), ("db", "20Gi")):
        claim = find(objects, "StatefulSet", name)["spec"]["volumeClaimTemplates"][0]["spec"]
        assert claim["storageClassName"] == "fast-ssd"
        assert claim["resources"]["requests"]["storage"] == size
    ingress = find(objects, "Ingress", "voting-app")
    assert "annotations" not in ingress["metadata"]
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["tls"] == [
        {"secretName": "voting-app-tls", "hosts": ["vote.example.com", "result.example.com"]}
    ]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [
        "vote.example.com",
        "result.example.com",
    ]


def test_a_generated_password_is_random_and_kept():
    def secret():
        # Not chart.render, which renders each set of values once.
        arguments = chart.template_arguments(settings=["database.password.generate=true"])
        done = chart.helm(*arguments)
        assert done.returncode == 0, done.stderr
        return find(manifests.parse_documents(done.stdout), "Secret", "db-password")

    first, second = secret(), secret()
    assert "stringData" not in first
    password = base64.b64decode(first["data"]["password"]).decode()
    assert len(password) == 32 and password.isalnum()
    # Offline, Helm finds no Secret to read back, so each render makes a new one; on a
    # cluster, the kind workflow checks that an upgrade keeps it.
    assert first["data"] != second["data"]
    # PostgreSQL keeps its first password: the Secret outlives an uninstall, as its volume does.
    assert first["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_the_minimal_variation_leaves_out_what_it_says():
    objects = chart.render([variation("minimal-values.yaml")])
    kinds = {obj["kind"] for obj in chart.release(objects)}
    assert not kinds & {"HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy"}
    assert find(objects, "Deployment", "vote")["spec"]["replicas"] == 1
    vote = find(objects, "Service", "vote")["spec"]
    assert vote["type"] == "LoadBalancer" and "nodePort" not in vote["ports"][0]


# --- the values schema and the chart's own refusals ---------------------------------------


@pytest.mark.parametrize("major", MAJORS)
@pytest.mark.parametrize(
    ("settings", "words"),
    [
        # A wrong type.
        (["vote.replicas=two"], ["replicas"]),
        (["ingress.enabled=maybe"], ["enabled"]),
        (["postgresql.persistence.size=lots"], ["size"]),
        # An unknown key, at the top and further down.
        (["colour=red"], ["colour"]),
        (["vote.replica=3"], ["replica"]),
        (["networkPolicy.extraEgress.redis[0].to[0].ipBlock.cidr=10.0.0.0/8"], ["redis"]),
        # A value outside the choices.
        (["vote.service.type=External"], ["type"]),
        (["logFormat=yaml"], ["logFormat"]),
    ],
)
def test_the_schema_refuses(major, settings, words):
    refusal = chart.refusal(settings=settings, major=major)
    assert refusal is not None, settings
    assert "schema" in refusal and all(word in refusal for word in words), refusal


@pytest.mark.parametrize("major", MAJORS)
def test_the_schema_refuses_a_misspelt_key_in_a_values_file(major, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("ingres:\n  enabled: false\n")
    refusal = chart.refusal([values], major=major)
    assert refusal is not None and "ingres" in refusal, refusal


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (["redis.enabled=false"], ["externalRedis.url"]),
        (["postgresql.enabled=false"], ["externalDatabase.url"]),
        (
            ["postgresql.enabled=false", "externalDatabase.url=postgres://votes:hunter2@db/votes"],
            ["externalDatabase.url holds a password"],
        ),
        (
            ["redis.enabled=false", "externalRedis.url=rediss://:hunter2@cache:6380/0"],
            ["externalRedis.url holds a password"],
        ),
        (["database.password.value="], ["database.password"]),
    ],
)
def test_the_chart_refuses(settings, words):
    refusal = chart.refusal(settings=settings)
    assert refusal is not None and all(word in refusal for word in words), refusal


# --- NOTES.txt ------------------------------------------------------------------------------


def notes(*settings):
    """What `helm install` prints after installing (Helm 4 renders it without a cluster)."""
    arguments = ["install", chart.RELEASE, chart.CHART, "--namespace", chart.NAMESPACE]
    arguments += ["--dry-run=client"] + [f"--set={setting}" for setting in settings]
    done = chart.helm(*arguments)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("NOTES:", 1)[1]


def test_the_notes_give_both_pages_and_the_next_commands():
    text = notes()
    for line in (
        "vote: http://vote.localhost/",
        "result: http://result.localhost/",
        "vote: http://NODE-ADDRESS:31000/",
        "result: http://NODE-ADDRESS:31001/",
        "helm test voting-app -n voting-app",
        "kubectl -n voting-app wait --for condition=Ready pod",
        "WARNING: the database password is the classroom default",
    ):
        assert line in text, text


def test_the_notes_name_the_components_switched_on():
    text = notes("seed.enabled=true", "logging.enabled=true", "monitoring.enabled=true")
    assert "voting-app/monitoring=true" in text
    assert "kubectl -n voting-app wait --for condition=complete job/seed" in text
    assert "kubectl -n voting-app-logging port-forward service/loki 3100:3100" in text
    assert "get gateway" not in notes()


def test_the_notes_follow_the_values():
    text = notes(
        "ingress.tls[0].secretName=tls",
        "ingress.hosts.vote=vote.example.com",
        "vote.service.type=ClusterIP",
        "database.password.generate=true",
    )
    assert "vote: https://vote.example.com/" in text
    assert "kubectl -n voting-app port-forward service/vote 8080" in text
    assert "NODE-ADDRESS:31000" not in text
    assert "classroom default" not in text


# --- the test pods ------------------------------------------------------------------------


def hook_pods(objects):
    return sorted(
        manifests.of_kind(chart.hooks(objects), "Pod"),
        key=lambda pod: int(pod["metadata"]["annotations"]["helm.sh/hook-weight"]),
    )


def as_job(pod):
    """A test pod as the pod template of a Job, which is what the checks read."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": pod["metadata"],
        "spec": {"template": {"metadata": pod["metadata"], "spec": pod["spec"]}},
    }


def test_the_test_pods_keep_the_checks(defaults):
    pods = hook_pods(defaults)
    assert [pod["metadata"]["name"] for pod in pods] == [
        "voting-app-test-result-answers",
        "voting-app-test-vote-reaches-result",
        "voting-app-test-vote-answers",
    ]
    objects = chart.release(defaults) + chart.hooks(defaults)
    jobs = [as_job(pod) for pod in pods]
    with_jobs = [obj for obj in objects if obj["kind"] != "Pod"] + jobs
    for check in (invariants.conduct, invariants.labels, invariants.environment):
        assert_none(check(with_jobs))
    assert_none(invariants.images_of_k8s(with_jobs, manifests.image_list()))
    for pod in pods:
        assert pod["metadata"]["labels"]["voting-app/load"] == "true"
        assert pod["spec"]["restartPolicy"] == "Never"
    # Each test pod reaches exactly what a load generator does: the two pages (and DNS).
    roles = {pod["metadata"]["name"]: "load" for pod in pods}
    assert_none(netpol.edge_problems(with_jobs, netpol.with_roles(netpol.EXPECTED_EDGES, roles)))


def run_test_pods(pods, worker=True, timeout_seconds=None):
    """Runs each test pod's loadgen command (the debug build) on this machine against vote,
    result and (unless told not to) the worker, started on loopback ports, the pods' Service
    URLs pointed at them; the exit status of each, in order."""
    binary = manifests.cargo_target_dir() / "debug" / "loadgen"
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `cargo build --workspace` first")
    with contextlib.ExitStack() as running:
        queue, database_url = running.enter_context(programs.isolated_backing_services())
        ports = {
            service: running.enter_context(programs.running(program, queue, database_url))
            for service, program in (("http://vote:8080", "vote"), ("http://result:8081", "result"))
        }
        if worker:
            running.enter_context(programs.running("worker", queue, database_url))
        statuses = []
        for pod in pods:
            arguments = []
            for argument in pod["spec"]["containers"][0]["args"]:
                for service, port in ports.items():
                    argument = argument.replace(service, f"http://127.0.0.1:{port}")
                arguments.append(argument)
            if timeout_seconds is not None and "--timeout-secs" in arguments:
                arguments[arguments.index("--timeout-secs") + 1] = str(timeout_seconds)
            done = subprocess.run(
                [str(binary), *arguments], capture_output=True, text=True, timeout=300, check=False
            )
            # What loadgen saw, for pytest to show when the test fails.
            print(pod["metadata"]["name"], arguments, done.stdout, done.stderr, sep="\n")
            statuses.append((pod["metadata"]["name"], done.returncode))
    return statuses


def test_the_test_pods_pass_against_the_real_programs(defaults):
    pods = hook_pods(defaults)
    statuses = run_test_pods(pods)
    assert statuses == [(pod["metadata"]["name"], 0) for pod in pods]


def test_the_test_pods_fail_when_the_worker_moves_nothing(defaults):
    statuses = run_test_pods(hook_pods(defaults), worker=False, timeout_seconds=3)
    assert statuses == [
        ("voting-app-test-result-answers", 0),
        ("voting-app-test-vote-reaches-result", 1),
        ("voting-app-test-vote-answers", 0),
    ]
