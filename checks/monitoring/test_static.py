"""The monitoring files without a running program (`make lint-monitoring`): one set of rules and
one dashboard, every other form generated from them or held equal to them, on docs/metrics.md's
names only, each alert with a runbook and unit tests both ways, the component's objects
cross-checked against the workloads, and each of those checks seen failing on a broken copy."""

import copy
import os
import re
import subprocess
import sys

import pytest
import yaml

from checks import manifests, netpol
from checks.monitoring import objects, promql

RUNBOOKS = manifests.REPOSITORY / "docs" / "runbooks.md"
RULES_TEST = manifests.REPOSITORY / "checks" / "monitoring" / "rules-test.yml"
PICTURE = manifests.REPOSITORY / "docs" / "monitoring-dashboard.svg"
DRAW = manifests.REPOSITORY / "monitoring" / "draw-dashboard.py"
SEVERITIES = ("warning", "critical")


def assert_none(problems):
    assert not problems, "\n".join(["", *problems])


@pytest.fixture(scope="module")
def overlay():
    return manifests.kustomize(objects.OVERLAY)


# --- One canonical copy, and what is generated from it --------------------------------------


def test_the_prometheus_rule_is_generated_from_rules_yml():
    assert objects.PROMETHEUS_RULE.read_text() == objects.render_prometheus_rule(), (
        "prometheus-rule.yaml is stale: run `make monitoring-generate`"
    )


def test_the_dashboard_picture_is_drawn_from_the_dashboard(tmp_path):
    drawn = tmp_path / "picture.svg"
    subprocess.run([sys.executable, str(DRAW), str(objects.DASHBOARD), str(drawn)], check=True)
    assert PICTURE.read_text() == drawn.read_text(), (
        "docs/monitoring-dashboard.svg is stale: run `make monitoring-generate`"
    )


def test_compose_mounts_the_canonical_files():
    compose = yaml.safe_load(manifests.COMPOSE_FILE.read_text())["services"]
    mounts = {
        service: [volume.split(":")[0] for volume in compose[service].get("volumes") or []]
        for service in ("prometheus", "grafana")
    }
    assert "./k8s/components/monitoring/rules.yml" in mounts["prometheus"]
    assert "./k8s/components/monitoring/dashboard.json" in mounts["grafana"]
    for service in ("prometheus", "grafana"):
        assert compose[service]["profiles"] == ["monitoring"]
        for port in compose[service]["ports"]:
            assert port.startswith("127.0.0.1:"), f"{service} publishes {port} beyond the loopback"


# --- Names, runbooks, unit tests ------------------------------------------------------------


def every_expression():
    """(where, expr) of every alert and every panel query, with Grafana's variables replaced."""
    found = [(f"alert {rule['alert']}", rule["expr"]) for rule in objects.alerts()]
    found += [
        (f"panel {title!r} {ref}", promql.substitute(expr, "5m"))
        for title, ref, expr in objects.panel_targets()
    ]
    return found


def test_every_metric_named_is_in_docs_metrics_md():
    documented = promql.documented_series() | promql.PROMETHEUS_SERIES
    problems = []
    for where, expr in every_expression():
        names = promql.metric_names(expr)
        assert names, f"{where}: reads no metric"
        problems += [f"{where}: {name} is not in docs/metrics.md" for name in names if name not in documented]
    assert_none(problems)


@pytest.mark.parametrize(
    "expr, names",
    [
        ('sum by (job) (rate(http_requests_total{job=~"a|b",status=~"5.."}[5m]))', ["http_requests_total"]),
        ("max(worker_queue_depth) > max(worker_queue_depth offset 5m)", ["worker_queue_depth"]),
        ("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 5", ["x_bucket"]),
        ("absent(up{job=\"vote\"}) or vector(0) * 1e3", ["up"]),
        ("a unless on (job) group_left (version) b", ["a", "b"]),
    ],
)
def test_metric_names_are_read_from_an_expression(expr, names):
    assert promql.metric_names(expr) == names


def test_a_misspelt_metric_is_not_in_docs_metrics_md():
    assert "worker_queue_dept" not in promql.documented_series()
    assert {"worker_vote_commit_delay_seconds_bucket", "vote_ready", "result_build_info"} <= (
        promql.documented_series()
    )


