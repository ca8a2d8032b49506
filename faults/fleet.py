"""The whole fleet on the loopback, from the release binaries: a Redis and a PostgreSQL of its
own, the workers (reaching both through TCP proxies, which pass everything until a scenario
cuts, freezes or slows them), two result replicas, three vote replicas behind nginx with the
endpoints controller, and WebSocket clients on each result replica. Every port is free and on
127.0.0.1; `close()` stops and removes everything."""

import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from faults.balancer import EndpointsController, Nginx
from faults.processes import Process, free_port, http_get, stop_all, wait_until
from faults.proxy import TcpProxy
from faults.resp import Redis
from faults.servers import PostgresServer, RedisServer
from faults.watchers import Watchers

REPOSITORY = Path(__file__).resolve().parent.parent
QUEUE = "votes"
READY_SECONDS = 30
# SPEC section 6: a stop takes at most 10 s; a little more for a loaded machine.
STOP_SECONDS = 15


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", REPOSITORY / "target"))


def binary(name):
    path = target_dir() / "release" / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: cargo build --release -p {name}")
    return path


def base_environment(name):
    environment = {key: value for key, value in os.environ.items()
                   if key in ("PATH", "HOME", "LANG", "TZ")}
    environment.update({"POD_NAME": name, "LOG_FORMAT": "json", "RUST_LOG": "info",
                        "VOTE_QUEUE": QUEUE})
    return environment


class Program:
    """One replica of vote, worker or result on a port of its own."""

    def __init__(self, kind, name, port, environment, log_dir):
        self.kind = kind
        self.name = name
        self.port = port
        environment = {**base_environment(name), **environment, "PORT": str(port)}
        self.process = Process(name, [binary(kind)], log_dir, env=environment)

    def ready(self):
        return http_get(self.port, "/readyz", timeout=1)[0] == 200

    def wait_ready(self, timeout=READY_SECONDS):
        def ready():
            if not self.process.alive():
                raise AssertionError(f"{self.name} exited: {self.process.log_text()[-2000:]}")
            return self.ready()
        wait_until(f"{self.name} to be ready", ready, timeout)

    def metric(self, name):
        """The sum of the samples of `name` on /metrics, None when it does not answer."""
        status, body = http_get(self.port, "/metrics", timeout=1)
        if status != 200:
            return None
        total = None
        for line in body.decode().splitlines():
            if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"):
                total = (total or 0) + float(line.rsplit(" ", 1)[1])
        return total

    def stop(self, signum=signal.SIGTERM, timeout=STOP_SECONDS):
        """(exit status, seconds from the signal to the exit)."""
        signalled = time.monotonic()
        self.process.send(signum)
        status = self.process.wait(timeout)
        took = time.monotonic() - signalled
        if status is None:
            self.process.kill_group()
        return status, took


class Worker(Program):
    def worker_id(self, timeout=READY_SECONDS):
        """The id the worker logged once its schema was ready: its processing list is
        `votes:processing:<id>`."""
        def logged():
            for line in self.process.log_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                fields = entry.get("fields", entry)
                if "worker_id" in fields:
                    return fields["worker_id"]
            return None
        return wait_until(f"{self.name} to log its worker id", logged, timeout)


