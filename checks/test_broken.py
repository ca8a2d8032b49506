"""Each check turns red on a copy of the manifests broken the way it guards against: a check
that cannot fail proves nothing."""

import shutil

import pytest

from checks import invariants, manifests, netpol, programs
from checks.manifests import find, pod_template


def container(objects, name):
    """The first container of the workload `name` (a Deployment or a StatefulSet)."""
    for workload in invariants.workloads(objects):
        if workload["metadata"]["name"] == name:
            return pod_template(workload)["spec"]["containers"][0]
    raise LookupError(name)


def variable(objects, workload, name):
    return next(v for v in container(objects, workload)["env"] if v["name"] == name)


def problems_mention(problems, *words):
    return any(all(word in problem for word in words) for problem in problems)


# --- which objects, and in which order ----------------------------------------------------


def test_a_file_missing_from_the_kustomization_is_found(tmp_path):
    copy = tmp_path / "k8s"
    shutil.copytree(manifests.K8S, copy, ignore=shutil.ignore_patterns("components"))
    kustomization = copy / "Kustomization"
    kustomization.write_text(kustomization.read_text().replace("  - 30-ingress.yaml\n", ""))
    problems = invariants.same_objects(manifests.apply_f(copy), manifests.kustomize(copy))
    assert problems == ["only in apply -f: Ingress voting-app/voting-app"]


def test_a_changed_object_is_found(objects):
    other = [dict(obj) for obj in objects]
    find(other, "ConfigMap", "settings")["data"] = {"OPTION_A": "Tea"}
    assert problems_mention(invariants.same_objects(objects, other), "differs", "settings")


def test_the_namespace_after_other_objects_is_found(objects):
    objects.append(objects.pop(0))
    assert invariants.namespace_first(objects) != []


# --- selectors ----------------------------------------------------------------------------


def test_a_wrong_service_selector_is_found(objects):
    find(objects, "Service", "vote")["spec"]["selector"] = {"app": "voter"}
    assert problems_mention(invariants.selectors(objects), "Service voting-app/vote", "0 workloads")


def test_a_service_selecting_two_workloads_is_found(objects):
    find(objects, "Service", "result")["spec"]["selector"] = {
        "app.kubernetes.io/component": "frontend"
    }
    assert problems_mention(invariants.selectors(objects), "Service voting-app/result", "2 workloads")


def test_a_version_in_a_selector_is_found(objects):
    deployment = find(objects, "Deployment", "vote")
    deployment["spec"]["selector"]["matchLabels"]["version"] = "v1"
    pod_template(deployment)["metadata"]["labels"]["version"] = "v1"
    assert problems_mention(invariants.selectors(objects), "Deployment voting-app/vote", "version")


def test_a_selector_that_misses_its_own_pods_is_found(objects):
    find(objects, "Deployment", "worker")["spec"]["selector"]["matchLabels"]["app"] = "workers"
    assert problems_mention(invariants.selectors(objects), "worker", "does not match")


def test_a_budget_for_no_pods_is_found(objects):
    find(objects, "PodDisruptionBudget", "result")["spec"]["selector"] = {
        "matchLabels": {"app": "results"}
    }
    assert problems_mention(invariants.selectors(objects), "PodDisruptionBudget", "0 workloads")


def test_a_version_label_on_pods_is_found(objects):
    pod_template(find(objects, "Deployment", "result"))["metadata"]["labels"]["version"] = "v1"
    assert invariants.labels(objects) == [
        "Deployment voting-app/result: its pods carry the label version"
    ]


def test_a_missing_recommended_label_is_found(objects):
    del pod_template(find(objects, "StatefulSet", "db"))["metadata"]["labels"][
        "app.kubernetes.io/component"
    ]
    assert invariants.labels(objects) == [
        "StatefulSet voting-app/db: its pods lack the label app.kubernetes.io/component"
    ]


# --- conduct of every container -----------------------------------------------------------


def test_a_root_container_is_found(objects):
    del pod_template(find(objects, "Deployment", "vote"))["spec"]["securityContext"]["runAsUser"]
    assert invariants.conduct(objects) == [
        "Deployment voting-app/vote container vote: not a numeric non-root user"
    ]


