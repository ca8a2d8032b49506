"""The fault harness: the whole fleet on the loopback (three vote replicas behind nginx, workers,
two result replicas, a Redis and a PostgreSQL of its own), faults injected under steady load, and
the ledger checked at the end of each scenario. docs/RELIABILITY.md describes it."""
