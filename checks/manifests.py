"""Loading the deployment files the way the tools that apply them do.

`kubectl apply -f DIR` reads the `.yaml`, `.yml` and `.json` files directly in DIR (not in its
subdirectories) in the order of their names; `kubectl apply -k DIR` applies what
`kubectl kustomize DIR` prints. The checks look at objects loaded both ways.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPOSITORY = Path(__file__).resolve().parent.parent
K8S = REPOSITORY / "k8s"
EXAMPLES = REPOSITORY / "examples"
COMPOSE_FILE = REPOSITORY / "docker-compose.yml"
IMAGE_LIST = REPOSITORY / "checks" / "images.txt"

APPLY_SUFFIXES = (".yaml", ".yml", ".json")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")
# The programs whose environment lists (<crate>/environment.json) and binaries the checks use.
PROGRAMS = ("vote", "worker", "result", "loadgen")


def kubectl():
    """The pinned kubectl of the tools folder (installed beside this Python), else PATH's."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: run `make tools`")
    return found


def parse_documents(text):
    """The objects of a YAML or JSON stream, without empty documents; a `List` gives its items."""
    objects = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        if document.get("kind") == "List":
            objects.extend(document.get("items") or [])
        else:
            objects.append(document)
    return objects


def applied_files(directory):
    """The files `kubectl apply -f directory` reads, in the order it reads them."""
    return sorted(
        path
        for path in Path(directory).iterdir()
        if path.is_file() and path.suffix in APPLY_SUFFIXES
    )


def apply_f(directory=K8S):
    """The objects `kubectl apply -f directory` sends, in order."""
    objects = []
    for path in applied_files(directory):
        objects.extend(parse_documents(path.read_text()))
    return objects


def kustomize(directory=K8S):
    """The objects `kubectl apply -k directory` sends, in order."""
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        check=True,
        capture_output=True,
        text=True,
    )
    return parse_documents(rendered.stdout)


def overlays():
    """Every kustomization under examples/ (the directories that hold one)."""
    names = ("kustomization.yaml", "kustomization.yml", "Kustomization")
    return sorted(
        path.parent for name in names for path in EXAMPLES.rglob(name)
    )


def identity(obj):
    """What makes an object distinct on a cluster: its group, kind, namespace and name."""
    group = obj["apiVersion"].rpartition("/")[0]
    metadata = obj.get("metadata", {})
    return (group, obj["kind"], metadata.get("namespace", ""), metadata["name"])


def describe(obj):
    metadata = obj.get("metadata", {})
    namespace = metadata.get("namespace")
    where = f"{namespace}/" if namespace else ""
    return f"{obj['kind']} {where}{metadata.get('name')}"


def of_kind(objects, *kinds):
    return [obj for obj in objects if obj.get("kind") in kinds]


def find(objects, kind, name):
    """The one object of `kind` named `name`."""
    matches = [
        obj for obj in objects if obj.get("kind") == kind and obj["metadata"]["name"] == name
    ]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} objects of kind {kind} named {name}")
    return matches[0]


def pod_template(workload):
    """The pod template of a Deployment, StatefulSet, DaemonSet, Job or ReplicaSet."""
    return workload["spec"]["template"]


def containers(workload):
    """The containers and init containers of a workload's pods."""
    spec = pod_template(workload)["spec"]
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def program_of(image):
    """`vote` for `voting-app/vote:0.1.0` (with or without a registry in front), else None."""
    match = re.fullmatch(r"(?:.+/)?voting-app/([a-z0-9-]+)(?::[^@]+)?(?:@.+)?", image)
    if match and match.group(1) in PROGRAMS:
        return match.group(1)
    return None


def workspace_version():
    """The `[workspace.package]` version of Cargo.toml: the tag of our images."""
    text = (REPOSITORY / "Cargo.toml").read_text()
    section = text.split("[workspace.package]", 1)[1]
    return re.search(r'^version\s*=\s*"([^"]+)"', section, re.MULTILINE).group(1)


def image_list(path=IMAGE_LIST):
    """The references of checks/images.txt, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    return [line for line in lines if line]


# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, as compose interpolates them.
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")


def expand_compose(text, environment):
    """`text` with compose's variables replaced from `environment`, else their defaults."""

    def replace(match):
        name, operator, default = match.group(1), match.group(2), match.group(3) or ""
        value = environment.get(name)
        if value is None or (operator == ":-" and value == ""):
            return default
        return value

    return COMPOSE_VARIABLE.sub(replace, text)


def compose_images(path=COMPOSE_FILE, environment=None):
    """Every service's `image:` in the compose file, as compose resolves it from `environment`
    (none given: the defaults, which is what `docker compose build` tags on a clean shell)."""
    compose = yaml.safe_load(Path(path).read_text())
    environment = {} if environment is None else environment
    return {
        service: expand_compose(definition["image"], environment)
        for service, definition in (compose.get("services") or {}).items()
        if "image" in definition
    }


def environment_list(program):
    """The variables `program` reads, from its <crate>/environment.json."""
    path = REPOSITORY / program / "environment.json"
    return {entry["name"]: entry for entry in json.loads(path.read_text())}


def cargo_target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", REPOSITORY / "target"))
