"""The real programs (the debug builds of `cargo build --workspace`), started on free loopback
ports against the machine's Redis and PostgreSQL, so that the checks can ask them what the
manifests' probes will ask.

Each run uses its own Redis list and its own database, and removes both afterwards.
"""

import http.client
import secrets
import signal
import socket
import subprocess
import time
from contextlib import contextmanager

from checks.manifests import cargo_target_dir

REDIS = ("127.0.0.1", 6379)
POSTGRES_ADMIN = ["psql", "--host", "127.0.0.1", "--username", "postgres", "--dbname", "postgres"]
# Generous: CI shares two cores with the build. Start-up normally takes milliseconds.
PATIENCE_SECONDS = 60
# SPEC section 6, plus a little for a loaded machine.
STOP_SECONDS = 15


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port, path, timeout=2.0):
    """The status of `GET path` on the loopback at `port`, or None when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def redis_command(*words):
    """One command to the machine's Redis, in the inline protocol; returns the first line."""
    with socket.create_connection(REDIS, timeout=5) as connection:
        connection.sendall((" ".join(words) + "\r\n").encode())
        return connection.makefile("rb").readline().decode().strip()


def psql(command):
    subprocess.run(POSTGRES_ADMIN + ["--quiet", "--command", command], check=True)


@contextmanager
def isolated_backing_services():
    """A queue name and a database of this run's own: (queue, database URL)."""
    suffix = secrets.token_hex(6)
    queue, database = f"k8s_checks_{suffix}", f"k8s_checks_{suffix}"
    psql(f"CREATE DATABASE {database}")
    try:
        yield queue, f"postgres://postgres@127.0.0.1:5432/{database}"
    finally:
        # The worker's keys all start with the queue's name.
        for key in keys_starting_with(queue):
            redis_command("DEL", key)
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def keys_starting_with(prefix):
    with socket.create_connection(REDIS, timeout=5) as connection:
        connection.sendall(f"KEYS {prefix}*\r\n".encode())
        reader = connection.makefile("rb")
        count = int(reader.readline()[1:])
        keys = []
        for _ in range(count):
            reader.readline()
            keys.append(reader.readline().decode().strip())
        return keys


@contextmanager
def running(program, queue, database_url, port=None):
    """`program` listening on `port` (a free loopback port by default); yields the port.
    Stopped with SIGTERM."""
    port = port or free_port()
    environment = {
        "PORT": str(port),
        "REDIS_URL": f"redis://{REDIS[0]}:{REDIS[1]}/0",
        "VOTE_QUEUE": queue,
        "DATABASE_URL": database_url,
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "LOG_FORMAT": "json",
        "RUST_LOG": "warn",
    }
    binary = cargo_target_dir() / "debug" / program
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `cargo build --workspace` first")
    process = subprocess.Popen([str(binary)], env=environment, stdout=subprocess.DEVNULL)
    try:
        wait_for_answer(process, program, port, "/healthz")
        yield port
    finally:
        stop(process)


def wait_for_answer(process, name, port, path, answered=lambda status: status is not None):
    """Waits until `answered(status of GET path)`; fails if `process` exits first, or after
    PATIENCE_SECONDS."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not answered(get(port, path)):
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} at start-up")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer on port {port}")
        time.sleep(0.05)


def stop(process):
    """SIGTERM, then SIGKILL if `process` has not exited within STOP_SECONDS."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def answers_ok(port, path):
    """Whether `path` answers 200, waiting while it answers 503 (a readiness that waits for
    Redis or PostgreSQL); any other status is final. Returns (ok, last status)."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        status = get(port, path)
        if status == 200:
            return True, status
        if status not in (None, 503) or time.monotonic() > deadline:
            return False, status
        time.sleep(0.1)


def probe_problems(found):
    """Starts each program the probes name once and asks it every path on the port the probes
    use (`invariants.probes` has checked that port is the program's own); `found` is what it
    returns. One problem per path that does not answer 200."""
    problems = []
    by_program = {}
    for program, path, where in found:
        by_program.setdefault(program, []).append((path, where))
    with isolated_backing_services() as (queue, database_url):
        for program, paths in sorted(by_program.items()):
            with running(program, queue, database_url) as port:
                for path, where in paths:
                    ok, status = answers_ok(port, path)
                    if not ok:
                        problems.append(f"{where}: {program} answers {path} with {status}")
    return problems
