"""The programs and servers the harness starts, each a child of its own in a session of its own,
so that it and whatever it forks (nginx's workers, PostgreSQL's backends) are stopped together.
Every child is also started under `setpriv --pdeathsig KILL`, so that a harness killed outright
takes its fleet with it. `stop_all` ends whatever is still running, even after a failure."""

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

# The children still running, whoever started them.
_RUNNING = set()
_LOCK = threading.Lock()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(port, path, timeout=1.0):
    """(status, body) of `GET path` on the loopback at `port`, or (None, error) when nothing
    answers in time."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as err:
        return None, str(err)
    finally:
        connection.close()


def wait_until(what, condition, timeout, interval=0.05):
    """Polls `condition` until it returns something true, which is returned; fails after
    `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Process:
    """One child process, its output appended to `<log_dir>/<name>.log`."""

    def __init__(self, name, argv, log_dir, env=None, user=None, cwd=None):
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.log_path = Path(log_dir) / f"{name}.log"
        self.started_at = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                ["setpriv", "--pdeathsig", "KILL", "--", *self.argv],
                env=env,
                user=user,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with _LOCK:
            _RUNNING.add(self)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def send(self, signum):
        if self.alive():
            os.kill(self.pid, signum)

    def wait(self, timeout):
        """The exit status, or None if it still runs after `timeout` seconds."""
        try:
            status = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._forget()
        return status

    def stop(self, signum=signal.SIGTERM, timeout=15.0):
        """Signals the process, waits for it, and kills its whole session if it lingers (or
        leaves children behind). Returns the exit status."""
        self.send(signum)
        status = self.wait(timeout)
        self.kill_group()
        if status is None:
            status = self.wait(5)
        return status

    def kill_group(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.popen.poll() is not None:
            self._forget()

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def _forget(self):
        with _LOCK:
            _RUNNING.discard(self)


def stop_all():
    """Kills every child still running, with everything in its session."""
    with _LOCK:
        running = list(_RUNNING)
    for process in running:
        process.kill_group()
        process.wait(5)