def github_anchor(heading):
    """The fragment GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_sections():
    sections, current = {}, None
    for line in RUNBOOKS.read_text().splitlines():
        if line.startswith("## "):
            current = github_anchor(line[3:])
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {anchor: "\n".join(lines) for anchor, lines in sections.items()}


def test_every_alert_has_a_runbook_section_saying_what_it_means_and_what_to_do():
    sections = runbook_sections()
    problems = []
    for rule in objects.alerts():
        url = rule["annotations"].get("runbook_url", "")
        path, _, anchor = url.partition("#")
        if path != "docs/runbooks.md" or anchor not in sections:
            problems.append(f"{rule['alert']}: runbook_url {url!r} is no section of docs/runbooks.md")
            continue
        for part in ("What it means", "What to look at", "What to do"):
            if f"**{part}" not in sections[anchor]:
                problems.append(f"{rule['alert']}: its runbook lacks {part!r}")
    assert_none(problems)


def test_every_alert_has_a_severity_a_summary_and_a_description():
    problems = []
    for rule in objects.alerts():
        if rule.get("labels", {}).get("severity") not in SEVERITIES:
            problems.append(f"{rule['alert']}: severity is not one of {SEVERITIES}")
        for key in ("summary", "description"):
            if not rule["annotations"].get(key):
                problems.append(f"{rule['alert']}: no {key}")
    assert_none(problems)


def test_every_alert_has_unit_tests_where_it_fires_and_where_it_is_silent():
    tests = yaml.safe_load(RULES_TEST.read_text())["tests"]
    firing, silent = set(), set()
    for test in tests:
        for case in test.get("alert_rule_test") or []:
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in objects.alerts()}
    assert_none(
        [f"{name}: no unit test where it fires" for name in sorted(names - firing)]
        + [f"{name}: no unit test where it stays silent" for name in sorted(names - silent)]
        + [f"unit tests of an alert that does not exist: {name}" for name in sorted((firing | silent) - names)]
    )


def promtool():
    return os.environ.get("PROMTOOL", "promtool")


def check_as_rules(expressions, tmp_path):
    rules = [{"record": f"panel_{n}", "expr": expr} for n, (_, expr) in enumerate(expressions)]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    return subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)


def test_every_panel_query_parses(tmp_path):
    panels = [(where, expr) for where, expr in every_expression() if where.startswith("panel")]
    checked = check_as_rules(panels, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_panel_query_that_does_not_parse_fails(tmp_path):
    checked = check_as_rules([("panel", "sum(rate(http_requests_total[5m])")], tmp_path)
    assert checked.returncode != 0


# --- The vote ledger's arithmetic, on series made for it ------------------------------------

# Ten minutes of scrapes every 5 s (promtool's notation: `_` no sample, `stale` the series ends,
# `AxN` A repeated N more times). vote-0 restarts in place between 15 s and 20 s: its `a` counter
# goes from 10 straight to 15, which only its process_start_time_seconds tells from growth, and
# its `b` from 4 to 1. vote-1 is a new pod. worker-0 dies and worker-1 takes over, counting 2
# messages a second time. Accepted: a 10 + 15, b 4 + 1 + 3 = 33; processed 20 + 13, less the 2
# counted twice: 31 stored; 2 waiting at the end; none in flight.
VOTE_0, VOTE_1 = 'job="vote",instance="vote-0:8080"', 'job="vote",instance="vote-1:8080"'
WORKER_0 = 'job="worker",instance="worker-0:8082"'
WORKER_1 = 'job="worker",instance="worker-1:8082"'
LEDGER_SERIES = {
    f"process_start_time_seconds{{{VOTE_0}}}": "100 100 100 100 118 118x120",
    f'vote_ballots_queued_total{{{VOTE_0},vote="a"}}': "0 10 10 10 15 15x120",
    f'vote_ballots_queued_total{{{VOTE_0},vote="b"}}': "0 4 4 4 1 1x120",
    f"process_start_time_seconds{{{VOTE_1}}}": "_ _ _ _ _ _ 130 130x120",
    f'vote_ballots_queued_total{{{VOTE_1},vote="b"}}': "_ _ _ _ _ _ 3 3x120",
    f"process_start_time_seconds{{{WORKER_0}}}": "90 90 90 90 stale",
    f"worker_votes_processed_total{{{WORKER_0}}}": "0 5 20 20 stale",
    f"worker_counted_twice_total{{{WORKER_0}}}": "0 0 0 0 stale",
    f"worker_queue_depth{{{WORKER_0}}}": "0 3 0 0 stale",
    f"worker_in_flight{{{WORKER_0}}}": "0 7 1 1 stale",
    f"process_start_time_seconds{{{WORKER_1}}}": "_ _ _ _ _ 124 124x120",
    f"worker_votes_processed_total{{{WORKER_1}}}": "_ _ _ _ _ 4 13x120",
    f"worker_counted_twice_total{{{WORKER_1}}}": "_ _ _ _ _ 0 2x120",
    f'worker_dead_letters_total{{{WORKER_1},reason="not_json"}}': "_ _ _ _ _ 0 0x120",
    f"worker_queue_depth{{{WORKER_1}}}": "_ _ _ _ _ 2 2x120",
    f"worker_in_flight{{{WORKER_1}}}": "_ _ _ _ _ 5 0x120",
}
LEDGER_EXPECTED = {
    "accepted": 33,
    "stored (counted once)": 31,
    "dead-lettered": 0,
    "more waiting": 2,
    "more in flight": 0,
    "unaccounted": 0,
}


def ledger_panel_test(tmp_path, panel):
    """`promtool test rules` of the ledger panel's queries over LEDGER_SERIES, its range the
    ten minutes."""
    cases = [
        {
            "expr": promql.substitute(target["expr"], "1m", "10m"),
            "eval_time": "10m",
            "exp_samples": [{"labels": "{}", "value": LEDGER_EXPECTED[target["legendFormat"]]}],
        }
        for target in panel["targets"]
    ]
    path = tmp_path / "ledger-test.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "rule_files": [],
                "tests": [
                    {
                        "interval": "5s",
                        "input_series": [
                            {"series": series, "values": values}
                            for series, values in LEDGER_SERIES.items()
                        ],
                        "promql_expr_test": cases,
                    }
                ],
            }
        )
    )
    return subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True)


def ledger_panel():
    (panel,) = [p for p in objects.dashboard()["panels"] if p["title"] == "Vote ledger"]
    return panel


def test_the_vote_ledger_counts_across_restarts_new_pods_and_messages_counted_twice(tmp_path):
    panel = ledger_panel()
    assert {target["legendFormat"] for target in panel["targets"]} == set(LEDGER_EXPECTED)
    assert all(target.get("instant") for target in panel["targets"]), "it reads the range's end"
    tested = ledger_panel_test(tmp_path, panel)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_a_ledger_that_misses_a_restart_in_place_fails(tmp_path):
    # Without the restart check, vote-0's `a` going from 10 to 15 across its restart looks like
    # growth of 5.
    panel = copy.deepcopy(ledger_panel())
    for target in panel["targets"]:
        target["expr"] = target["expr"].replace(
            " unless on (job, instance) "
            "(process_start_time_seconds > process_start_time_seconds offset 15s)",
            "",
        )
    tested = ledger_panel_test(tmp_path, panel)
    assert tested.returncode != 0
    # accepted 23 instead of 33, and 10 unaccounted the wrong way.
    assert "got: {} 2.3E+01" in tested.stderr and "got: {} -1E+01" in tested.stderr, tested.stderr


# --- The dashboard as Grafana lays it out ---------------------------------------------------


def test_the_panels_fit_the_grid_without_overlapping():
    panels = objects.dashboard()["panels"]
    cells = {}
    problems = []
    for panel in panels:
        grid = panel["gridPos"]
        if grid["x"] + grid["w"] > 24:
            problems.append(f"{panel['title']}: wider than the 24 columns")
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                if (x, y) in cells:
                    problems.append(f"{panel['title']} overlaps {cells[(x, y)]} at {x},{y}")
                cells[(x, y)] = panel["title"]
    assert len({p["id"] for p in panels}) == len(panels), "two panels share an id"
    assert_none(sorted(set(problems)))


def test_every_query_uses_the_data_source_variable():
    board = objects.dashboard()
    assert [v["name"] for v in board["templating"]["list"] if v["type"] == "datasource"] == [
        "datasource"
    ]
    for panel in board["panels"]:
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


# --- The component, its overlay, and the checks of their cross-references -----------------


def test_the_overlay_labels_every_operator_object_for_the_stack(overlay):
    operator = [o for o in overlay if o["apiVersion"].startswith(objects.OPERATOR_GROUP)]
    assert {o["kind"] for o in operator} == {"PodMonitor", "PrometheusRule"}
    assert_none(
        [
            f"{manifests.describe(o)}: no release: kube-prometheus-stack label"
            for o in operator
            if o["metadata"].get("labels", {}).get("release") != "kube-prometheus-stack"
        ]
    )
    dashboards = [
        o for o in manifests.of_kind(overlay, "ConfigMap")
        if o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert [d["metadata"]["name"] for d in dashboards] == ["grafana-dashboard"]


def test_the_overlay_passes_the_monitor_checks(overlay):
    assert_none(objects.monitors(overlay))


def stack_prometheus(objects_):
    """A Prometheus pod in the overlay's `monitoring` namespace, with that namespace's labels."""
    return netpol.Peer(
        "stack-prometheus",
        "10.244.2.9",
        "monitoring",
        netpol.namespace_labels(objects_, "monitoring"),
        {"app.kubernetes.io/name": "prometheus"},
    )


def reachable_metrics_ports(objects_):
    policies = manifests.of_kind(objects_, "NetworkPolicy")
    source = stack_prometheus(objects_)
    reached = set()
    for pod in netpol.workload_pods(objects_):
        if objects.program_of_workload(next(
            w for w in manifests.of_kind(objects_, *manifests.WORKLOAD_KINDS)
            if w["metadata"]["name"] == pod.name
        )) not in objects.SCRAPED_PROGRAMS:
            continue
        for port, protocol in pod.listening():
            if netpol.connects(policies, source, pod, port, protocol):
                reached.add((pod.name, port))
    return reached


def test_the_stack_namespace_reaches_every_metrics_port(overlay):
    assert reachable_metrics_ports(overlay) == {("vote", 8080), ("worker", 8082), ("result", 8081)}


def test_without_its_label_the_stack_namespace_reaches_no_metrics_port(overlay):
    broken = copy.deepcopy(overlay)
    namespace = manifests.find(broken, "Namespace", "monitoring")
    del namespace["metadata"]["labels"]["voting-app/monitoring"]
    # The pages stay public; the worker's metrics port is the one only monitoring reaches.
    assert ("worker", 8082) not in reachable_metrics_ports(broken)


def broken(overlay, change):
    copied = copy.deepcopy(overlay)
    change(copied)
    return objects.monitors(copied)


def monitor(objects_, name):
    return manifests.find(objects_, "PodMonitor", name)


def endpoint(objects_, name):
    return monitor(objects_, name)["spec"]["podMetricsEndpoints"][0]


BREAKAGES = {
    "a selector that matches no pod": (
        lambda o: monitor(o, "vote")["spec"]["selector"]["matchLabels"].update(app="vot"),
        ["PodMonitor voting-app/vote: selects the pods of 0 workloads (none)", "no monitor scrapes vote"],
    ),
    "a port the pod does not have": (
        lambda o: endpoint(o, "worker").update(port="metrics"),
        "PodMonitor voting-app/worker: port metrics is no port of Deployment voting-app/worker",
    ),
    "another path": (
        lambda o: endpoint(o, "result").update(path="/stats"),
        "PodMonitor voting-app/result: scrapes /stats, not /metrics",
    ),
    "relabelled into another label": (
        lambda o: endpoint(o, "vote")["relabelings"][0].update(targetLabel="program"),
        "PodMonitor voting-app/vote: its relabelings make job None, not 'vote'",
    ),
    "no monitor for one program": (
        lambda o: o.remove(monitor(o, "worker")),
        "no monitor scrapes worker",
    ),
    "a rule edited in the PrometheusRule only": (
        lambda o: manifests.find(o, "PrometheusRule", "voting-app")["spec"]["groups"][0]["rules"].pop(),
        "PrometheusRule voting-app/voting-app: its groups differ from rules.yml",
    ),
    "a dashboard edited in the ConfigMap only": (
        lambda o: manifests.find(o, "ConfigMap", "grafana-dashboard")["data"].update(
            {"voting-app.json": "{}"}
        ),
        "ConfigMap voting-app/grafana-dashboard: its dashboard is not dashboard.json",
    ),
    "an annotation with another port": (
        lambda o: manifests.pod_template(manifests.find(o, "Deployment", "worker"))["metadata"][
            "annotations"
        ].update({"prometheus.io/port": "8080"}),
        "Deployment voting-app/worker: prometheus.io/port is 8080, worker listens on 8082",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=str)
def test_each_monitor_check_fails_on_a_broken_copy(overlay, breakage):
    change, problems = BREAKAGES[breakage]
    assert broken(overlay, change) == (problems if isinstance(problems, list) else [problems])


def test_a_value_outside_the_schema_fails(overlay):
    bad = copy.deepcopy(monitor(overlay, "vote"))
    bad["spec"]["podMetricsEndpoints"][0]["relabelings"][0]["action"] = "rename"
    problems = objects.custom_resource_problems(bad)
    assert len(problems) == 1 and "relabelings.0.action" in problems[0], problems


def test_the_operator_objects_match_their_schemas(overlay):
    operator = [o for o in overlay if o["apiVersion"].startswith(objects.OPERATOR_GROUP)]
    assert_none([p for o in operator for p in objects.custom_resource_problems(o)])