def test_a_writable_root_and_kept_capabilities_are_found(objects):
    security = container(objects, "redis")["securityContext"]
    security["readOnlyRootFilesystem"] = False
    security["capabilities"] = {"drop": ["NET_RAW"]}
    assert invariants.conduct(objects) == [
        "StatefulSet voting-app/redis container redis: keeps capabilities",
        "StatefulSet voting-app/redis container redis: a writable root filesystem",
    ]


def test_a_missing_memory_limit_and_a_shared_account_are_found(objects):
    del container(objects, "worker")["resources"]["limits"]
    pod_template(find(objects, "Deployment", "result"))["spec"]["serviceAccountName"] = "vote"
    assert invariants.conduct(objects) == [
        "Deployment voting-app/worker container worker: no memory limit",
        "ServiceAccount vote is shared by Deployment voting-app/vote, Deployment voting-app/result",
    ]


def test_an_api_token_and_a_pull_policy_of_always_are_found(objects):
    pod_template(find(objects, "Deployment", "vote"))["spec"]["automountServiceAccountToken"] = True
    container(objects, "vote")["imagePullPolicy"] = "Always"
    assert invariants.conduct(objects) == [
        "Deployment voting-app/vote: mounts an API token",
        "Deployment voting-app/vote container vote: imagePullPolicy is not IfNotPresent",
    ]


# --- ports and probes ---------------------------------------------------------------------


def test_a_target_port_nothing_declares_is_found(objects):
    find(objects, "Service", "vote")["spec"]["ports"][0]["targetPort"] = "web"
    assert problems_mention(invariants.ports(objects), "targetPort web")


def test_a_container_port_the_program_does_not_listen_on_is_found(objects):
    container(objects, "result")["ports"][0]["containerPort"] = 8080
    assert problems_mention(invariants.ports(objects), "result listens on 8081")


def test_an_ingress_backend_to_a_missing_port_is_found(objects):
    ingress = find(objects, "Ingress", "voting-app")
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {
        "name": "web"
    }
    assert problems_mention(invariants.ports(objects), "Ingress", "no port")


def test_a_probe_on_the_wrong_port_is_found(objects):
    container(objects, "worker")["livenessProbe"]["httpGet"]["port"] = 8080
    _, problems = invariants.probes(objects)
    assert problems_mention(problems, "livenessProbe", "worker listens on 8082")


def test_a_wrong_probe_path_is_found_by_asking_the_program(objects):
    container(objects, "vote")["readinessProbe"]["httpGet"]["path"] = "/ready"
    found, problems = invariants.probes(objects)
    assert problems == []
    vote_only = [probe for probe in found if probe[0] == "vote"]
    assert programs.probe_problems(vote_only) == [
        "Deployment voting-app/vote readinessProbe: vote answers /ready with 404"
    ]


# --- environment, configuration and secrets -----------------------------------------------


def test_a_variable_the_program_does_not_read_is_found(objects):
    container(objects, "vote")["env"].append({"name": "DATABASE_URL", "value": "x"})
    assert problems_mention(invariants.environment(objects), "vote does not read", "DATABASE_URL")


def test_app_version_in_a_manifest_is_found(objects):
    container(objects, "result")["env"].append({"name": "APP_VERSION", "value": "2"})
    assert problems_mention(invariants.environment(objects), "APP_VERSION")


def test_a_missing_config_map_key_is_found(objects):
    variable(objects, "vote", "OPTION_A")["valueFrom"]["configMapKeyRef"]["key"] = "OPTION_C"
    assert problems_mention(invariants.environment(objects), "OPTION_C")


def test_a_missing_config_map_is_found(objects):
    objects.remove(find(objects, "ConfigMap", "settings"))
    assert problems_mention(invariants.environment(objects), "settings, which does not exist")


def test_a_missing_secret_is_found(objects):
    objects.remove(find(objects, "Secret", "db-password"))
    assert problems_mention(invariants.environment(objects), "needs db-password")


def test_a_password_in_the_config_map_is_found(objects):
    settings = find(objects, "ConfigMap", "settings")
    settings["data"]["DATABASE_URL"] = "postgres://postgres:hunter2@db:5432/postgres"
    assert problems_mention(invariants.environment(objects), "DATABASE_URL holds a password")


def test_the_secret_value_in_an_environment_variable_is_found(objects):
    secret = find(objects, "Secret", "db-password")["stringData"]["password"]
    container(objects, "worker")["env"].append({"name": "WORKER_LEASE_SECS", "value": secret})
    assert problems_mention(invariants.environment(objects), "WORKER_LEASE_SECS holds a password")


