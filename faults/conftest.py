"""Fixtures of the fault scenarios: a fleet per scenario, closed even when the scenario fails,
and the summary written at the end of the session."""

import pytest

from faults import record
from faults.fleet import Fleet, binary


@pytest.fixture(scope="session", autouse=True)
def release_binaries():
    for name in ("vote", "worker", "result", "loadgen"):
        binary(name)


@pytest.fixture
def fleet_of(request):
    """`fleet_of(**options)` starts the scenario's fleet; it is closed after the test."""
    fleets = []

    def start(**options):
        fleets.append(Fleet(request.node.name.removeprefix("test_"), record.log_root(), **options))
        return fleets[-1]

    yield start
    for fleet in fleets:
        fleet.close()


def pytest_sessionfinish(session):
    if record.SUMMARY:
        record.write_summary()
