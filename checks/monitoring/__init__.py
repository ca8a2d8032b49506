"""The checks of the monitoring component, its example overlay and compose's monitoring profile:
one set of rules and one dashboard (k8s/components/monitoring/), what every consumer makes of
them, and the real programs scraped by a real Prometheus. docs/monitoring.md."""
