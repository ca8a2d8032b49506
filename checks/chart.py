"""The Helm chart of charts/voting-app, rendered by the pinned Helm binaries, and what it must
equal: `kubectl kustomize k8s/` with its default values, a component's overlay with the
component's switch on.

The comparison leaves out what belongs to Helm rather than to the app: the app's Namespace
(which `helm install --create-namespace` owns), every `namespace` field (the objects follow
`-n`), Helm's own labels on the objects' metadata, and the test pods (hooks that `helm test`
runs).
"""

import functools
import os
import subprocess
from pathlib import Path

import yaml

from checks.manifests import EXAMPLES, REPOSITORY, describe, identity, parse_documents

CHART = REPOSITORY / "charts" / "voting-app"
# One values file per supported variation, besides the defaults.
VARIATIONS = CHART / "ci"
RELEASE = "voting-app"
NAMESPACE = "voting-app"
# The labels Helm's conventions add to every object's metadata (templates/_helpers.tpl).
HELM_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance")
HOOK = "helm.sh/hook"


def helm_binaries():
    """{major version: path} of the pinned Helm binaries: HELM and HELM3 as the Makefile sets
    them, else the ones `make helm` installed under .tools/helm/."""
    found = {}
    for major, variable, pattern in (("4", "HELM", "v4.*"), ("3", "HELM3", "v3.*")):
        path = os.environ.get(variable)
        if path is None:
            candidates = sorted((REPOSITORY / ".tools" / "helm").glob(f"{pattern}/helm"))
            if len(candidates) != 1:
                raise RuntimeError(f"Helm {major}: {len(candidates)} binaries; run `make helm`")
            path = candidates[0]
        found[major] = str(path)
    return found


def helm(*arguments, major="4"):
    """Runs Helm; the CompletedProcess, whatever its exit status."""
    return subprocess.run(
        [helm_binaries()[major], *map(str, arguments)],
        capture_output=True,
        text=True,
        check=False,
    )


def template_arguments(values_files=(), settings=(), namespace=NAMESPACE):
    arguments = ["template", RELEASE, CHART, "--namespace", namespace]
    for path in values_files:
        arguments += ["--values", path]
    for setting in settings:
        arguments += ["--set", setting]
    return arguments


def render(values_files=(), settings=(), major="4"):
    """Every object `helm install` would create, test pods included, in Helm's order; a fresh
    copy each time, free to change."""
    return parse_documents(rendered(tuple(values_files), tuple(settings), major))


@functools.lru_cache(maxsize=None)
def rendered(values_files, settings, major):
    """`helm template`'s output, once per set of values: a render takes about a second."""
    done = helm(*template_arguments(values_files, settings), major=major)
    if done.returncode != 0:
        raise RuntimeError(f"helm template failed:\n{done.stderr}")
    return done.stdout


def refusal(values_files=(), settings=(), major="4"):
    """Helm's error message when it refuses to render, else None."""
    done = helm(*template_arguments(values_files, settings), major=major)
    return None if done.returncode == 0 else done.stderr


def hooks(objects):
    return [obj for obj in objects if HOOK in (obj["metadata"].get("annotations") or {})]


def release(objects):
    """The objects of the release itself, without the hooks."""
    return [obj for obj in objects if HOOK not in (obj["metadata"].get("annotations") or {})]


def variations():
    return sorted(VARIATIONS.glob("*.yaml"))


def overlay_of(variation):
    """The overlay of examples/ that a values file renders exactly: ci/<overlay>-values.yaml
    for examples/<overlay>/, else None."""
    overlay = EXAMPLES / variation.name.removesuffix("-values.yaml")
    return overlay if overlay.is_dir() else None


def plain(obj):
    """A copy of `obj` without its namespace field and Helm's labels on its own metadata (a pod
    template's labels stay: they must match as they are)."""
    obj = yaml.safe_load(yaml.safe_dump(obj))
    metadata = obj["metadata"]
    metadata.pop("namespace", None)
    labels = metadata.get("labels") or {}
    for key in HELM_LABELS:
        labels.pop(key, None)
    return obj


def without_helm(objects):
    """The chart's release objects as they compare with kustomize's."""
    return [plain(obj) for obj in release(objects)]


def without_namespace(objects):
    """kustomize's objects as they compare with the chart's: without the app's Namespace (a
    component's own, like logging's, stays) and without namespace fields."""
    return [
        plain(obj)
        for obj in objects
        if not (obj["kind"] == "Namespace" and obj["metadata"]["name"] == NAMESPACE)
    ]


def first_difference(left, right, path=""):
    """The path of the first place where two parsed YAML values differ, and both sides there."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(left.keys() | right.keys(), key=str):
            if key not in left or key not in right or left[key] != right[key]:
                return first_difference(left.get(key), right.get(key), f"{path}.{key}")
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (one, other) in enumerate(zip(left, right)):
            if one != other:
                return first_difference(one, other, f"{path}[{index}]")
    return path or ".", left, right


def drift(chart_objects, kustomized, chart_side="the chart", other_side="k8s/"):
    """The differences between the chart's release objects and kustomize's, one line each."""
    ours = {identity(obj): obj for obj in without_helm(chart_objects)}
    theirs = {identity(obj): obj for obj in without_namespace(kustomized)}
    problems = []
    for key in sorted(ours.keys() - theirs.keys()):
        problems.append(f"only in {chart_side}: {describe(ours[key])}")
    for key in sorted(theirs.keys() - ours.keys()):
        problems.append(f"only in {other_side}: {describe(theirs[key])}")
    for key in sorted(ours.keys() & theirs.keys()):
        if ours[key] != theirs[key]:
            path, mine, other = first_difference(ours[key], theirs[key])
            problems.append(
                f"{describe(ours[key])} differs at {path}: {chart_side} has {mine!r}, "
                f"{other_side} has {other!r}"
            )
    return problems


def values_file(path: Path):
    return yaml.safe_load(path.read_text()) or {}


def renders(major="4"):
    """(name, every object) of the default values and of each variation, test pods included."""
    yield "defaults", render(major=major)
    for path in variations():
        yield path.name, render([path], major=major)