def test_a_password_variable_is_found(objects):
    db = container(objects, "db")
    db["env"] = [v for v in db["env"] if v["name"] != "POSTGRES_PASSWORD_FILE"]
    db["env"].append({"name": "POSTGRES_PASSWORD", "value": "postgres"})
    assert problems_mention(invariants.environment(objects), "POSTGRES_PASSWORD holds a password")


def test_variable_expansion_is_found(objects):
    container(objects, "vote")["env"].append({"name": "VOTE_QUEUE", "value": "$(POD_NAME)"})
    assert problems_mention(invariants.environment(objects), "VOTE_QUEUE uses $(...)")


def test_a_missing_pod_name_is_found(objects):
    worker = container(objects, "worker")
    worker["env"] = [v for v in worker["env"] if v["name"] != "POD_NAME"]
    assert problems_mention(invariants.pod_names(objects), "worker", "POD_NAME")


# --- stopping and scaling -----------------------------------------------------------------


def test_a_grace_period_shorter_than_pre_stop_and_stop_is_found(objects):
    pod_template(find(objects, "Deployment", "vote"))["spec"]["terminationGracePeriodSeconds"] = 14
    assert problems_mention(invariants.stopping(objects), "grace 14 s < preStop 5 s + 10 s")


def test_a_drain_behind_a_pre_stop_sleep_is_found(objects):
    variable(objects, "result", "SHUTDOWN_DRAIN_SECONDS")["value"] = "3"
    assert problems_mention(invariants.stopping(objects), "result", "SHUTDOWN_DRAIN_SECONDS")


def test_a_served_program_without_a_pre_stop_sleep_is_found(objects):
    del container(objects, "vote")["lifecycle"]
    assert invariants.stopping(objects) == [
        "Deployment voting-app/vote: behind a Service, but no preStop sleep"
    ]


def test_replicas_beside_an_autoscaler_are_found(objects):
    find(objects, "Deployment", "vote")["spec"]["replicas"] = 3
    assert problems_mention(invariants.autoscaling(objects), "sets replicas")


def test_an_autoscaler_without_its_target_is_found(objects):
    find(objects, "HorizontalPodAutoscaler", "vote")["spec"]["scaleTargetRef"]["name"] = "votes"
    assert problems_mention(invariants.autoscaling(objects), "no Deployment votes")


def test_an_autoscaled_container_without_a_cpu_request_is_found(objects):
    del container(objects, "vote")["resources"]["requests"]["cpu"]
    assert problems_mention(invariants.autoscaling(objects), "requests no CPU")


# --- network policies ---------------------------------------------------------------------


def policy(objects, name):
    return find(objects, "NetworkPolicy", name)


def test_a_missing_edge_is_found(objects):
    # The worker loses its egress to PostgreSQL.
    egress = policy(objects, "worker")["spec"]["egress"]
    egress[:] = [rule for rule in egress if rule["to"][0]["podSelector"]["matchLabels"]["app"] != "db"]
    assert netpol.edge_problems(objects) == ["in SPEC 10 but denied: worker -> db:5432/TCP"]


def test_a_missing_edge_on_the_other_side_is_found(objects):
    # The worker still may send, but PostgreSQL no longer accepts it.
    peer = policy(objects, "db")["spec"]["ingress"][0]["from"][0]
    peer["podSelector"]["matchExpressions"][0]["values"] = ["result"]
    assert netpol.edge_problems(objects) == ["in SPEC 10 but denied: worker -> db:5432/TCP"]


def test_an_extra_edge_is_found(objects):
    # Vote may now also send to PostgreSQL, which accepts everyone.
    policy(objects, "vote")["spec"]["egress"].append(
        {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}
    )
    policy(objects, "db")["spec"]["ingress"].append({})
    assert sorted(netpol.edge_problems(objects)) == sorted(
        f"allowed but not in SPEC 10: {source} -> db:{port}/TCP"
        for source in ("outside", "other-namespace", "monitoring", "dns", "vote")
        for port in (5432, 12345)
    )


