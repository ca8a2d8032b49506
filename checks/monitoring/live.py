"""A real Prometheus (the one `make prometheus-tools` unpacks) scraping the real programs on the
loopback, configured from the PodMonitors of the example overlay: each monitor becomes a scrape
job whose target carries the labels Kubernetes' pod discovery would give the pod it selects,
relabelled as the operator does (job `<namespace>/<monitor>`, then `namespace` and `pod`)
followed by the monitor's own relabelings. So the `job` the dashboard and the rules see here
is the one the monitors make on a cluster.

Also a WebSocket client just good enough to keep a result socket open (it answers pings), and
the votes and the malformed message the test sends.
"""

import base64
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import urllib.parse
from contextlib import contextmanager

import yaml

from checks.invariants import selected_workloads
from checks.manifests import of_kind
from checks.monitoring.objects import (
    RULES,
    discovery_labels,
    monitor_endpoints,
    program_of_workload,
    prometheus_relabel_configs,
)
from checks.programs import PATIENCE_SECONDS, free_port, stop, wait_for_answer

SCRAPE_INTERVAL = "1s"


def prometheus_binary():
    found = os.environ.get("PROMETHEUS") or shutil.which("prometheus")
    if not found or not os.path.exists(found):
        raise RuntimeError("prometheus not found: run `make prometheus-tools` and set PROMETHEUS")
    return found


def scrape_configs(objects, ports):
    """A scrape job per endpoint of every PodMonitor in `objects`, aimed at the loopback port
    `ports[program]` of the program the monitor's pods run."""
    jobs = []
    for monitor in of_kind(objects, "PodMonitor"):
        namespace = monitor["metadata"].get("namespace", "default")
        name = monitor["metadata"]["name"]
        (workload,) = selected_workloads(objects, monitor["spec"]["selector"], namespace)
        program = program_of_workload(workload)
        for number, endpoint in enumerate(monitor_endpoints(monitor)):
            operator_relabelling = [
                {"target_label": "job", "replacement": f"{namespace}/{name}"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            ]
            jobs.append(
                {
                    "job_name": f"podMonitor/{namespace}/{name}/{number}",
                    "scrape_interval": SCRAPE_INTERVAL,
                    "scrape_timeout": SCRAPE_INTERVAL,
                    "metrics_path": endpoint.get("path", "/metrics"),
                    "static_configs": [
                        {
                            "targets": [f"127.0.0.1:{ports[program]}"],
                            "labels": discovery_labels(workload),
                        }
                    ],
                    "relabel_configs": operator_relabelling
                    + prometheus_relabel_configs(endpoint.get("relabelings")),
                }
            )
    return jobs


class Prometheus:
    """The HTTP API of a running Prometheus on the loopback."""

    def __init__(self, port):
        self.port = port

    def get(self, path, **parameters):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            query = urllib.parse.urlencode(parameters)
            connection.request("GET", f"{path}?{query}" if query else path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def api(self, path, **parameters):
        """The JSON answer of an API call: {"status": "success"|"error", ...}."""
        _, body = self.get(path, **parameters)
        return json.loads(body)

    def query(self, expr):
        return self.api("/api/v1/query", query=expr)

    def metric_names(self):
        return set(self.api("/api/v1/label/__name__/values")["data"])


@contextmanager
def prometheus(scrape, directory):
    """Prometheus on a free loopback port, with the canonical rules and the jobs `scrape`, its
    data in `directory`; stopped with SIGTERM."""
    port = free_port()
    config = directory / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
                "rule_files": [str(RULES)],
                "scrape_configs": scrape,
            }
        )
    )
    log = (directory / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            prometheus_binary(),
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_for_answer(process, "prometheus", port, "/-/ready", lambda status: status == 200)
        except RuntimeError as error:
            raise RuntimeError(f"{error}:\n{(directory / 'prometheus.log').read_text()}") from None
        yield Prometheus(port)
    finally:
        stop(process)
        log.close()


@contextmanager
def websocket(port, path="/ws"):
    """A WebSocket open on the loopback `port` while the block runs; a thread reads the frames
    and answers pings, so the server's heartbeat keeps it."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_SECONDS)
    key = base64.b64encode(os.urandom(16)).decode()
    connection.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    reader = connection.makefile("rb")
    status = reader.readline()
    if not status.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"result refused the WebSocket: {status!r}")
    while reader.readline() not in (b"\r\n", b""):
        pass
    frames = []
    thread = threading.Thread(target=_read_frames, args=(reader, connection, frames), daemon=True)
    thread.start()
    try:
        yield frames
    finally:
        connection.close()


def _read_frames(reader, connection, frames):
    try:
        while True:
            head = reader.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", reader.read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", reader.read(8))
            payload = reader.read(length)
            if opcode == 0x9:
                # A client's frames are masked (RFC 6455 5.3); a zero mask leaves the payload.
                connection.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif opcode == 0x8:
                return
            else:
                frames.append(payload)
    except OSError:
        return


def post_vote(port, option):
    """POST /api/vote as a new voter; returns the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            "/api/vote",
            body=json.dumps({"vote": option}),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
