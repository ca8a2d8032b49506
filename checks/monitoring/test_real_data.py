"""The dashboard and the rules on real data (`make test-monitoring`): vote, worker and result
(debug builds) against the local Redis and PostgreSQL, each run with a queue and a database of
its own; a real Prometheus scraping them every second with the relabelling of the overlay's
PodMonitors; votes posted through the API, a result socket open, one malformed message pushed
onto the queue (a dead letter). Then every panel's query must return series and every alert's
expression must evaluate, each with every metric it names present in what the programs
exposed. Only 127.0.0.1 is ever contacted; the traffic is a few votes a second, for at most
TRAFFIC_SECONDS."""

import copy
import itertools
import threading
import time

import pytest

from checks import manifests, programs
from checks.monitoring import live, objects, promql

# Grafana's $__rate_interval for a 1 s scrape is 4 scrapes; a little more, for a busy machine.
RATE_WINDOW = "10s"
# How long the test waits for every panel to have data, from Prometheus' start.
DATA_SECONDS = 45
# The traffic stops after this long, whatever happens.
TRAFFIC_SECONDS = 120
VOTE_EVERY_SECONDS = 0.2


def assert_none(problems):
    assert not problems, "\n".join(["", *problems])


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """A Prometheus that has scraped the three programs under traffic, and the queue name."""
    overlay = manifests.kustomize(objects.OVERLAY)
    with programs.isolated_backing_services() as (queue, database_url):
        # The worker first: it creates the schema the result service reads.
        with (
            programs.running("worker", queue, database_url) as worker,
            programs.running("vote", queue, database_url) as vote,
            programs.running("result", queue, database_url) as result,
            live.websocket(result),
        ):
            ports = {"vote": vote, "worker": worker, "result": result}
            scrape = live.scrape_configs(overlay, ports)
            with live.prometheus(scrape, tmp_path_factory.mktemp("prometheus")) as server:
                stop = threading.Event()
                traffic = threading.Thread(target=send_traffic, args=(ports, queue, stop))
                traffic.start()
                try:
                    # Every panel has data within seconds; the later tests then ask at once.
                    wait_for(lambda: panel_problems(server), DATA_SECONDS)
                    yield server
                finally:
                    stop.set()
                    traffic.join()


def send_traffic(ports, queue, stop):
    """Votes for both options, a result read, and one malformed message, until `stop` or
    TRAFFIC_SECONDS."""
    deadline = time.monotonic() + TRAFFIC_SECONDS
    programs.redis_command("RPUSH", queue, "{not-json")
    for option in itertools.cycle("ab"):
        if stop.is_set() or time.monotonic() > deadline:
            return
        live.post_vote(ports["vote"], option)
        programs.get(ports["result"], "/api/results")
        stop.wait(VOTE_EVERY_SECONDS)


def expression_problems(server, expr, present, need_series):
    """Why `expr` fails on `server`: an error, a metric it names that is not present, or
    (when `need_series`) an empty result. No problem is an empty list."""
    answer = server.query(expr)
    if answer["status"] != "success":
        return [f"error: {answer.get('error')}"]
    missing = [name for name in promql.metric_names(expr) if name not in present]
    problems = [f"{name} is missing from what the programs expose" for name in missing]
    if need_series and not answer["data"]["result"]:
        problems.append("returned no series")
    return problems


def panel_problems(server):
    present = server.metric_names()
    problems = []
    for title, ref, expr in objects.panel_targets():
        for problem in expression_problems(
            server, promql.substitute(expr, RATE_WINDOW), present, need_series=True
        ):
            problems.append(f"panel {title!r} query {ref}: {problem}")
    return problems