def test_an_extra_edge_in_the_reverse_direction_is_found(objects):
    # Redis may open connections to vote (which accepts anyone): the edge vote -> redis
    # reversed.
    objects.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "redis-out", "namespace": "voting-app"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "redis"}},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "vote"}}}]}],
            },
        }
    )
    assert netpol.edge_problems(objects) == ["allowed but not in SPEC 10: redis -> vote:8080/TCP"]


def test_dropping_default_deny_is_found(objects):
    objects.remove(policy(objects, "default-deny"))
    problems = netpol.edge_problems(objects)
    # A pod that no policy of its own isolates (a `kubectl run` pod, a load generator) now
    # accepts anything; the programs' own policies still isolate them.
    assert "allowed but not in SPEC 10: outside -> unlabelled:12345/TCP" in problems
    assert "allowed but not in SPEC 10: vote -> load:12345/TCP" not in problems
    assert not any("-> worker:" in problem for problem in problems)


def test_a_misspelt_named_port_is_found(objects):
    policy(objects, "monitoring")["spec"]["ingress"][0]["ports"][0]["port"] = "metrics"
    assert netpol.edge_problems(objects) == [
        "in SPEC 10 but denied: monitoring -> worker:8082/TCP"
    ]


def test_namespace_and_pod_selectors_in_one_peer_both_apply(objects):
    # One peer with both selectors means pods matching both; two peers would mean either.
    peer = policy(objects, "monitoring")["spec"]["ingress"][0]["from"][0]
    peer["podSelector"] = {"matchLabels": {"app": "grafana"}}
    assert netpol.edge_problems(objects) == [
        "in SPEC 10 but denied: monitoring -> worker:8082/TCP"
    ]
    separate = [{"namespaceSelector": peer["namespaceSelector"]}, {"podSelector": peer["podSelector"]}]
    policy(objects, "monitoring")["spec"]["ingress"][0]["from"] = separate
    assert netpol.edge_problems(objects) == []


def test_an_ip_block_for_everything_opens_the_outside(objects):
    policy(objects, "worker")["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    problems = netpol.edge_problems(objects)
    assert "allowed but not in SPEC 10: worker -> outside:443/TCP" in problems


# --- images -------------------------------------------------------------------------------


def test_an_unlisted_image_in_k8s_is_found(objects):
    container(objects, "redis")["image"] = "redis:7.4.9"
    problems = invariants.images_of_k8s(objects, manifests.image_list())
    assert problems == ["k8s/ uses redis:7.4.9, which checks/images.txt does not list"]


def test_a_floating_backing_image_in_the_list_is_found(objects):
    listed = [image for image in manifests.image_list() if not image.startswith("redis:")]
    container(objects, "redis")["image"] = "redis:7"
    problems = invariants.images_of_k8s(objects, listed + ["redis:7"])
    assert problems == ["redis:7: a backing service's image needs an exact version"]


def test_our_image_at_another_version_is_found(objects):
    listed = [image.replace("vote:", "vote:9.9.") for image in manifests.image_list()]
    assert problems_mention(invariants.images_of_k8s(objects, listed), "workspace version")


def test_compose_disagreeing_with_the_list_is_found(objects):
    listed = manifests.image_list()
    compose = {"vote": "voting-app/vote:0.1.0", "redis": "redis:7-alpine"}
    problems = invariants.images_of_compose(compose, listed, objects)
    assert "compose service redis uses redis:7-alpine, which checks/images.txt does not list" in (
        problems
    )
    assert "checks/images.txt lists voting-app/loadgen:0.1.0, which nothing uses" in problems


@pytest.mark.parametrize(
    ("text", "environment", "expanded"),
    [
        ("voting-app/vote:${APP_VERSION:-0.1.0}", {}, "voting-app/vote:0.1.0"),
        ("voting-app/vote:${APP_VERSION:-0.1.0}", {"APP_VERSION": ""}, "voting-app/vote:0.1.0"),
        ("voting-app/vote:${APP_VERSION-0.1.0}", {"APP_VERSION": ""}, "voting-app/vote:"),
        ("voting-app/vote:${APP_VERSION:-0.1.0}", {"APP_VERSION": "2.0.0"}, "voting-app/vote:2.0.0"),
        ("redis:${REDIS_TAG}", {}, "redis:"),
    ],
)
def test_compose_variables_expand_as_compose_does(text, environment, expanded):
    assert manifests.expand_compose(text, environment) == expanded
