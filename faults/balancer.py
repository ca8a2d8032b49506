"""nginx as the L7 load balancer in front of the vote replicas, as an Ingress would be, and an
endpoints controller that keeps its upstream list to the ready replicas.

Open-source nginx checks upstreams only passively and does not retry a POST it has already sent,
so, as Kubernetes moves a Service's endpoints, the controller polls every replica's `/readyz` and
rewrites the upstream list and reloads nginx (SIGHUP) when the ready set changes. A stopping vote
replica answers 503 at once and keeps serving for `SHUTDOWN_DRAIN_SECONDS` (SPEC section 6): the
controller must take it out within that time.

Two choices keep the reloads themselves from failing a request:
- No keep-alive towards the clients (`keepalive_timeout 0`). A reload makes the old workers close
  their idle client connections; a client that has just sent a request on one gets no answer,
  and nothing may resend a POST. ingress-nginx avoids this by changing endpoints without a
  reload; open-source nginx cannot, so each request has a connection of its own.
- Keep-alive towards the replicas, closed by nginx (4 s) before the vote service would close
  them (actix's 5 s), so nginx never sends on a connection the replica is closing.
"""

import os
import signal
import threading
import time
from pathlib import Path

from faults.processes import Process, free_port, http_get, wait_until

# How often the controller asks each replica's /readyz: the removal of a stopping replica then
# takes about this plus a reload, far inside the 3 s drain.
POLL_SECONDS = 0.1
# A replica that does not answer its probe this many times in a row is taken out (a frozen or
# overloaded one); a 503 or a refused connection takes it out at once.
TIMEOUTS_BEFORE_REMOVAL = 3
PROBE_TIMEOUT = 0.5

CONFIG = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {logs}/nginx-error.log notice;
daemon off;
events {{ worker_connections 4096; }}
http {{
    log_format fleet '$msec $status $request_method $uri $upstream_addr $upstream_status '
                     '$request_time';
    access_log {logs}/nginx-access.log fleet;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout 0;

    upstream vote {{
{servers}
        keepalive 32;
        keepalive_timeout 4s;
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://vote;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}

    # The controller's own: which configuration the serving workers run.
    server {{
        listen 127.0.0.1:{control_port};
        location = /generation {{ return 200 "{generation}"; }}
    }}
}}
"""


class Nginx:
    def __init__(self, folder, log_dir):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self.port = free_port()
        self.control_port = free_port()
        self.generation = 0
        # The replicas nginx sends to: set once a reload has taken effect.
        self.upstreams = []
        self.reloads = 0
        self._write([])
        self.process = Process("nginx", ["nginx", "-p", self.folder, "-c", self.config_path],
                               log_dir)
        wait_until("nginx to serve", lambda: self.serving_generation() == self.generation, 15)

    @property
    def config_path(self):
        return self.folder / "nginx.conf"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _write(self, ports):
        self.generation += 1
        # An upstream block needs a server: with no replica ready, one that is always down.
        servers = [f"        server 127.0.0.1:{port} max_fails=0;" for port in ports]
        servers = servers or ["        server 127.0.0.1:9 down;"]
        text = CONFIG.format(dir=self.folder, logs=self.log_dir, port=self.port,
                             control_port=self.control_port,
                             servers="\n".join(servers), generation=self.generation)
        staged = self.config_path.with_suffix(".staged")
        staged.write_text(text)
        os.replace(staged, self.config_path)

    def serving_generation(self):
        status, body = http_get(self.control_port, "/generation", timeout=1)
        return int(body) if status == 200 else None

    def workers(self):
        """The pids of the master's worker processes."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return path.read_text().split()

    def set_upstreams(self, ports):
        """Rewrites the upstream list and reloads; returns once the new worker serves it and
        the old one has exited. (The old one still accepts connections for a moment after the
        new one starts, and sends them to the old list.)"""
        self._write(ports)
        self.process.send(signal.SIGHUP)
        self.reloads += 1
        wait_until(f"nginx to serve configuration {self.generation} alone",
                   lambda: ((self.serving_generation() or 0) >= self.generation
                            and len(self.workers()) == 1), 10, 0.01)
        self.upstreams = list(ports)

    def stop(self):
        # SIGQUIT: graceful; the session is killed afterwards in any case.
        return self.process.stop(signal.SIGQUIT, timeout=10)


class EndpointsController:
    """Polls each replica's /readyz and keeps nginx's upstreams to the ready ones, in a thread.
    Every change is recorded with when it was seen and when nginx served it."""

    def __init__(self, nginx):
        self.nginx = nginx
        self._replicas = {}  # name -> port
        self._timeouts = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.events = []  # (name, "added" | "removed", seen at, served at) in monotonic time
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="endpoints")
        self._thread.start()

    def watch(self, name, port):
        with self._lock:
            self._replicas[name] = port

    def forget(self, name):
        with self._lock:
            self._replicas.pop(name, None)

    def _ready(self, name, port):
        status, _ = http_get(port, "/readyz", timeout=PROBE_TIMEOUT)
        if status == 200:
            self._timeouts[name] = 0
            return True
        if status is None and port in self.nginx.upstreams:
            # A refused connection is final; a slow answer gets a few chances.
            self._timeouts[name] = self._timeouts.get(name, 0) + 1
            return False if self._timeouts[name] >= TIMEOUTS_BEFORE_REMOVAL else None
        return False

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._round()
            except Exception as err:  # surfaced by check(); the loop keeps nginx as it was
                self.error = err
            self._stop.wait(max(0.0, POLL_SECONDS - (time.monotonic() - started)))

    def _round(self):
        with self._lock:
            replicas = dict(self._replicas)
        current = set(self.nginx.upstreams)
        wanted = set()
        for name, port in replicas.items():
            ready = self._ready(name, port)
            if ready or (ready is None and port in current):
                wanted.add(port)
        if wanted == current:
            return
        seen = time.monotonic()
        self.nginx.set_upstreams(sorted(wanted))
        served = time.monotonic()
        by_port = {port: name for name, port in replicas.items()}
        for port in wanted - current:
            self.events.append((by_port.get(port, str(port)), "added", seen, served))
        for port in current - wanted:
            self.events.append((by_port.get(port, str(port)), "removed", seen, served))

    def wait_for(self, name, change, after, timeout=15):
        """The (seen, served) times of the first `change` of `name` after `after`."""
        def found():
            for event in list(self.events):
                if event[0] == name and event[1] == change and event[2] >= after:
                    return event[2], event[3]
            return None
        return wait_until(f"the controller to record {name} {change}", found, timeout, 0.02)

    def check(self):
        if self.error is not None:
            raise AssertionError(f"the endpoints controller failed: {self.error!r}")

    def stop(self):
        self._stop.set()
        self._thread.join(5)
