"""What each scenario measured, gathered into `target/faults/summary.json` at the end of the run
(docs/RELIABILITY.md copies its figures)."""

import json
import time

from faults.fleet import target_dir

SUMMARY = {}


def summary_path():
    return target_dir() / "faults" / "summary.json"


def log_root():
    return target_dir() / "faults"


class Record:
    def __init__(self, scenario, description):
        self.started = time.time()
        self.data = SUMMARY[scenario] = {
            "scenario": scenario,
            "description": description,
            "passed": False,
            "events": [],
        }

    def __setitem__(self, key, value):
        self.data[key] = value

    def __getitem__(self, key):
        return self.data[key]

    def event(self, what, **figures):
        """Something done or seen, with the seconds since the scenario's start."""
        self.data["events"].append({"at_s": round(time.time() - self.started, 3), "what": what,
                                    **figures})

    def finish(self):
        self.data["seconds"] = round(time.time() - self.started, 1)


def write_summary():
    """Writes this run's scenarios over those of the file's previous run, so that running one
    scenario again keeps the others' figures."""
    path = summary_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        previous = json.loads(path.read_text()).get("scenarios", {})
    except (OSError, ValueError):
        previous = {}
    previous.update(SUMMARY)
    path.write_text(json.dumps({"written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "scenarios": previous}, indent=2) + "\n")
