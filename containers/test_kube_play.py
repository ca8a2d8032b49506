"""k8s/ played with `podman kube play` on the images the session built: every pod runs under its
manifest's security context and limits (as podman and the kernel report them), serves
`/healthz`, and, wired together, records a vote end to end. What is transformed on the way, and
why, is in kube.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import kube
import support

NETWORK = "voting-app-ctest-kube"
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}

pytestmark = [
    pytest.mark.skipif(not support.ON_PODMAN, reason="`kube play` is podman's"),
    pytest.mark.skipif(not support.K8S.is_dir(), reason=f"there are no manifests in {support.K8S}"),
]


def bytes_of(quantity: str) -> int:
    for suffix, factor in UNITS.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


def run_image(reference: str) -> str:
    """Our images as the session built them; the backing services' as the manifests name them."""
    repository, _, _tag = reference.rpartition(":")
    if repository.startswith("voting-app/"):
        return support.our_image(repository.removeprefix("voting-app/"))
    return reference


def network_option(workload: kube.Workload) -> str:
    """The network, with the names of the Services that select the workload as aliases."""
    return ",".join([f"{NETWORK}:alias={workload.aliases[0]}",
                     *(f"alias={alias}" for alias in workload.aliases[1:])]) \
        if workload.aliases else NETWORK


def down(played: list[tuple[kube.Workload, Path]]) -> None:
    for workload, path in reversed(played):
        support.podman("kube", "down", str(path), check=False, timeout=120)
    volumes = sorted({volume for workload, _ in played for volume in workload.volumes})
    if volumes:
        support.podman("volume", "rm", "--force", *volumes, check=False)
    support.podman("network", "rm", "--force", NETWORK, check=False)


@pytest.fixture(scope="module")
def played(images, tmp_path_factory):
    workloads = kube.transform(support.k8s_documents(), run_image, support.free_port)
    folder = tmp_path_factory.mktemp("kube")
    files = []
    for workload in workloads:
        path = folder / f"{workload.name}.yaml"
        path.write_text(yaml.safe_dump_all(workload.documents, sort_keys=False))
        files.append((workload, path))
    # What an interrupted run may have left.
    down(files)
    support.podman("network", "create", NETWORK)
    try:
        for workload, path in files:
            support.podman("kube", "play", "--network", network_option(workload), str(path),
                           timeout=300)
        yield {workload.name: workload for workload in workloads}
    finally:
        down(files)
    for kind in ("pod", "volume", "network"):
        listed = support.podman(kind, "ls", "--quiet")
        left = set(listed.stdout.split()) - {"podman"}
        assert not left, f"{kind}s left: {left}"


def containers(played: dict[str, kube.Workload]):
    """(workload, container's manifest, pod's security context, podman's inspection) of every
    container of the manifests."""
    for workload in played.values():
        spec = workload.source["spec"]["template"]["spec"]
        for container in spec["containers"]:
            inspected = support.inspect("container", workload.container(container["name"]))
            yield workload.name, container, spec.get("securityContext", {}), inspected


def test_every_pod_runs_under_its_security_context_and_limits(played):
    checked = 0
    for name, container, pod_context, inspected in containers(played):
        context = {**pod_context, **container.get("securityContext", {})}
        assert inspected["State"]["Running"], (name, inspected["State"])
        uid, gid = str(context["runAsUser"]), str(context["runAsGroup"])
        assert inspected["Config"]["User"] == f"{uid}:{gid}", name
        status = support.process_status(inspected["State"]["Pid"])
        assert (status["Uid"][1], status["Gid"][1]) == (uid, gid), name
        if context.get("runAsNonRoot"):
            assert uid != "0", name
        assert inspected["HostConfig"]["ReadonlyRootfs"] is bool(context.get("readOnlyRootFilesystem")), name
        if "ALL" in context.get("capabilities", {}).get("drop", []):
            assert not inspected["HostConfig"]["CapAdd"], name
            assert status["CapEff"] == ["0000000000000000"], name
        if context.get("allowPrivilegeEscalation") is False:
            assert "no-new-privileges" in inspected["HostConfig"]["SecurityOpt"], name
            assert status["NoNewPrivs"] == ["1"], name
        limits = container.get("resources", {}).get("limits", {})
        if "memory" in limits:
            assert inspected["HostConfig"]["Memory"] == bytes_of(limits["memory"]), name
        if "cpu" in limits:
            cpu = limits["cpu"]
            millis = int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)
            host = inspected["HostConfig"]
            assert host["CpuQuota"] * 1000 // host["CpuPeriod"] == millis, name
        checked += 1
    assert checked >= len(played) >= 5


def test_every_program_serves_healthz(played):
    assert set(support.SERVED) <= set(played)
    for name in support.SERVED:
        port = played[name].host_ports[name]["http"]
        support.wait_until(f"{name}'s /healthz on 127.0.0.1:{port}",
                           lambda port=port: support.request(port, "GET", "/healthz")[0] == 200,
                           timeout=60)


def test_a_vote_goes_end_to_end(played):
    vote = played["vote"].host_ports["vote"]["http"]
    result = played["result"].host_ports["result"]["http"]
    support.wait_until("the result service answers", lambda: support.results(result) == {"a": 0, "b": 0},
                       timeout=90)
    assert support.vote(vote, "b") == 303
    support.wait_until("the vote reaches the result service",
                       lambda: support.results(result) == {"a": 0, "b": 1}, timeout=90)
