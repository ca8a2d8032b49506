"""The fault scenarios (docs/RELIABILITY.md). Each starts a fleet of its own, runs steady load
with re-voting voters through nginx, injects its faults, and ends with `settle_and_check`: every
voter's stored vote is its last acknowledged one, the tally equals the GROUP BY, every result
replica and WebSocket client shows it, and the ledger balances. Each is bounded in time and in
votes (RATE × its seconds)."""

import os
import signal
import threading
import time

from faults.invariants import settle_and_check
from faults.load import Load
from faults.processes import wait_until
from faults.record import Record
from faults.resp import Redis

# The steady load of every scenario: votes per second, and voters re-voting about every
# VOTERS / RATE = 2 s, so that each voter's last vote is a re-vote that must win. Vote i is cast
# by voter i % VOTERS and alternates between the options: with an odd number of voters, each
# voter's successive votes alternate too, so every re-vote changes the stored vote.
RATE = 150
VOTERS = 301
# The worker's lease (WORKER_LEASE_SECS, shipped default) and its housekeeping period (a third):
# a dead worker's messages are back within LEASE + ROUND (docs/worker.md).
LEASE_SECONDS = 10
ROUND_SECONDS = LEASE_SECONDS / 3


def processed(fleet, without=None):
    """Votes committed by the workers running now (but `without`, frozen, which answers no
    scrape)."""
    return sum(worker.metric("worker_votes_processed_total") or 0
               for worker in fleet.workers if worker is not without)


def wait_resumed(fleet, since_count, timeout=30):
    """Seconds until the workers commit again after a fault ends."""
    started = time.monotonic()
    wait_until("the workers to commit again", lambda: processed(fleet) > since_count, timeout,
               0.05)
    return round(time.monotonic() - started, 2)


def wait_backlog_cleared(fleet, timeout=60):
    """Seconds until less than a second of votes waits in the queue."""
    started = time.monotonic()

    def cleared():
        try:
            return fleet.queue_state()[0] <= RATE
        except OSError:
            return False
    wait_until("the backlog to clear", cleared, timeout, 0.1)
    return round(time.monotonic() - started, 2)


def holding_worker(fleet, workers, timeout=20):
    """The first of `workers` seen holding messages (a batch taken, not yet acknowledged), as
    (worker, its id, messages held), caught as early as the harness can poll."""
    ids = {worker.worker_id(): worker for worker in workers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker_id, worker in ids.items():
            held = fleet.redis_client.command("LLEN", f"votes:processing:{worker_id}")
            if held:
                return worker, worker_id, held
        time.sleep(0.001)
    raise AssertionError("no worker was seen holding a batch")


class GivenBack:
    """Watches, in a thread, the processing lists of workers that died or froze holding
    messages, and notes when each is gone (given back to the queue by another worker)."""

    def __init__(self, fleet):
        self._redis = Redis(fleet.redis.port)
        self._watched = {}  # worker id -> when it began
        self.gone = {}  # worker id -> seconds from the beginning to the list's disappearance
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="given-back")
        self._thread.start()

    def watch(self, worker_id, since):
        self._watched[worker_id] = since

    def _run(self):
        while not self._stop.wait(0.05):
            for worker_id, since in list(self._watched.items()):
                try:
                    exists = self._redis.command("EXISTS", f"votes:processing:{worker_id}")
                except OSError:
                    continue
                if not exists:
                    self.gone[worker_id] = round(time.monotonic() - since, 2)
                    del self._watched[worker_id]

    def wait_all(self, timeout):
        wait_until("every held list to be given back", lambda: not self._watched, timeout, 0.1)
        self._stop.set()
        self._thread.join(5)
        self._redis.close()


def test_rolling_restart_of_vote(fleet_of):
    """A rolling update of the vote replicas, as the Deployment's strategy does it (maxSurge 1,
    maxUnavailable 0): a new replica, ready and in nginx's list, then the old one stopped with
    SIGTERM, taken out by the controller when its /readyz turns 503. Twice round the three
    replicas. No request through nginx may fail."""
    rolling_restart(fleet_of)


