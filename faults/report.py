"""`python -m faults.report`: the figures of target/faults/summary.json as the Markdown tables
of docs/RELIABILITY.md, to paste there after a run."""

import json

from faults.record import summary_path

ORDER = [
    "rolling_restart_of_vote",
    "worker_killed_mid_batch",
    "postgres_restarted",
    "redis_restarted_and_killed",
    "result_replica_restarted",
    "worker_connections_cut_and_slowed",
    "worker_frozen_past_its_lease",
    "soak",
]


def recovery(name, data):
    """The scenario's recovery figure, in words."""
    if name == "rolling_restart_of_vote":
        return (f"taken out of nginx {data['removal_after_sigterm_s']['max']} s after SIGTERM "
                f"at most; stopped in {data['stop_after_sigterm_s']['max']} s")
    if name == "worker_killed_mid_batch":
        return (f"{data['kills_holding_messages']} kills holding {data['messages_held_at_kills']}"
                f" messages; given back within {data['given_back_after_kill_s']['max']} s")
    if name in ("postgres_restarted", "redis_restarted_and_killed"):
        return "; ".join(
            f"{o.get('mode') or o.get('signal')}: down {o['down_s']} s, commits again "
            f"{o['commits_resumed_after_s']} s later" for o in data["outages"])
    if name == "result_replica_restarted":
        return "; ".join(f"{r['signal']}: every client re-synced "
                         f"{r['all_clients_resynced_after_s']} s after the signal"
                         for r in data["restarts"])
    if name == "worker_connections_cut_and_slowed":
        return "; ".join(f"{f['fault']}: commits again {f['commits_resumed_after_s']} s after"
                         for f in data["faults"])
    if name == "worker_frozen_past_its_lease":
        return (f"messages given back {data['given_back_after_freeze_s']} s into a "
                f"{data['frozen_s']} s freeze; longest gap between commits "
                f"{data['longest_commit_stall_while_frozen_s']} s")
    return ""


def main():
    scenarios = json.loads(summary_path().read_text())["scenarios"]
    print("| scenario | passed | s | sent | acknowledged | refused | unknown | stored rows "
          "| ledger | recovery |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in ORDER:
        data = scenarios.get(name)
        if not data or "votes" not in data:
            continue
        votes, ledger = data["votes"], data.get("ledger", {})
        balance = (f"{ledger.get('acknowledged')} = {ledger.get('superseded')} superseded + "
                   f"{ledger.get('stored')} stored + {ledger.get('missing')} missing; "
                   f"{'balanced' if ledger.get('balanced') else 'NOT balanced'}, "
                   f"{'consistent' if ledger.get('consistent') else 'NOT consistent'}")
        print(f"| {name} | {'yes' if data['passed'] else 'no'} | {data.get('seconds')} "
              f"| {votes['sent']} | {votes['acknowledged']} | {votes['refused']} "
              f"| {votes['unknown']} | {votes['stored_rows']} | {balance} "
              f"| {recovery(name, data)} |")


if __name__ == "__main__":
    main()
