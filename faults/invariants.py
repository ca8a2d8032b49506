"""The end of every scenario: the load stops, the queue drains, and then what PostgreSQL holds,
the tally, every result replica and every WebSocket client, and the ledger must all agree."""

import json
import time

from faults.load import check_stored, ledger, outcomes
from faults.processes import http_get, wait_until

# After the last vote, at most: the lease of a worker that died holding messages (10 s), a
# housekeeping round (3.3 s), and the drain of what waited.
DRAIN_SECONDS = 60
# From the drained queue to every client showing the final tally: a NOTIFY and a frame, or the
# safety poll (3 s) and a reconnect's backoff (2 s).
CONVERGE_SECONDS = 20


def shown_by_api(fleet):
    shown = []
    for result in fleet.results:
        status, body = http_get(result.port, "/api/results", timeout=2)
        shown.append((result.name, json.loads(body)["counts"] if status == 200 else None))
    return shown


def settle_and_check(fleet, load, record):
    """Waits for the load, the drain and the convergence; records the figures; asserts."""
    load.wait()
    record.event("load ended")
    fleet.controller.check()
    record["drain_s"] = round(fleet.wait_drained(DRAIN_SECONDS), 2)
    tally, counted = fleet.tally()
    expected = {"a": tally.get("a", 0), "b": tally.get("b", 0)}

    started = time.monotonic()

    def everyone_shows_it():
        return (all(counts == expected for _, counts in shown_by_api(fleet))
                and all(counts == expected for _, counts in fleet.watchers.tallies()))
    try:
        wait_until("every result replica and client to show the tally", everyone_shows_it,
                   CONVERGE_SECONDS, 0.1)
        converged = True
    except AssertionError:
        converged = False
    record["converge_s"] = round(time.monotonic() - started, 2)

    attempts = load.attempts()
    stored = fleet.stored_votes()
    figures = outcomes(attempts)
    stored_check = check_stored(attempts, stored)
    verdict, ledger_status = ledger(fleet, load.acks_path)
    dead = fleet.redis_client.command("LLEN", "votes:dead")
    record["votes"] = {
        "sent": len(attempts),
        "acknowledged": figures["ack"],
        "refused": figures["refused"],
        "unknown": figures["unknown"],
        "failed_requests": figures["refused"] + figures["unknown"],
        "voters": stored_check["voters"],
        "stored_rows": stored_check["stored_rows"],
        "voters_ending_on_an_ack": stored_check["voters_exact"],
        "voters_ending_unacknowledged": stored_check["voters_ambiguous"],
    }
    record["tally"] = tally
    record["group_by"] = counted
    record["dead_letters"] = dead
    record["ledger"] = verdict
    record["ledger_exit"] = ledger_status
    record["clients"] = {
        "websocket_clients": len(fleet.watchers.clients),
        "reconnects": sum(max(0, client.connects - 1) for client in fleet.watchers.clients),
        "close_codes": sorted({code for client in fleet.watchers.clients
                               for code in client.close_codes if code is not None}),
    }

    record["stored_check"] = {"wrong_voters": stored_check["wrong_count"],
                              "examples": stored_check["wrong"][:3]}
    assert stored_check["wrong_count"] == 0, stored_check["wrong"]
    assert not stored_check["strangers"], stored_check["strangers"]
    assert tally == counted, (tally, counted)
    assert sum(tally.values()) == len(stored)
    assert dead == 0
    assert converged, (expected, shown_by_api(fleet), fleet.watchers.tallies())
    assert ledger_status == 0, verdict
    return attempts
