"""The canonical files of the monitoring component, the forms generated from them, and the
checks of the Prometheus Operator's objects: against the operator's schemas, and against the
workloads they scrape.

`python -m checks.monitoring.objects` rewrites prometheus-rule.yaml from rules.yml (what
`make monitoring-generate` runs); a test fails while the committed file differs from it.
"""

import json
import re
import sys

import yaml

from checks.invariants import container_ports, effective_port, selected_workloads
from checks.manifests import (
    EXAMPLES,
    K8S,
    containers,
    describe,
    of_kind,
    pod_template,
    program_of,
)

COMPONENT = K8S / "components" / "monitoring"
RULES = COMPONENT / "rules.yml"
DASHBOARD = COMPONENT / "dashboard.json"
PROMETHEUS_RULE = COMPONENT / "prometheus-rule.yaml"
OVERLAY = EXAMPLES / "kube-prometheus-stack"
OPERATOR_GROUP = "monitoring.coreos.com"
MONITOR_KINDS = ("PodMonitor", "ServiceMonitor")
DASHBOARD_LABEL = ("grafana_dashboard", "1")
SCRAPED_PROGRAMS = ("vote", "worker", "result")


def rules():
    return yaml.safe_load(RULES.read_text())


def alerts():
    """Every alerting rule of the canonical rules."""
    return [rule for group in rules()["groups"] for rule in group["rules"] if "alert" in rule]


def dashboard():
    return json.loads(DASHBOARD.read_text())


def panel_targets(board=None):
    """(panel title, refId, expr) of every query of the dashboard."""
    board = dashboard() if board is None else board
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets") or []
    ]