def rolling_restart(fleet_of, stop=signal.SIGTERM):
    """The rolling restart, the old replicas stopped with `stop` (SIGKILL shows the check
    failing: docs/RELIABILITY.md)."""
    fleet = fleet_of()
    record = Record("rolling_restart_of_vote",
                    "vote replicas replaced one at a time, twice round, under load")
    load = Load(fleet, seconds=36, rate=RATE, voters=VOTERS)
    time.sleep(3)
    removals, stops = [], []
    for _ in range(2):
        for old in list(fleet.votes):
            new = fleet.start_vote()
            new.wait_ready()
            fleet.controller.wait_for(new.name, "added", after=new.process.started_at)
            signalled = time.monotonic()
            old.process.send(stop)
            seen, served = fleet.controller.wait_for(old.name, "removed", after=signalled)
            status = old.process.wait(15)
            stopped = time.monotonic() - signalled
            fleet.controller.forget(old.name)
            fleet.votes.remove(old)
            removals.append(round(served - signalled, 3))
            stops.append(round(stopped, 2))
            record.event("vote replaced", old=old.name, new=new.name, exit=status,
                         removed_after_s=removals[-1], stopped_after_s=stops[-1])
            assert status == 0 or stop != signal.SIGTERM, old.process.log_text()[-2000:]
            assert load.running(), "the load ended before the rollout did"
    record["replacements"] = len(removals)
    record["removal_after_sigterm_s"] = {"max": max(removals), "all": removals}
    record["stop_after_sigterm_s"] = {"max": max(stops), "all": stops}
    record["nginx_reloads"] = fleet.nginx.reloads
    settle_and_check(fleet, load, record)
    votes = record["votes"]
    assert votes["failed_requests"] == 0, votes
    record["passed"] = True
    record.finish()


