"""k8s/'s manifests turned into what `podman kube play` (podman 4.3) can run as a cluster would.

podman plays Pods, Deployments, PersistentVolumeClaims and ConfigMaps, and ignores or mishandles
the rest. Each change below makes up for one gap and changes nothing the checks look at (users,
file systems, capabilities, limits, images, commands, environment):

- A Deployment or StatefulSet becomes one Pod named after the Service that selects it. podman's
  DNS answers to pod names, not to Services, so the pods must carry the Service names (`redis`,
  `db`) that the programs' settings use. One replica each: there is no Service to spread load.
- A StatefulSet's volumeClaimTemplates become PersistentVolumeClaims, named as Kubernetes names
  them (`<template>-<statefulset>-0`), which podman plays as named volumes.
- A Secret becomes a ConfigMap with the same keys, and each `secret` volume a `configMap` volume
  with the same items: podman 4.3 writes a Secret's values into the files still base64-encoded,
  and crashes on a secret volume that does not set `optional`.
- Every container port gets `hostIP: 127.0.0.1` and a free `hostPort`: podman publishes each
  container port on the host (there is no `--publish` for kube play in 4.3), on every address
  and on the container's own port number unless told otherwise.
- Our images get the tag the test built.
- Services, NetworkPolicies, autoscalers, disruption budgets, Ingresses, ServiceAccounts and the
  Namespace are left out: podman has no such objects. Probes stay in the manifests but podman
  runs none (it schedules health checks through systemd, which these machines lack).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

WORKLOADS = ("Deployment", "StatefulSet")


@dataclass
class Played:
    """The documents to play, and where each pod's ports went on the host."""

    documents: list[dict] = field(default_factory=list)
    # pod name -> container name -> port name (or number) -> host port on 127.0.0.1
    host_ports: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    # pod name -> the workload it came from
    workloads: dict[str, dict] = field(default_factory=dict)


def selects(service: dict, labels: dict[str, str]) -> bool:
    selector = service.get("spec", {}).get("selector") or {}
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def pod_name(workload: dict, services: Iterable[dict]) -> str:
    """The name of the Service that selects the workload's pods, else the workload's own."""
    labels = workload["spec"]["template"]["metadata"].get("labels", {})
    names = sorted(service["metadata"]["name"] for service in services if selects(service, labels))
    return names[0] if names else workload["metadata"]["name"]


def secret_as_config_map(secret: dict) -> dict:
    data = {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": secret["metadata"]["name"]},
        "data": data,
    }


def transform(
    documents: Iterable[dict],
    image: Callable[[str], str],
    free_port: Callable[[], int],
) -> Played:
    """`documents` (every object of k8s/) as podman can play them; `image` maps each image
    reference to the one to run, `free_port` gives a free port on 127.0.0.1."""
    documents = [document for document in documents if document]
    services = [document for document in documents if document["kind"] == "Service"]
    played = Played()
    for document in documents:
        kind = document["kind"]
        if kind == "ConfigMap":
            played.documents.append(document)
        elif kind == "Secret":
            played.documents.append(secret_as_config_map(document))
        elif kind in WORKLOADS:
            name = pod_name(document, services)
            played.workloads[name] = document
            played.documents.extend(claims(document))
            played.documents.append(pod(document, name, image, free_port, played))
    return played


def claims(workload: dict) -> list[dict]:
    if workload["kind"] != "StatefulSet":
        return []
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim_name(template, workload)},
            "spec": template["spec"],
        }
        for template in workload["spec"].get("volumeClaimTemplates", [])
    ]


def claim_name(template: dict, workload: dict) -> str:
    return f"{template['metadata']['name']}-{workload['metadata']['name']}-0"


def pod(workload: dict, name: str, image: Callable[[str], str], free_port: Callable[[], int],
        played: Played) -> dict:
    template = copy.deepcopy(workload["spec"]["template"])
    spec = template["spec"]
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            secret = volume.pop("secret")
            volume["configMap"] = {"name": secret["secretName"]}
            for key in ("items", "defaultMode"):
                if key in secret:
                    volume["configMap"][key] = secret[key]
    for claim in workload["spec"].get("volumeClaimTemplates", []):
        spec.setdefault("volumes", []).append({
            "name": claim["metadata"]["name"],
            "persistentVolumeClaim": {"claimName": claim_name(claim, workload)},
        })
    ports = played.host_ports.setdefault(name, {})
    for container in spec["containers"]:
        container["image"] = image(container["image"])
        for port in container.get("ports", []):
            port["hostIP"] = "127.0.0.1"
            port["hostPort"] = free_port()
            ports.setdefault(container["name"], {})[port.get("name", port["containerPort"])] = port["hostPort"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": template["metadata"].get("labels", {})},
        "spec": spec,
    }