class Fleet:
    def __init__(self, name, log_root, workers=3, votes=3, results=2, watchers_per_result=3,
                 worker_environment=None, vote_environment=None):
        self.name = name
        self.log_dir = Path(log_root) / name
        shutil.rmtree(self.log_dir, ignore_errors=True)
        self.log_dir.mkdir(parents=True)
        self.folder = Path(tempfile.mkdtemp(prefix=f"faults-{name}-"))
        # PostgreSQL runs as its own user, inside.
        self.folder.chmod(0o755)
        self.worker_environment = worker_environment or {}
        self.vote_environment = vote_environment or {}
        self.counters = {}
        self.votes, self.workers, self.results = [], [], []
        self.watchers = None
        self.nginx = self.controller = None
        self.redis_proxy = self.postgres_proxy = None
        try:
            self.redis = RedisServer(self.folder / "redis", self.log_dir)
            self.postgres = PostgresServer(self.folder / "postgres", self.log_dir)
            self.redis_proxy = TcpProxy(free_port(), self.redis.port)
            self.postgres_proxy = TcpProxy(free_port(), self.postgres.port)
            for _ in range(workers):
                self.start_worker()
            for worker in self.workers:
                worker.wait_ready()
            for index in range(results):
                self.results.append(self._result(f"result-{index + 1}", free_port()))
            self.nginx = Nginx(self.folder / "nginx", self.log_dir)
            self.controller = EndpointsController(self.nginx)
            for _ in range(votes):
                self.start_vote()
            for program in self.votes + self.results:
                program.wait_ready()
            wait_until("nginx to send to every vote replica",
                       lambda: len(self.nginx.upstreams) == votes, READY_SECONDS)
            self.watchers = Watchers({result.name: result.port for result in self.results},
                                     watchers_per_result)
            wait_until("every WebSocket client's first frame",
                       lambda: all(counts is not None for _, counts in self.watchers.tallies()),
                       READY_SECONDS)
            self.redis_client = Redis(self.redis.port)
        except BaseException:
            self.close()
            raise

    def _next(self, kind):
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return f"{kind}-{self.counters[kind]}"

    # --- the programs ----------------------------------------------------------------------

    def start_worker(self):
        worker = Worker("worker", self._next("worker"), free_port(), {
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_proxy.port}/0",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.postgres_proxy.port}/postgres",
            **self.worker_environment,
        }, self.log_dir)
        self.workers.append(worker)
        return worker

    def _result(self, name, port):
        return Program("result", name, port, {"DATABASE_URL": self.postgres.url}, self.log_dir)

    def restart_result(self, index, signum=signal.SIGTERM):
        """Stops result replica `index` and starts it again on the same port, as a container
        restarts in its pod. Returns (exit status, stop seconds)."""
        old = self.results[index]
        stopped = old.stop(signum)
        self.results[index] = self._result(f"{old.name}-restarted", old.port)
        self.results[index].wait_ready()
        return stopped

    def start_vote(self):
        """A new vote replica on a port of its own (a new pod), watched by the controller."""
        vote = Program("vote", self._next("vote"), free_port(),
                       {"REDIS_URL": self.redis.url, **self.vote_environment}, self.log_dir)
        self.votes.append(vote)
        self.controller.watch(vote.name, vote.port)
        return vote

    # --- what the scenarios read -----------------------------------------------------------

    def queue_state(self):
        """(queue length, messages held in processing lists)."""
        queued = self.redis_client.command("LLEN", QUEUE)
        held = sum(self.redis_client.command("LLEN", key)
                   for key in self.redis_client.scan(f"{QUEUE}:processing:*"))
        return queued, held

    def wait_drained(self, timeout):
        """Waits until nothing is queued or held; returns the seconds it took."""
        started = time.monotonic()

        def drained():
            try:
                return self.queue_state() == (0, 0)
            except OSError:
                return False
        try:
            wait_until("the queue to drain", drained, timeout, 0.1)
        except AssertionError as err:
            raise AssertionError(f"{err}; queued and held: {self.queue_state()}") from None
        return time.monotonic() - started

    def tally(self):
        """(vote_tally, the GROUP BY over votes), each {option: count}."""
        tally = dict((vote, int(n)) for vote, n in self.postgres.query(
            "SELECT vote, n FROM vote_tally ORDER BY vote"))
        counted = dict((vote, int(n)) for vote, n in self.postgres.query(
            "SELECT vote, COUNT(id) FROM votes GROUP BY vote ORDER BY vote"))
        return tally, counted

    def stored_votes(self):
        """voter id -> (vote, ts) of every row of `votes`."""
        return {voter: (vote, int(ts))
                for voter, vote, ts in self.postgres.query("SELECT id, vote, ts FROM votes")}

    # --- the end ---------------------------------------------------------------------------

    def close(self):
        """Stops everything, in the order a cluster would, then kills whatever is left and
        removes the folders. Safe to call after any failure."""
        for step in (
            lambda: self.watchers and self.watchers.stop(),
            lambda: self.controller and self.controller.stop(),
            lambda: [vote.stop(timeout=5) for vote in self.votes],
            lambda: self.nginx and self.nginx.stop(),
            lambda: [result.stop(timeout=5) for result in self.results],
            lambda: [worker.stop(timeout=5) for worker in self.workers],
            lambda: self.redis_proxy and self.redis_proxy.close(),
            lambda: self.postgres_proxy and self.postgres_proxy.close(),
        ):
            try:
                step()
            except Exception:
                pass
        stop_all()
        shutil.rmtree(self.folder, ignore_errors=True)