def test_worker_killed_mid_batch(fleet_of):
    """A worker killed with SIGKILL while it holds a batch, ten times, each replaced by a new
    worker as a Deployment would; the messages each held come back within the lease."""
    fleet = fleet_of()
    record = Record("worker_killed_mid_batch",
                    "SIGKILL of a worker holding a batch, ten times, under load")
    load = Load(fleet, seconds=36, rate=RATE, voters=VOTERS)
    time.sleep(2)
    kills = []
    given_back = GivenBack(fleet)
    # A kill that lands between two batches holds nothing; it is done again, up to 20 kills.
    while sum(1 for _, held in kills if held) < 10 and len(kills) < 20:
        worker, worker_id, _ = holding_worker(fleet, fleet.workers)
        os.kill(worker.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        worker.process.wait(5)
        held = fleet.redis_client.command("LLEN", f"votes:processing:{worker_id}")
        if held:
            given_back.watch(worker_id, killed_at)
        fleet.workers.remove(worker)
        fleet.start_worker().wait_ready()
        kills.append((worker_id, held))
        record.event("worker killed", worker=worker.name, held_after_death=held)
        time.sleep(1.5)
    assert load.running(), "the load ended before the kills did"
    given_back.wait_all(LEASE_SECONDS + 2 * ROUND_SECONDS + 10)
    mid_batch = sum(1 for _, held in kills if held)
    record["kills"] = len(kills)
    record["kills_holding_messages"] = mid_batch
    record["messages_held_at_kills"] = sum(held for _, held in kills)
    times = list(given_back.gone.values())
    record["given_back_after_kill_s"] = {"max": max(times, default=None), "all": times}
    settle_and_check(fleet, load, record)
    assert mid_batch == 10, kills
    # SPEC section 4: within 30 s.
    assert max(times) <= 30, times
    record["passed"] = True
    record.finish()


def test_postgres_restarted(fleet_of):
    """PostgreSQL stopped and started again twice under load: a fast shutdown (every client
    disconnected, a checkpoint) and an immediate one (no checkpoint: crash recovery at the
    start). Votes wait in Redis; workers and result replicas reconnect by themselves."""
    fleet = fleet_of()
    record = Record("postgres_restarted",
                    "PostgreSQL restarted with a fast and with an immediate shutdown, under load")
    load = Load(fleet, seconds=28, rate=RATE, voters=VOTERS)
    outages = []
    for mode in ("fast", "immediate"):
        time.sleep(5)
        stopped_at = time.monotonic()
        status = fleet.postgres.stop(mode)
        time.sleep(2)
        fleet.postgres.start()
        back_at = time.monotonic()
        backlog = sum(fleet.queue_state())
        count = processed(fleet)
        resumed = wait_resumed(fleet, count)
        cleared = wait_backlog_cleared(fleet)
        outages.append({"mode": mode, "down_s": round(back_at - stopped_at, 2),
                        "backlog_at_restart": backlog,
                        "commits_resumed_after_s": resumed,
                        "backlog_cleared_after_s": cleared})
        record.event("postgres restarted", exit=status, **outages[-1])
    record["outages"] = outages
    settle_and_check(fleet, load, record)
    assert record["votes"]["failed_requests"] == 0, record["votes"]
    record["passed"] = True
    record.finish()


def test_redis_restarted_and_killed(fleet_of):
    """Redis restarted (its own orderly shutdown, on SIGTERM) under load; then killed with
    SIGKILL while every voter's last acknowledged vote exists only in Redis: the workers' path to
    PostgreSQL is cut for the last seconds of the load, so the votes pile up in the queue, and
    the load ends as Redis dies. Started again on its append-only file, Redis must hold every
    one of them, since it runs as shipped (appendfsync always). Votes posted while it is down
    are refused with 503, and the ledger accounts for them."""
    fleet = fleet_of()
    record = Record("redis_restarted_and_killed",
                    "Redis restarted (SIGTERM), then killed (SIGKILL) holding the last votes")
    seconds = 17
    load = Load(fleet, seconds=seconds, rate=RATE, voters=VOTERS)
    outages = []
    time.sleep(5)
    stopped_at = time.monotonic()
    status = fleet.redis.stop(signal.SIGTERM)
    time.sleep(1)
    fleet.redis.start()
    back_at = time.monotonic()
    count = processed(fleet)
    outages.append({"signal": "SIGTERM", "exit": status, "down_s": round(back_at - stopped_at, 2),
                    "commits_resumed_after_s": wait_resumed(fleet, count)})
    record.event("redis restarted", **outages[-1])

    # Four seconds of votes, two by each voter, kept only by Redis.
    load.at(seconds - 4.5)
    fleet.postgres_proxy.cut()
    record.event("workers cut off from postgres")
    load.at(seconds - 0.5)
    queued_before, held_before = fleet.queue_state()
    stopped_at = time.monotonic()
    status = fleet.redis.stop(signal.SIGKILL)
    fleet.redis.start()
    back_at = time.monotonic()
    queued_after, held_after = fleet.queue_state()
    load.wait()
    count = processed(fleet)
    fleet.postgres_proxy.restore()
    outages.append({"signal": "SIGKILL", "exit": status, "down_s": round(back_at - stopped_at, 2),
                    "queued_and_held_before_kill": queued_before + held_before,
                    "queued_and_held_after_restart": queued_after + held_after,
                    "commits_resumed_after_s": wait_resumed(fleet, count)})
    record.event("redis killed and started again", **outages[-1])
    record["outages"] = outages
    settle_and_check(fleet, load, record)
    # Whatever Redis acknowledged before the kill was replayed from the append-only file.
    assert queued_after + held_after >= queued_before + held_before, outages
    record["passed"] = True
    record.finish()


def test_result_replica_restarted(fleet_of):
    """Each result replica restarted under load, one with SIGTERM (its sockets closed with 1001,
    going away) and one killed with SIGKILL: its clients reconnect and converge."""
    fleet = fleet_of(watchers_per_result=5)
    record = Record("result_replica_restarted",
                    "result replicas restarted (SIGTERM, then SIGKILL), clients reconnecting")
    load = Load(fleet, seconds=24, rate=RATE, voters=VOTERS)
    restarts = []
    for index, signum in ((0, signal.SIGTERM), (1, signal.SIGKILL)):
        time.sleep(5)
        name = fleet.results[index].name
        clients = [client for client in fleet.watchers.clients if client.replica == name]
        before = [client.connects for client in clients]
        restarted_at = time.monotonic()
        status, took = fleet.restart_result(index, signum)
        wait_until(f"the clients of {name} to reconnect",
                   lambda: all(client.connects > count and client.disconnected_at is None
                               for client, count in zip(clients, before)), 20, 0.05)
        restarts.append({"replica": name, "signal": signal.Signals(signum).name, "exit": status,
                         "stop_s": round(took, 2),
                         "all_clients_resynced_after_s": round(time.monotonic() - restarted_at, 2),
                         "close_codes": sorted({code for client in clients
                                                for code in client.close_codes
                                                if code is not None})})
        record.event("result restarted", **restarts[-1])
    record["restarts"] = restarts
    settle_and_check(fleet, load, record)
    assert restarts[0]["exit"] == 0 and restarts[0]["close_codes"] == [1001], restarts
    assert record["votes"]["failed_requests"] == 0, record["votes"]
    record["passed"] = True
    record.finish()


def test_worker_connections_cut_and_slowed(fleet_of):
    """The workers' paths to PostgreSQL and to Redis, through TCP proxies: each cut (connections
    closed, new ones refused) for 4 s and restored; both slowed by 200 ms each way for 5 s; the
    path to PostgreSQL frozen (nothing forwarded, connections kept) for 3 s."""
    fleet = fleet_of()
    record = Record("worker_connections_cut_and_slowed",
                    "workers' connections to PostgreSQL and Redis cut, frozen and slowed")
    load = Load(fleet, seconds=36, rate=RATE, voters=VOTERS)
    faults = []

    def fault(name, begin, seconds, end):
        time.sleep(3)
        begin()
        record.event(f"{name} begins")
        time.sleep(seconds)
        count = processed(fleet)
        backlog = sum(fleet.queue_state())
        end()
        resumed = wait_resumed(fleet, count)
        cleared = wait_backlog_cleared(fleet)
        faults.append({"fault": name, "seconds": seconds, "backlog_at_restore": backlog,
                       "commits_resumed_after_s": resumed,
                       "backlog_cleared_after_s": cleared})
        record.event(f"{name} ends", **faults[-1])

    postgres, redis = fleet.postgres_proxy, fleet.redis_proxy
    fault("postgres cut", postgres.cut, 4, postgres.restore)
    fault("redis cut", redis.cut, 4, redis.restore)
    fault("both slowed 200 ms", lambda: (postgres.slow(0.2), redis.slow(0.2)), 5,
          lambda: (postgres.restore(), redis.restore()))
    fault("postgres frozen", postgres.freeze, 3, postgres.restore)
    record["faults"] = faults
    settle_and_check(fleet, load, record)
    assert record["votes"]["failed_requests"] == 0, record["votes"]
    record["passed"] = True
    record.finish()


# A backend of the worker, idle inside a transaction that has upserted rows of `votes` (so holds
# their row locks), for more than a second: a worker stopped between its upsert and its COMMIT.
FROZEN_IN_TRANSACTION = """
    SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid)
    WHERE relation = 'votes'::regclass AND mode = 'RowExclusiveLock'
      AND state = 'idle in transaction' AND state_change < now() - interval '1 second'"""
# Frozen this long: well past the lease and the round that gives its messages back.
FREEZE_SECONDS = 25


def freeze_inside_a_transaction(fleet, attempts=6):
    """Freezes (SIGSTOP) a worker between the upsert of its batch and its COMMIT: the path to
    PostgreSQL is slowed by 100 ms each way for a moment, so that a batch's transaction takes
    most of a second, and the worker is stopped part-way through it. Returns (worker, its id,
    messages held, when it froze); a freeze that missed the transaction is thawed and tried
    again."""
    for attempt in range(attempts):
        fleet.postgres_proxy.slow(0.1)
        worker, worker_id, _ = holding_worker(fleet, fleet.workers)
        # The transaction's statements take a round trip of 200 ms each: the upsert's locks
        # are taken some 300 to 500 ms after the take, and the COMMIT leaves 200 ms later.
        time.sleep((0.3, 0.4, 0.5, 0.6, 0.35, 0.55)[attempt % 6])
        worker.process.send(signal.SIGSTOP)
        frozen_at = time.monotonic()
        fleet.postgres_proxy.restore()
        time.sleep(1.5)
        held = fleet.redis_client.command("LLEN", f"votes:processing:{worker_id}")
        if held and int(fleet.postgres.query(FROZEN_IN_TRANSACTION)[0][0]):
            return worker, worker_id, held, frozen_at
        worker.process.send(signal.SIGCONT)
        time.sleep(1)
    raise AssertionError("no freeze landed inside a batch's transaction")


def test_worker_frozen_past_its_lease(fleet_of):
    """A worker frozen with SIGSTOP in the middle of its batch's transaction (its upsert done,
    its COMMIT not sent), kept frozen well past its lease, then thawed with SIGCONT. Another
    worker must take its messages back within the lease and the others must go on storing votes
    meanwhile, although the frozen worker's transaction holds its voters' rows locked; when it
    wakes, nothing is stored twice or lost, nor does its old batch replace a newer vote."""
    fleet = fleet_of()
    record = Record("worker_frozen_past_its_lease",
                    "a worker frozen inside its batch's transaction past its lease, then thawed")
    load = Load(fleet, seconds=50, rate=RATE, voters=VOTERS)
    time.sleep(3)
    worker, worker_id, held, frozen_at = freeze_inside_a_transaction(fleet)
    record.event("worker frozen inside its transaction", worker=worker.name, held=held)
    given_back = GivenBack(fleet)
    given_back.watch(worker_id, frozen_at)
    # The longest time without a commit by the other workers while it is frozen.
    last_count, last_commit, stalled = processed(fleet, worker), time.monotonic(), 0.0
    while time.monotonic() < frozen_at + FREEZE_SECONDS:
        time.sleep(0.1)
        count, now = processed(fleet, worker), time.monotonic()
        if count > last_count:
            last_count, last_commit = count, now
        stalled = max(stalled, now - last_commit)
    assert load.running(), "the load ended before the freeze did"
    given_back.wait_all(5)
    worker.process.send(signal.SIGCONT)
    thawed_at = time.monotonic()
    record.event("worker thawed", frozen_s=round(thawed_at - frozen_at, 2))
    worker.wait_ready()
    record["messages_held"] = held
    record["given_back_after_freeze_s"] = given_back.gone[worker_id]
    record["frozen_s"] = round(thawed_at - frozen_at, 2)
    record["longest_commit_stall_while_frozen_s"] = round(stalled, 2)
    record["ready_again_after_thaw_s"] = round(time.monotonic() - thawed_at, 2)
    record["transactions_ended_by_postgres"] = sum(
        "idle-in-transaction timeout" in line
        for line in fleet.postgres.process.log_text().splitlines())
    settle_and_check(fleet, load, record)
    # SPEC section 4: a stopped worker's messages are back in play within 30 s, and so must the
    # storing of votes be: a frozen transaction may not hold the others up longer than that.
    assert given_back.gone[worker_id] <= 30
    assert stalled <= 15, f"no vote stored for {stalled:.1f} s while a worker was frozen"
    assert record["votes"]["failed_requests"] == 0, record["votes"]
    record["passed"] = True
    record.finish()
