#!/usr/bin/env python3
"""Benchmark of the vote service: `make bench-vote`.

Starts the release build against the local Redis with a queue of its own, measures how soon it
serves, its resident memory idle and under load, and drives `POST /` with wrk. Then checks that
every vote wrk saw acknowledged is in the Redis list. Prints a Markdown report and keeps it in
bench/results/vote-<UTC time>.md.

Environment: REDIS_URL (default redis://127.0.0.1:6379/0), CONNECTIONS (50), DURATION (10s),
THREADS (2).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CONNECTIONS = os.environ.get("CONNECTIONS", "50")
DURATION = os.environ.get("DURATION", "10s")
THREADS = os.environ.get("THREADS", "2")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found")


def redis(*args):
    return subprocess.run(["redis-cli", "-u", REDIS_URL, *args], check=True,
                          capture_output=True, text=True).stdout.strip()


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vote"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "vote")
    port = free_port()
    queue = f"bench:vote:{os.getpid()}"
    env = dict(os.environ, PORT=str(port), REDIS_URL=REDIS_URL, VOTE_QUEUE=queue,
               LOG_FORMAT="json", SHUTDOWN_DRAIN_SECONDS="0")
    redis("DEL", queue)

    started = time.monotonic()
    vote = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
    while not ready(port):
        if vote.poll() is not None:
            sys.exit("the vote service exited at start-up")
        time.sleep(0.001)
    ready_ms = (time.monotonic() - started) * 1000
    try:
        time.sleep(1)
        idle_kib = rss_kib(vote.pid)

        wrk = subprocess.Popen(
            ["wrk", "-t", THREADS, "-c", CONNECTIONS, "-d", DURATION, "--latency",
             "-s", os.path.join(ROOT, "bench", "vote-post.lua"), f"http://127.0.0.1:{port}/"],
            stdout=subprocess.PIPE, text=True)
        load_kib = 0
        while wrk.poll() is None:
            load_kib = max(load_kib, rss_kib(vote.pid))
            time.sleep(0.2)
        report = wrk.stdout.read()
        peak_kib = rss_kib(vote.pid, "VmHWM")
    finally:
        vote.send_signal(signal.SIGTERM)
        vote.wait(timeout=15)

    requests = int(re.search(r"(\d+) requests in", report).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))
    p50 = re.search(r"50%\s+(\S+)", report).group(1)
    p99 = re.search(r"99%\s+(\S+)", report).group(1)
    non_3xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    socket_errors = re.search(r"Socket errors: (.*)", report)
    queued = int(redis("LLEN", queue))
    redis("DEL", queue)
    # wrk counts a request once its answer arrived; requests cut off at the end of the run may
    # have been queued without wrk seeing the answer, so the queue may hold up to one more per
    # connection, never fewer.
    all_present = requests <= queued <= requests + int(CONNECTIONS)

    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"],
                         capture_output=True, text=True).stdout.strip()
    report_md = f"""
### vote: `POST /` with wrk, {CONNECTIONS} connections, {DURATION}, {THREADS} wrk threads

Machine: {os.cpu_count()} cores ({cpu}), wrk and Redis on the same machine.

| measure | value |
|---|---|
| votes/s | {rate:,.0f} |
| latency p50 | {p50} |
| latency p99 | {p99} |
| errors (non-3xx answers, socket errors) | {non_3xx.group(1) if non_3xx else 0}, {socket_errors.group(1) if socket_errors else 'none'} |
| acknowledged votes (wrk) / in Redis | {requests:,} / {queued:,} ({'all present' if all_present else 'MISSING VOTES'}) |
| ready to serve after start | {ready_ms:.1f} ms |
| RSS idle | {idle_kib / 1024:.1f} MiB |
| RSS under load (max sampled / peak) | {load_kib / 1024:.1f} / {peak_kib / 1024:.1f} MiB |
"""
    report_md += "\n<details><summary>wrk output</summary>\n\n```\n" + report.strip() + "\n```\n</details>\n"
    print(report_md)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    with open(os.path.join(ROOT, "bench", "results", f"vote-{stamp}.md"), "w") as kept:
        kept.write(report_md)
    if not all_present:
        sys.exit("some acknowledged votes are missing from Redis")


if __name__ == "__main__":
    main()
