"""Fixtures of the deployment checks: the objects of k8s/ as `kubectl apply -f` and `-k` send
them. Tests that break something work on deep copies, so each starts from the real files."""

import copy

import pytest

from checks import manifests


@pytest.fixture(scope="session")
def applied_once():
    return manifests.apply_f()


@pytest.fixture(scope="session")
def kustomized_once():
    return manifests.kustomize()


@pytest.fixture
def objects(applied_once):
    """A copy of `kubectl apply -f k8s/`'s objects, free to break."""
    return copy.deepcopy(applied_once)


@pytest.fixture(params=["apply -f", "apply -k"])
def each_way(request, applied_once, kustomized_once):
    """The objects of k8s/, loaded each way `kubectl apply` loads them."""
    return copy.deepcopy(applied_once if request.param == "apply -f" else kustomized_once)
