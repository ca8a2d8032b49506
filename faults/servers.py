"""The harness's own Redis and PostgreSQL, in folders of their own, on free loopback ports, so
that stopping, killing or restarting them disturbs nothing else on the machine."""

import glob
import os
import pwd
import signal
import subprocess
from pathlib import Path

from faults.processes import Process, free_port, wait_until
from faults.resp import Redis

# Start-up normally takes well under a second; CI shares two cores with other work.
START_SECONDS = 30


class RedisServer:
    """Redis as we ship it (SPEC section 7; docker-compose.yml and k8s/10-redis.yaml): the
    append-only file, fsynced before each write is acknowledged. Restarts keep the port and the
    folder, as a pod's restart keeps its Service and volume."""

    SHIPPED = ["--appendonly", "yes", "--appendfsync", "always"]

    def __init__(self, folder, log_dir):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self.port = free_port()
        self.process = None
        self.starts = 0
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.starts += 1
        self.process = Process(
            f"redis-{self.starts}",
            [
                "redis-server",
                *self.SHIPPED,
                "--port", self.port,
                "--bind", "127.0.0.1",
                "--dir", self.folder,
                "--daemonize", "no",
                "--protected-mode", "no",
            ],
            self.log_dir,
        )
        client = Redis(self.port, timeout=1)
        try:
            wait_until("Redis to answer PING", lambda: self._pings(client), START_SECONDS)
        finally:
            client.close()

    def _pings(self, client):
        try:
            return client.command("PING") == "PONG"
        except OSError:
            return False
        except Exception:  # LOADING: still reading the append-only file
            return False

    def stop(self, signum=signal.SIGTERM):
        """SIGTERM: Redis's own orderly shutdown; SIGKILL: a crash."""
        return self.process.stop(signum)

    def restart(self, signum=signal.SIGTERM):
        status = self.stop(signum)
        self.start()
        return status


def _postgres_bin():
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                      key=lambda path: int(Path(path).parent.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL's server is not installed (Debian package postgresql)")
    return Path(versions[-1]).parent


class PostgresServer:
    """A PostgreSQL of the harness's own: initdb in a temporary folder, run as the `postgres`
    user (PostgreSQL refuses root; the folders above `folder` must let it through), trust
    authentication on 127.0.0.1. fsync is off: a crash of
    the server (immediate shutdown) still loses nothing it committed, since the operating system
    keeps what was written; only a crash of the machine would."""

    def __init__(self, folder, log_dir):
        self.folder = Path(folder)
        self.data = self.folder / "data"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self.bin = _postgres_bin()
        self.port = free_port()
        self.process = None
        self.starts = 0
        account = pwd.getpwnam("postgres")
        os.chown(self.folder, account.pw_uid, account.pw_gid)
        subprocess.run(
            [self.bin / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync"],
            user="postgres",
            cwd=self.folder,
            check=True,
            capture_output=True,
        )
        self.start()

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self):
        self.starts += 1
        self.process = Process(
            f"postgres-{self.starts}",
            [
                self.bin / "postgres",
                "-D", self.data,
                "-p", self.port,
                "-k", self.folder,
                "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off",
                "-c", "max_connections=200",
            ],
            self.log_dir,
            user="postgres",
            cwd=self.folder,
        )
        wait_until("PostgreSQL to accept connections", self.accepts, START_SECONDS, 0.1)

    def accepts(self):
        return subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
            check=False,
        ).returncode == 0

    def stop(self, mode="fast"):
        """PostgreSQL's shutdown modes, as `pg_ctl stop -m` sends them: smart (SIGTERM), fast
        (SIGINT: disconnects every client, checkpoints) and immediate (SIGQUIT: no checkpoint,
        crash recovery at the next start)."""
        signum = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        return self.process.stop(signum, timeout=30)

    def restart(self, mode="fast"):
        status = self.stop(mode)
        self.start()
        return status

    def query(self, sql, timeout=30):
        """The rows of `sql` as lists of strings (psql's unaligned output)."""
        result = subprocess.run(
            ["psql", "-X", "-q", "-At", "-F", "\t", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return [line.split("\t") for line in result.stdout.splitlines() if line]