def wait_for(check, seconds):
    """`check()`'s problems once it has none, or its last ones after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        problems = check()
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(1)


def test_every_program_is_scraped_with_job_set_to_its_name(scraped):
    def targets():
        up = scraped.query("up")["data"]["result"]
        jobs = {series["metric"]["job"]: series["value"][1] for series in up}
        expected = {"vote": "1", "worker": "1", "result": "1"}
        return [] if jobs == expected else [f"up by job is {jobs}, not {expected}"]

    assert_none(wait_for(targets, DATA_SECONDS))
    # The labels the operator's relabelling adds are there too.
    labels = scraped.query('up{job="worker"}')["data"]["result"][0]["metric"]
    assert labels["namespace"] == "voting-app" and labels["pod"] == "worker-0", labels


def test_every_panel_returns_series_from_the_metrics_it_names(scraped):
    assert_none(panel_problems(scraped))


def test_the_dead_letter_shows_on_the_dashboard(scraped):
    def counted():
        answer = scraped.query("sum(worker_dead_letters_total)")["data"]["result"]
        return [] if answer and answer[0]["value"][1] == "1" else [f"dead letters: {answer}"]

    assert_none(wait_for(counted, DATA_SECONDS))


def test_every_alert_evaluates_with_every_metric_it_names_present(scraped):
    present = scraped.metric_names()
    problems = []
    for rule in objects.alerts():
        for problem in expression_problems(scraped, rule["expr"], present, need_series=False):
            problems.append(f"alert {rule['alert']}: {problem}")
    assert_none(problems)


def test_prometheus_loads_the_rules_and_evaluates_each_without_error(scraped):
    def health():
        groups = scraped.api("/api/v1/rules")["data"]["groups"]
        rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
        problems = [
            f"alert {name}: not loaded" for name in (a["alert"] for a in objects.alerts())
            if name not in rules
        ]
        problems += [
            f"alert {name}: {rule['health']} {rule.get('lastError', '')}".strip()
            for name, rule in rules.items()
            if rule["health"] != "ok"
        ]
        return problems

    assert_none(wait_for(health, DATA_SECONDS))


def test_a_misspelt_metric_fails_the_check(scraped):
    present = scraped.metric_names()
    assert expression_problems(scraped, "sum(worker_queue_dept)", present, need_series=True) == [
        "worker_queue_dept is missing from what the programs expose",
        "returned no series",
    ]


# --- The vote ledger panel, on a quiet run of its own --------------------------------------

LEDGER_TITLE = "Vote ledger"
# The ledger's subqueries step every 15 s on the clock, so it shows the state of up to a step
# before; then a scrape and a housekeeping round (the queue depth) on a busy machine.
LEDGER_SECONDS = 60


def ledger_queries():
    """{legend: expr} of the ledger panel, its range covering the whole test."""
    (panel,) = [p for p in objects.dashboard()["panels"] if p["title"] == LEDGER_TITLE]
    return {
        target["legendFormat"]: promql.substitute(target["expr"], RATE_WINDOW, "1h")
        for target in panel["targets"]
    }


def ledger_values(server):
    values = {}
    for legend, expr in ledger_queries().items():
        answer = server.query(expr)
        assert answer["status"] == "success", f"{legend}: {answer}"
        result = answer["data"]["result"]
        values[legend] = round(float(result[0]["value"][1])) if result else None
    return values


def ledger_shows(server, expected):
    """Problems until the panel shows `expected` ({legend: value}), within LEDGER_SECONDS."""

    def check():
        values = ledger_values(server)
        wrong = {
            legend: values[legend] for legend, value in expected.items() if values[legend] != value
        }
        return [f"the ledger shows {values}, not {expected} ({wrong})"] if wrong else []

    return wait_for(check, LEDGER_SECONDS)


def post_votes(port, count):
    options = itertools.islice(itertools.cycle("ab"), count)
    statuses = [live.post_vote(port, option) for option in options]
    assert statuses == [202] * count, statuses


def test_the_vote_ledger_balances_across_a_restart_and_shows_votes_that_never_reach_a_worker(
    tmp_path,
):
    """The panel's queries on real data: balanced after votes are stored; still balanced once a
    vote replica restarted in place (its counter starts again from 0 and passes its old value,
    often between two of the ledger's steps, where only its process start time tells it from
    growth); and 3 unaccounted when a replica appends to a queue no worker drains."""
    overlay = manifests.kustomize(objects.OVERLAY)
    with programs.isolated_backing_services() as (queue, database_url):
        elsewhere = f"{queue}_elsewhere"
        vote_port, stray_port = programs.free_port(), programs.free_port()
        with (
            programs.running("worker", queue, database_url) as worker,
            programs.running("vote", elsewhere, database_url, port=stray_port),
        ):
            ports = {"vote": vote_port, "worker": worker, "result": programs.free_port()}
            scrape = live.scrape_configs(overlay, ports)
            # The stray replica is a second pod of vote.
            (vote_job,) = [
                job
                for job in scrape
                if job["static_configs"][0]["targets"] == [f"127.0.0.1:{vote_port}"]
            ]
            stray = copy.deepcopy(vote_job["static_configs"][0])
            stray["targets"] = [f"127.0.0.1:{stray_port}"]
            stray["labels"]["__meta_kubernetes_pod_name"] = "vote-1"
            vote_job["static_configs"].append(stray)
            (tmp_path / "prometheus").mkdir()
            with live.prometheus(scrape, tmp_path / "prometheus") as server:
                with programs.running("vote", queue, database_url, port=vote_port):
                    post_votes(vote_port, 20)
                    balanced = {"accepted": 20, "stored (counted once)": 20, "unaccounted": 0}
                    settled = {"more waiting": 0, "more in flight": 0}
                    assert_none(ledger_shows(server, balanced | settled))
                with programs.running("vote", queue, database_url, port=vote_port):
                    post_votes(vote_port, 30)
                    balanced = {"accepted": 50, "stored (counted once)": 50, "unaccounted": 0}
                    assert_none(ledger_shows(server, balanced | {"dead-lettered": 0}))
                    post_votes(stray_port, 3)
                    stray_votes = {"accepted": 53, "stored (counted once)": 50, "unaccounted": 3}
                    assert_none(ledger_shows(server, stray_votes))
