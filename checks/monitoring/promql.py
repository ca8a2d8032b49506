"""What the checks need to know about a PromQL expression without a PromQL parser: the metric
names it reads, and the expression with Grafana's variables replaced (promtool and the HTTP
API know nothing of them). The names are checked against docs/metrics.md, and each one must be
present in a real Prometheus that scraped the real programs, so a misspelt name fails twice."""

import re

from checks.manifests import REPOSITORY

METRICS_DOC = REPOSITORY / "docs" / "metrics.md"
# Prometheus' own series about every target.
PROMETHEUS_SERIES = frozenset({"up"})

KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "atan2"}
)
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
MATCHERS = re.compile(r"\{[^{}]*\}")
RANGE = re.compile(r"\[[^\[\]]*\]")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
OFFSET = re.compile(r"\boffset\s+-?[0-9a-z]+")
# An identifier that no letter, digit or dot precedes (so not the `m` of `5m`, nor part of
# 1e3), taken whole, and that no opening parenthesis follows (so not a function).
IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")


def metric_names(expr):
    """The metric names `expr` selects, sorted."""
    text = STRING.sub('""', expr)
    text = MATCHERS.sub(" ", text)
    text = RANGE.sub(" ", text)
    text = GROUPING.sub(" ", text)
    text = OFFSET.sub(" ", text)
    return sorted({name for name in IDENTIFIER.findall(text) if name.lower() not in KEYWORDS})


def substitute(expr, rate_interval, dashboard_range="1h"):
    """`expr` with Grafana's range variables replaced: the rate and step ones by
    `rate_interval` (say `5m`), the dashboard's time range by `dashboard_range`."""
    for variable in ("$__rate_interval", "${__rate_interval}", "$__interval", "${__interval}"):
        expr = expr.replace(variable, rate_interval)
    for variable in ("$__range", "${__range}"):
        expr = expr.replace(variable, dashboard_range)
    if "$" in expr:
        raise ValueError(f"a Grafana variable the checks do not know: {expr}")
    return expr


TABLE_ROW = re.compile(r"^\|\s*(all|vote|worker|result)\s*\|\s*`([^`]+)`\s*\|\s*(\w+)\s*\|", re.M)
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def documented_series():
    """Every series name the programs may expose by docs/metrics.md: `<program>_...` for each
    program, and a histogram's `_bucket`, `_sum` and `_count` series."""
    names = set()
    for program, name, kind in TABLE_ROW.findall(METRICS_DOC.read_text()):
        programs = ("vote", "worker", "result") if program == "all" else (program,)
        for each in programs:
            full = name.replace("<program>", each)
            if kind == "histogram":
                names.update(full + suffix for suffix in HISTOGRAM_SERIES)
            else:
                names.add(full)
    return names
