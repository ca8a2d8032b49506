"""The real k8s/ passes every check of invariants.py and netpol.py, loaded both ways."""

import pytest

from checks import components, invariants, manifests, netpol, programs
from checks.monitoring import objects as monitoring


def assert_none(problems):
    """Fails with every problem on its own line (pytest would cut a long list short)."""
    assert not problems, "\n".join(["", *problems])


def test_k8s_holds_only_the_manifests_and_the_kustomization():
    allowed_directories = {"components"}
    for path in manifests.K8S.iterdir():
        if path.is_dir():
            assert path.name in allowed_directories, path
        else:
            assert path.name == "Kustomization" or path.suffix == ".yaml", path


def test_the_kustomization_lists_every_file_apply_reads_in_the_same_order():
    import yaml

    kustomization = yaml.safe_load((manifests.K8S / "Kustomization").read_text())
    files = [path.name for path in manifests.applied_files(manifests.K8S)]
    assert kustomization["resources"] == files


def test_apply_f_and_apply_k_give_the_same_objects(applied_once, kustomized_once):
    assert_none(invariants.same_objects(applied_once, kustomized_once))


CHECKS = [
    invariants.namespace_first,
    invariants.selectors,
    invariants.ports,
    invariants.environment,
    invariants.stopping,
    invariants.autoscaling,
    invariants.programs_covered,
    invariants.pod_names,
    invariants.labels,
    invariants.conduct,
    netpol.edge_problems,
    monitoring.monitors,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_check_passes(check, each_way):
    assert_none(check(each_way))


def test_every_probe_path_answers_on_the_running_program(applied_once):
    found, problems = invariants.probes(applied_once)
    assert_none(problems)
    # Every program's readiness and liveness are there to be tried.
    assert {(program, path) for program, path, _ in found} >= {
        (program, path)
        for program in ("vote", "worker", "result")
        for path in ("/healthz", "/readyz")
    }
    assert_none(programs.probe_problems(found))


def test_k8s_uses_the_listed_images(applied_once):
    assert_none(invariants.images_of_k8s(applied_once, manifests.image_list()))


def test_compose_uses_the_listed_images(applied_once):
    compose = manifests.compose_images()
    assert_none(invariants.images_of_compose(compose, manifests.image_list(), applied_once))


@pytest.mark.parametrize("overlay", manifests.overlays(), ids=lambda path: path.name)
def test_every_overlay_keeps_the_checks(overlay):
    objects = manifests.kustomize(overlay)
    for check in components.tailored(CHECKS, components.expectations(overlay)):
        assert_none(check(objects))