class _LiteralBlocks(yaml.SafeDumper):
    """Writes multi-line strings (the longer expressions) as `|` blocks, as rules.yml has them,
    and indents a list under its key, as yamllint asks of every file."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _string(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralBlocks.add_representer(str, _string)

GENERATED_HEADER = """\
# Generated from rules.yml by `make monitoring-generate`: edit rules.yml, never this file (a
# test fails while the two differ). The Prometheus Operator loads it into every Prometheus
# whose ruleSelector matches its labels; the example overlay adds kube-prometheus-stack's.
"""


def prometheus_rule():
    return {
        "apiVersion": f"{OPERATOR_GROUP}/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "voting-app",
            "namespace": "voting-app",
            "labels": {"app.kubernetes.io/part-of": "voting-app"},
        },
        "spec": {"groups": rules()["groups"]},
    }


def render_prometheus_rule():
    body = yaml.dump(
        prometheus_rule(), Dumper=_LiteralBlocks, sort_keys=False, width=100, allow_unicode=True
    )
    return GENERATED_HEADER + body


# --- The operator's schemas -------------------------------------------------------------------


def _operator_models():
    # Imported on first use: building the models takes seconds, which only the checks of
    # custom resources need to pay.
    from cloudcoil.models.prometheus_operator import v1

    return v1


def _dropped(given, kept, path=""):
    """Where `given` has a field the model did not keep: a field the schema does not know."""
    if isinstance(given, dict):
        kept = kept if isinstance(kept, dict) else {}
        found = []
        for key, value in given.items():
            where = f"{path}.{key}" if path else key
            if key not in kept:
                found.append(where)
            else:
                found += _dropped(value, kept[key], where)
        return found
    if isinstance(given, list) and isinstance(kept, list):
        return [
            problem
            for index, (a, b) in enumerate(zip(given, kept))
            for problem in _dropped(a, b, f"{path}[{index}]")
        ]
    return []


def custom_resource_problems(obj):
    """An object of the operator's group against the operator's schema for its kind, strictly:
    a wrong type, a missing required field or a value outside an enum fails, and so does a
    field the schema does not have (the model would silently drop it)."""
    import pydantic

    models = _operator_models()
    model = getattr(models, obj["kind"], None)
    if obj.get("apiVersion") != f"{OPERATOR_GROUP}/v1" or model is None:
        return [f"{describe(obj)}: no schema for {obj.get('apiVersion')} {obj['kind']}"]
    try:
        kept = model.model_validate(obj).model_dump(by_alias=True, exclude_unset=True, mode="json")
    except pydantic.ValidationError as error:
        return [
            f"{describe(obj)}: {'.'.join(str(part) for part in e['loc'])}: {e['msg']}"
            for e in error.errors()
        ]
    return [f"{describe(obj)}: {field}: not a field of its schema" for field in _dropped(obj, kept)]


# --- Relabelling, as Prometheus applies it ---------------------------------------------------

# The operator's camelCase fields and Prometheus' own names for them.
RELABEL_FIELDS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "modulus": "modulus",
    "replacement": "replacement",
    "action": "action",
}


def prometheus_relabel_configs(relabelings):
    """A monitor's relabelings as a Prometheus scrape configuration's relabel_configs."""
    return [
        {RELABEL_FIELDS[key]: (value.lower() if key == "action" else value)
         for key, value in relabeling.items()}
        for relabeling in relabelings or []
    ]


def relabel(labels, relabelings):
    """`labels` after the `replace` relabelings (the only action the checks need to follow);
    another action is reported rather than guessed at."""
    labels = dict(labels)
    for relabeling in relabelings or []:
        action = relabeling.get("action", "replace").lower()
        if action != "replace":
            raise ValueError(f"relabel action {action} is not followed by the checks")
        separator = relabeling.get("separator", ";")
        value = separator.join(labels.get(name, "") for name in relabeling.get("sourceLabels", []))
        match = re.fullmatch(relabeling.get("regex", "(.*)"), value)
        if match is None:
            continue
        replacement = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", relabeling.get("replacement", "$1"))
        result = match.expand(replacement)
        if result:
            labels[relabeling["targetLabel"]] = result
        else:
            labels.pop(relabeling["targetLabel"], None)
    return labels


def discovery_labels(workload):
    """The `__meta_kubernetes_*` labels Prometheus' pod discovery gives a pod of `workload`."""
    template = pod_template(workload)
    labels = {
        "__meta_kubernetes_namespace": workload["metadata"].get("namespace", "default"),
        "__meta_kubernetes_pod_name": f"{workload['metadata']['name']}-0",
    }
    for key, value in (template["metadata"].get("labels") or {}).items():
        labels["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    return labels


# --- Cross-references ------------------------------------------------------------------------


def program_of_workload(workload):
    programs = {program_of(c.get("image", "")) for c in containers(workload)} - {None}
    return programs.pop() if len(programs) == 1 else None


def monitor_endpoints(monitor):
    spec = monitor["spec"]
    return spec.get("podMetricsEndpoints") or spec.get("endpoints") or []


def monitors(objects):
    """Every PodMonitor selects the pods of exactly one workload of its namespace, scrapes
    /metrics on a port the program listens on, and its relabelings make `job` the program's
    name; every program has a monitor once one has; a PrometheusRule holds exactly the
    canonical rules, a dashboard ConfigMap exactly the canonical dashboard; the annotations
    of annotation-based discovery name the port the program listens on. Objects without
    monitoring give no problem."""
    problems = []
    monitored = set()
    for monitor in of_kind(objects, *MONITOR_KINDS):
        where = describe(monitor)
        if monitor["kind"] != "PodMonitor":
            problems.append(f"{where}: the worker has no Service; PodMonitors only")
            continue
        if monitor["spec"].get("namespaceSelector"):
            problems.append(f"{where}: a namespaceSelector; it watches its own namespace only")
        namespace = monitor["metadata"].get("namespace", "default")
        matched = selected_workloads(objects, monitor["spec"].get("selector") or {}, namespace)
        if len(matched) != 1:
            names = ", ".join(describe(w) for w in matched) or "none"
            problems.append(f"{where}: selects the pods of {len(matched)} workloads ({names})")
            continue
        workload = matched[0]
        program = program_of_workload(workload)
        monitored.add(program)
        problems += endpoint_problems(where, workload, program, monitor_endpoints(monitor))
    if monitored:
        problems += [f"no monitor scrapes {p}" for p in SCRAPED_PROGRAMS if p not in monitored]
    for rule in of_kind(objects, "PrometheusRule"):
        if rule["spec"] != prometheus_rule()["spec"]:
            problems.append(f"{describe(rule)}: its groups differ from rules.yml")
    for config_map in of_kind(objects, "ConfigMap"):
        labels = config_map["metadata"].get("labels") or {}
        if labels.get(DASHBOARD_LABEL[0]) == DASHBOARD_LABEL[1]:
            data = list((config_map.get("data") or {}).values())
            if data != [DASHBOARD.read_text()]:
                problems.append(f"{describe(config_map)}: its dashboard is not dashboard.json")
    problems += annotation_problems(objects)
    return problems


def endpoint_problems(where, workload, program, endpoints):
    if not endpoints:
        return [f"{where}: no endpoint to scrape"]
    problems = []
    declared = container_ports(workload)
    listens = next(
        effective_port(program, c) for c in containers(workload) if program_of(c.get("image", ""))
    )
    for endpoint in endpoints:
        port = endpoint.get("port")
        if port not in declared:
            problems.append(f"{where}: port {port} is no port of {describe(workload)}")
        elif declared[port][0] != listens:
            problems.append(f"{where}: port {port} is {declared[port][0]}, {program} listens on {listens}")
        if endpoint.get("path", "/metrics") != "/metrics":
            problems.append(f"{where}: scrapes {endpoint['path']}, not /metrics")
        job = relabel(discovery_labels(workload), endpoint.get("relabelings")).get("job")
        if job != program:
            problems.append(f"{where}: its relabelings make job {job!r}, not {program!r}")
    return problems


def annotation_problems(objects):
    problems = []
    for workload in of_kind(objects, "Deployment", "StatefulSet", "DaemonSet"):
        annotations = pod_template(workload)["metadata"].get("annotations") or {}
        if annotations.get("prometheus.io/scrape") != "true":
            continue
        program = program_of_workload(workload)
        listens = next(
            effective_port(program, c) for c in containers(workload) if program_of(c.get("image", ""))
        )
        if annotations.get("prometheus.io/port") != str(listens):
            problems.append(
                f"{describe(workload)}: prometheus.io/port is "
                f"{annotations.get('prometheus.io/port')}, {program} listens on {listens}"
            )
        if annotations.get("prometheus.io/path", "/metrics") != "/metrics":
            problems.append(f"{describe(workload)}: prometheus.io/path is not /metrics")
    return problems


if __name__ == "__main__":
    if sys.argv[1:] != []:
        sys.exit("usage: python -m checks.monitoring.objects   (rewrites prometheus-rule.yaml)")
    PROMETHEUS_RULE.write_text(render_prometheus_rule())
