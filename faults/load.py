"""Steady load from the load generator (`loadgen`, release build) through nginx, by a fixed
population of voters who vote again and again, with one line per attempt in an acknowledgements
file; and the check of what PostgreSQL holds against that file."""

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

from faults.fleet import binary
from faults.processes import Process


class Load:
    """One `loadgen` run in the background: `rate` votes per second for `seconds`, by `voters`
    voters (each re-votes about every voters / rate seconds)."""

    def __init__(self, fleet, seconds, rate, voters, concurrency=8, split=0.5):
        self.fleet = fleet
        self.acks_path = Path(fleet.log_dir) / "acks.jsonl"
        self.seconds = seconds
        self.process = Process("loadgen", [
            binary("loadgen"),
            "--url", fleet.nginx.url,
            "--duration-secs", seconds,
            "--rate", rate,
            "--voters", voters,
            "--concurrency", concurrency,
            "--split", split,
            "--acks", self.acks_path,
            "--allow-failures",
        ], fleet.log_dir)
        self.started = time.monotonic()

    def at(self, seconds):
        """Sleeps until `seconds` after the run's start."""
        time.sleep(max(0.0, self.started + seconds - time.monotonic()))

    def running(self):
        return self.process.alive()

    def wait(self):
        """Waits for the run's end; fails if the generator itself failed."""
        status = self.process.wait(self.seconds + 60)
        if status != 0:
            raise AssertionError(f"loadgen exited {status}: {self.process.log_text()[-3000:]}")

    def attempts(self):
        return read_attempts(self.acks_path)


def read_attempts(path):
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def outcomes(attempts):
    counts = Counter(attempt["outcome"] for attempt in attempts)
    return {outcome: counts.get(outcome, 0) for outcome in ("ack", "refused", "unknown")}


def check_stored(attempts, stored):
    """Holds PostgreSQL's rows (`stored`: voter id -> (vote, ts)) to the acknowledgements,
    voter by voter. A voter whose last attempt was acknowledged must hold exactly that vote. A
    voter with attempts after its last acknowledged one (refused or unknown: the service may
    have appended them all the same) may hold the acknowledged vote or one of those. A voter
    never acknowledged may hold nothing or one of its unacknowledged votes.

    The option alone cannot tell a vote from an older one of the same option (a voter who lost
    two alternating re-votes holds the option it had before them), so the row's `ts` is held to
    the time too: the vote service stamps a vote between its request's `sent_ms` and its answer,
    and here its clock is the load generator's, so a row stamped before the last acknowledged
    vote was sent is an older vote, and the acknowledged one is lost."""
    by_voter = {}
    for attempt in attempts:
        by_voter.setdefault(attempt["voter_id"], []).append(attempt)
    wrong, exact, ambiguous = [], 0, 0
    for voter, voter_attempts in by_voter.items():
        acked = [i for i, attempt in enumerate(voter_attempts) if attempt["outcome"] == "ack"]
        last = acked[-1] if acked else -1
        allowed = {attempt["vote"] for attempt in voter_attempts[last + 1:]}
        if last >= 0:
            allowed.add(voter_attempts[last]["vote"])
        vote, ts = stored.get(voter, (None, None))
        if last == len(voter_attempts) - 1:
            exact += 1
            ok = vote == voter_attempts[last]["vote"]
        else:
            ambiguous += 1
            ok = vote in allowed or (last < 0 and vote is None)
        if last >= 0 and ok:
            ok = ts >= voter_attempts[last]["sent_ms"]
        if not ok:
            wrong.append({"voter_id": voter, "stored": (vote, ts),
                          "attempts": [(a["vote"], a["outcome"], a["sent_ms"])
                                       for a in voter_attempts[-4:]]})
    strangers = sorted(set(stored) - set(by_voter))
    return {
        "voters": len(by_voter),
        "voters_exact": exact,
        "voters_ambiguous": ambiguous,
        "stored_rows": len(stored),
        "wrong": wrong[:10],
        "wrong_count": len(wrong),
        "strangers": strangers[:10],
    }


def ledger(fleet, acks_path):
    """`loadgen ledger` over the acknowledgements file: its JSON verdict, and its exit status."""
    result = subprocess.run([
        binary("loadgen"), "ledger",
        "--acks", acks_path,
        "--redis-url", fleet.redis.url,
        "--database-url", fleet.postgres.url,
        "--json",
    ], capture_output=True, text=True, timeout=120, check=False)
    try:
        verdict = json.loads(result.stdout)
    except ValueError:
        verdict = {"unparsed": result.stdout[-2000:], "stderr": result.stderr[-2000:]}
    return verdict, result.returncode
