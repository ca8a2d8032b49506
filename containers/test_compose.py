"""`docker compose up` for real, with docker-compose.yml as it is: votes posted on the published
vote port reach the result page, restarts and a kill of Redis lose no acknowledged vote, the
seed profile seeds, and `down --volumes` leaves nothing.

The tests of this module run in order on one stack and keep one ledger of the votes the vote
service acknowledged; every vote comes from a new voter, so each adds one to the tally."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import support

PROJECT = "voting-app-ctest"
LABEL = f"label=com.docker.compose.project={PROJECT}"
# The worker commits a vote within a second or so; a restart of PostgreSQL and the worker's
# reconnection take longer. Generous, for a machine shared with other builds.
TALLY_TIMEOUT = 120


class Stack:
    def __init__(self) -> None:
        self.ports = {name: support.free_port() for name in ("vote", "result", "redis", "db")}
        self.env = support.environment()
        self.env.update(
            APP_VERSION=support.TEST_VERSION,
            PAGES_HOST_IP="127.0.0.1",
            VOTE_HOST_PORT=str(self.ports["vote"]),
            RESULT_HOST_PORT=str(self.ports["result"]),
            REDIS_HOST_PORT=str(self.ports["redis"]),
            DB_HOST_PORT=str(self.ports["db"]),
        )
        self.acknowledged: Counter[str] = Counter()

    def compose(self, *args: str, timeout: float = 300, check: bool = True):
        return support.run(
            [str(support.COMPOSE), "--file", "docker-compose.yml", "--project-name", PROJECT, *args],
            env=self.env, timeout=timeout, check=check,
        )

    def post(self, a: int, b: int) -> None:
        """Posts a votes for a and b for b; every one must be acknowledged."""
        for option, count in (("a", a), ("b", b)):
            for _ in range(count):
                status = support.vote(self.ports["vote"], option)
                assert status == 303, f"vote {option} answered {status}"
                self.acknowledged[option] += 1

    def post_when_back(self, a: int, b: int) -> None:
        """Like post, once the vote service acknowledges votes again after an outage; the
        refusals (503) before that were never acknowledged, so they are not in the ledger."""
        support.wait_until("the vote service acknowledges votes again",
                           lambda: support.vote(self.ports["vote"], "a") == 303, timeout=60)
        self.acknowledged["a"] += 1
        self.post(a, b)

    def redis_outage_with_votes_queued(self, outage: str, a: int, b: int) -> None:
        """Votes queued in Redis (the worker stopped), then `docker compose <outage> redis`;
        once Redis is back and the worker drains the queue, every acknowledged vote counts."""
        self.compose("stop", "worker")
        self.post(a, b)
        self.compose(outage, "redis")
        # After a kill (or when podman already restarted it) this brings Redis back.
        self.compose("start", "redis")
        self.post_when_back(a=2, b=2)
        self.compose("start", "worker")
        self.assert_every_vote_counted()

    def tally(self) -> dict[str, int]:
        return support.results(self.ports["result"])

    def assert_every_vote_counted(self) -> None:
        expected = {"a": self.acknowledged["a"], "b": self.acknowledged["b"]}
        support.wait_until(f"the result page shows {expected}",
                           lambda: self.tally() == expected, timeout=TALLY_TIMEOUT)


@pytest.fixture(scope="module")
def stack(images):
    stack = Stack()
    with support.HealthChecks(["--filter", LABEL]):
        # What an interrupted run may have left.
        stack.compose("--profile", "seed", "down", "--volumes", "--remove-orphans", check=False)
        stack.compose("up", "--detach", "--no-build", "--wait", "--wait-timeout", "300",
                      timeout=400)
        yield stack
        stack.compose("--profile", "seed", "down", "--volumes", check=False)


def test_votes_on_the_published_port_reach_the_result_page(stack):
    stack.post(a=12, b=8)
    stack.assert_every_vote_counted()
    status, page = support.request(stack.ports["result"], "GET", "/")
    assert status == 200
    assert "20 votes" in page.decode()


def test_pages_and_backing_services_are_published_on_the_loopback_only(stack):
    for service in ("vote", "result", "redis", "db"):
        container = json.loads(stack.compose("ps", "--format", "json", service).stdout.splitlines()[0])
        bindings = support.inspect("container", container["ID"])["HostConfig"]["PortBindings"]
        hosts = {binding["HostIp"] for published in bindings.values() for binding in published}
        assert hosts == {"127.0.0.1"}, (service, bindings)


def test_redis_writes_every_vote_to_disk_before_acknowledging_it(stack):
    assert support.redis_command(stack.ports["redis"], "CONFIG", "GET", "appendonly") == [
        "appendonly", "yes"]
    assert support.redis_command(stack.ports["redis"], "CONFIG", "GET", "appendfsync") == [
        "appendfsync", "always"]


# Votes posted while the worker or PostgreSQL is down wait in Redis; the worker and the result
# service reconnect to PostgreSQL by themselves, and the page follows.
@pytest.mark.parametrize("service", ["worker", "db"])
def test_a_restart_loses_no_vote(stack, service):
    stack.post(a=10, b=6)
    stack.compose("restart", service)
    stack.post(a=4, b=8)
    stack.assert_every_vote_counted()


def test_a_restart_of_redis_loses_no_queued_vote(stack):
    stack.redis_outage_with_votes_queued("restart", a=15, b=5)


def test_a_kill_of_redis_loses_no_acknowledged_vote(stack):
    # SIGKILL gives Redis no chance to save anything: only what its append-only file on the
    # volume holds survives.
    stack.redis_outage_with_votes_queued("kill", a=7, b=13)


def test_the_seed_profile_seeds_and_exits_0(stack):
    before = sum(stack.tally().values())
    stack.env.update(SEED_VOTES="200", SEED_CONCURRENCY="8")
    stack.compose("--profile", "seed", "up", "--no-build", "--detach", "seed")

    def exited() -> dict | None:
        listed = stack.compose("--profile", "seed", "ps", "--all", "--format", "json", "seed")
        seed = json.loads(listed.stdout.splitlines()[0])
        return seed if seed["State"] == "exited" else None

    seed = support.wait_until("the seed is done", exited, timeout=240, every=2)
    assert seed["ExitCode"] == 0, stack.compose("--profile", "seed", "logs", "seed").stdout
    # Each seeded vote comes from a new voter.
    assert sum(stack.tally().values()) == before + 200


def test_down_with_volumes_leaves_nothing(stack):
    stack.compose("--profile", "seed", "down", "--volumes")
    for kind in ("container", "volume", "network"):
        listed = support.docker(kind, "ls", *(["--all"] if kind == "container" else []),
                                "--filter", LABEL, "--quiet")
        assert listed.stdout.strip() == "", f"{kind}s left: {listed.stdout}"
