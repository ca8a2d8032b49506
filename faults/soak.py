"""`make soak`: the fleet at moderate load for SOAK_SECONDS (600 by default), each program's
resident memory (VmRSS from /proc) and the queue's depth sampled every few seconds, drawn into
docs/soak.png; the samples go to target/faults/soak.json, and the end is checked as every fault
scenario's is (the ledger balanced, every client showing the tally)."""

import json
import os
import sys
import time
from pathlib import Path

from faults import record
from faults.fleet import REPOSITORY, Fleet
from faults.invariants import settle_and_check
from faults.load import Load

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
RATE = int(os.environ.get("SOAK_RATE", "100"))
VOTERS = 2000
SAMPLE_SECONDS = 5
PICTURE = Path(os.environ.get("SOAK_PICTURE", REPOSITORY / "docs" / "soak.png"))


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return 0


def session_rss_kib(pid):
    """The resident memory of a process and every process in its session: nginx's workers,
    PostgreSQL's backends."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) == pid:
                total += rss_kib(int(entry.name)) or 0
        except OSError:
            continue
    return total


def sample(fleet, started):
    programs = {program.name: rss_kib(program.process.pid)
                for program in fleet.votes + fleet.workers + fleet.results}
    programs["nginx"] = session_rss_kib(fleet.nginx.process.pid)
    programs["redis"] = rss_kib(fleet.redis.process.pid)
    programs["postgres"] = session_rss_kib(fleet.postgres.process.pid)
    queued, held = fleet.queue_state()
    return {"t": round(time.monotonic() - started, 1), "rss_kib": programs,
            "queued": queued, "held": held}


def draw(samples, path, seconds, rate):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plot

    times = [entry["t"] / 60 for entry in samples]
    figure, (memory, queue) = plot.subplots(2, 1, figsize=(10, 7), sharex=True,
                                            gridspec_kw={"height_ratios": [3, 1]})
    names = sorted(samples[0]["rss_kib"])
    colours = plot.get_cmap("tab20").colors
    styles = {"vote": "-", "worker": "--", "result": ":"}
    for index, name in enumerate(names):
        values = [entry["rss_kib"].get(name) for entry in samples]
        memory.plot(times, [v / 1024 if v is not None else None for v in values], label=name,
                    color=colours[index * 2 % 20 + index * 2 // 20],
                    linestyle=styles.get(name.split("-")[0], "-"), linewidth=1.6)
    memory.set_ylabel("resident memory (MiB)")
    memory.set_ylim(bottom=0)
    memory.grid(True, alpha=0.3)
    memory.legend(ncol=4, fontsize="small", loc="center right")
    memory.set_title(f"Soak: {rate} votes/s for {seconds / 60:.0f} min through nginx; "
                     "3 vote, 3 worker, 2 result replicas")
    queue.plot(times, [entry["queued"] + entry["held"] for entry in samples], color="black")
    queue.set_ylabel("queued + held")
    queue.set_xlabel("minutes")
    queue.grid(True, alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)


def main():
    if sys.argv[1:] == ["--redraw"]:
        # The picture again from the last run's samples (after changing how it is drawn).
        samples = json.loads((record.log_root() / "soak.json").read_text())
        draw(samples, PICTURE, samples[-1]["t"], RATE)
        return
    summary = record.Record("soak", f"{RATE} votes/s for {SECONDS} s, memory and queue sampled")
    fleet = Fleet("soak", record.log_root())
    samples = []
    try:
        started = time.monotonic()
        load = Load(fleet, seconds=SECONDS, rate=RATE, voters=VOTERS)
        while load.running():
            samples.append(sample(fleet, started))
            time.sleep(SAMPLE_SECONDS)
        samples.append(sample(fleet, started))
        settle_and_check(fleet, load, summary)
        summary["passed"] = True
    finally:
        summary.finish()
        if samples:
            first, last = samples[0]["rss_kib"], samples[-1]["rss_kib"]
            summary["rss_mib"] = {name: {"first": round(first[name] / 1024, 1),
                                         "last": round(last[name] / 1024, 1),
                                         "max": round(max(s["rss_kib"][name] or 0
                                                          for s in samples) / 1024, 1)}
                                  for name in first if first[name] and last.get(name)}
            summary["queue_max"] = max(s["queued"] + s["held"] for s in samples)
            path = record.log_root() / "soak.json"
            path.write_text(json.dumps(samples) + "\n")
            draw(samples, PICTURE, SECONDS, RATE)
        record.write_summary()
        fleet.close()
    print(json.dumps(summary.data, indent=2))


if __name__ == "__main__":
    sys.exit(main())
