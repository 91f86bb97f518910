"""Service-level objectives: what they mean, the Prometheus rules and Alertmanager routes made from them,
and the figures the console shows (budget left, burn rate, firing alerts)."""
