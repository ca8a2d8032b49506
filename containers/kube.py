"""k8s/'s manifests turned into what `podman kube play` (podman 4.3) can run as a cluster would.

podman 4.3 plays Pods, Deployments and PersistentVolumeClaims (ConfigMaps in the same file serve
as the sources of `configMapKeyRef` and configMap volumes) and ignores the rest. Each change
below makes up for one gap and changes nothing the checks look at (users, groups, file systems,
capabilities, limits, images, commands, arguments, environment):

- A StatefulSet becomes a Deployment of the same name and pod template, and each of its
  volumeClaimTemplates a PersistentVolumeClaim named as Kubernetes names the first replica's
  (`<template>-<statefulset>-0`), mounted where the template's volume was; podman plays a claim
  as a named volume.
- Every workload is played on its own, on one network, with the names of the Services that
  select its pods as network aliases: podman has no Services, and its DNS answers to container
  names and aliases, so `redis` and `db` resolve as the programs' settings expect.
- One replica of each: there is no Service to spread load over several, and each container port
  is published on one host port.
- A Secret becomes a ConfigMap with the same keys, and each `secret` volume a `configMap` volume
  with the same items and mode: podman 4.3 crashes (a nil pointer) on a secret volume that does
  not set `optional`, and writes a Secret's values into the files still base64-encoded.
- Every container port gets `hostIP: 127.0.0.1` and a free `hostPort`: podman publishes each
  container port on the host (kube play has no `--publish` in 4.3), on every address and on the
  container's own port number unless told otherwise.
- A volume mounted under /var/run is mounted at the same place under /run, where /var/run
  links to in Debian-based images: podman 4.3 follows that link on the host when it prepares a
  fresh volume, and gives the volume the owner and mode of the host's own /run/... (PostgreSQL's
  socket directory was the host's PostgreSQL's, 2775 and not writable to the image's user).
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
# A link to /run in Debian-based images (the real ones and our stand-ins alike).
VAR_RUN = "/var/run/"


@dataclass
class Workload:
    """One workload of the manifests, as one `kube play` runs it."""

    # The manifest's object (Deployment or StatefulSet), untouched: what the checks compare to.
    source: dict
    # The Services that select its pods: the pod's network aliases.
    aliases: list[str]
    # What its `kube play` gets: the ConfigMaps, its claims and its Deployment.
    documents: list[dict] = field(default_factory=list)
    # container name -> port name (or number) -> host port on 127.0.0.1
    host_ports: dict[str, dict[str | int, int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.source["metadata"]["name"]

    @property
    def pod(self) -> str:
        """The name podman gives the Deployment's one pod."""
        return f"{self.name}-pod-0"

    def container(self, name: str) -> str:
        """The name podman gives a container of that pod."""
        return f"{self.pod}-{name}"

    @property
    def volumes(self) -> list[str]:
        """The named volumes its play makes: one per claim, one per configMap volume (named
        after the ConfigMap) and one per emptyDir (named after the volume)."""
        spec = self.deployment["spec"]["template"]["spec"]
        claims = [doc["metadata"]["name"] for doc in self.documents
                  if doc["kind"] == "PersistentVolumeClaim"]
        others = [volume["configMap"]["name"] if "configMap" in volume else volume["name"]
                  for volume in spec.get("volumes", []) if "configMap" in volume or "emptyDir" in volume]
        return claims + others

    @property
    def deployment(self) -> dict:
        return next(doc for doc in self.documents if doc["kind"] == "Deployment")


def selects(service: dict, labels: dict[str, str]) -> bool:
    selector = service.get("spec", {}).get("selector") or {}
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


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
) -> list[Workload]:
    """`documents` (every object of k8s/) as podman can play them, one workload at a time, in
    the manifests' order; `image` maps each image reference to the one to run, `free_port`
    gives a free port on 127.0.0.1."""
    documents = [document for document in documents if document]
    services = [document for document in documents if document["kind"] == "Service"]
    config_maps = [document for document in documents if document["kind"] == "ConfigMap"]
    config_maps += [secret_as_config_map(document) for document in documents
                    if document["kind"] == "Secret"]
    workloads = []
    for document in documents:
        if document["kind"] not in WORKLOADS:
            continue
        labels = document["spec"]["template"]["metadata"].get("labels", {})
        workload = Workload(
            source=document,
            aliases=sorted(service["metadata"]["name"] for service in services
                           if selects(service, labels)),
        )
        workload.documents = [
            *copy.deepcopy(config_maps),
            *claims(document),
            deployment(document, image, free_port, workload.host_ports),
        ]
        workloads.append(workload)
    return workloads


def claims(workload: dict) -> list[dict]:
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


def deployment(workload: dict, image: Callable[[str], str], free_port: Callable[[], int],
               host_ports: dict[str, dict[str | int, int]]) -> dict:
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
    for container in spec["containers"]:
        container["image"] = image(container["image"])
        for mount in container.get("volumeMounts", []):
            if mount["mountPath"].startswith(VAR_RUN):
                mount["mountPath"] = "/run/" + mount["mountPath"].removeprefix(VAR_RUN)
        for port in container.get("ports", []):
            port["hostIP"] = "127.0.0.1"
            port["hostPort"] = free_port()
            host_ports.setdefault(container["name"], {})[port.get("name", port["containerPort"])] = port["hostPort"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": workload["metadata"]["name"],
                     "labels": workload["metadata"].get("labels", {})},
        "spec": {
            "replicas": 1,
            "selector": copy.deepcopy(workload["spec"]["selector"]),
            "template": template,
        },
    }
