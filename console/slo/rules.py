"""Prometheus rules made from SLOs: recording rules for the error and slow-call ratios, and burn-rate alerts.

The alerts follow the SRE workbook's multi-window, multi-burn-rate method: an
alert fires when the budget burns `factor` times faster than the window allows
over a long window (so it is significant) and a short one (so it is still
happening, and resets quickly once fixed). Burning 2 % of a 30-day budget in an
hour (14.4x) or 5 % in six hours (6x) pages; 10 % in a day (3x) or in three
days (1x) opens a ticket. Tests shrink the windows with `scaled`.

Queries come from kanri.console.telemetry.promql, so the rules read the runtime's
series with the same label names the console does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from prometheus_client.utils import floatToGoString

from kanri.console.slo.objective import Objective
from kanri.console.telemetry.promql import Labels, Queries

PAGE, TICKET = "page", "ticket"
ERRORS, SLOW = "kanri:slo_errors:ratio_rate", "kanri:slo_slow_calls:ratio_rate"


@dataclass(frozen=True)
class BurnWindow:
    """Alert at `severity` when the budget burns over `factor`x in both the long and the short window."""

    severity: str
    long_seconds: int
    short_seconds: int
    factor: float


SRE_WORKBOOK = (BurnWindow(PAGE, 3600, 300, 14.4), BurnWindow(PAGE, 6 * 3600, 1800, 6.0),
                BurnWindow(TICKET, 86400, 7200, 3.0), BurnWindow(TICKET, 3 * 86400, 6 * 3600, 1.0))


def scaled(policy: Iterable[BurnWindow], divisor: int) -> tuple[BurnWindow, ...]:
    """The same policy with every window `divisor` times shorter (for tests that cannot wait an hour)."""
    return tuple(replace(w, long_seconds=w.long_seconds // divisor, short_seconds=w.short_seconds // divisor)
                 for w in policy)


def duration(seconds: int) -> str:
    """Prometheus' spelling of a duration in its largest whole unit: 3d, 6h, 5m, 12s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class RuleSettings:
    """Where the rules look: the cluster's label names and namespace, and the burn policy."""

    labels: Labels = field(default_factory=Labels)
    namespace: str | None = None
    policy: tuple[BurnWindow, ...] = SRE_WORKBOOK


def rule_groups(objectives: Iterable[Objective], settings: RuleSettings = RuleSettings()) -> list[dict[str, Any]]:
    """One rule group per service with an SLO, in Prometheus' rule file structure."""
    return [_group(o, settings) for o in objectives]


def rules_file(objectives: Iterable[Objective], settings: RuleSettings = RuleSettings()) -> str:
    """A rules file for Prometheus' `rule_files`."""
    return as_rules_file(rule_groups(objectives, settings))


def prometheus_rule(objectives: Iterable[Objective], settings: RuleSettings = RuleSettings(),
                    name: str = "kanri-slos", namespace: str = "kanri") -> str:
    """The same rules as a PrometheusRule object, for Prometheus Operator users."""
    return as_prometheus_rule(rule_groups(objectives, settings), name, namespace)


def as_rules_file(groups: list[dict[str, Any]]) -> str:
    """Any rule groups (the SLO rules, the console's latency rules) as a file for Prometheus' `rule_files`."""
    return _yaml({"groups": groups})


def as_prometheus_rule(groups: list[dict[str, Any]], name: str, namespace: str) -> str:
    """Any rule groups as a PrometheusRule object named `name` in `namespace`."""
    return _yaml({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                  "metadata": {"name": name, "namespace": namespace,
                               "labels": {"app.kubernetes.io/managed-by": "kanri"}},
                  "spec": {"groups": groups}})


def _yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, width=1000)


def _group(o: Objective, settings: RuleSettings) -> dict[str, Any]:
    windows = sorted({s for w in settings.policy for s in (w.long_seconds, w.short_seconds)})
    identity = {settings.labels.app: o.app, settings.labels.service: o.service}  # copied per rule: no YAML aliases
    le = floatToGoString(o.latency_seconds)
    records = []
    for seconds in windows:
        queries = Queries(settings.labels, duration(seconds), settings.namespace)
        records += [
            {"record": f"{ERRORS}{duration(seconds)}", "expr": queries.figures(o.app, o.service, "service")[
                "error_ratio"], "labels": {**identity}},
            {"record": f"{SLOW}{duration(seconds)}", "expr": queries.slow_call_ratio(o.app, o.service, le),
             "labels": {**identity}},
        ]
    alerts = [_alert(o, settings, severity, slo) for slo in ("availability", "latency")
              for severity in (PAGE, TICKET) if any(w.severity == severity for w in settings.policy)]
    return {"name": f"kanri-slo-{o.app}-{o.service}", "rules": records + alerts}


def _alert(o: Objective, settings: RuleSettings, severity: str, slo: str) -> dict[str, Any]:
    n = settings.labels
    record, budget = (ERRORS, o.error_budget) if slo == "availability" else (SLOW, o.latency_budget)
    selector = "{" + f'{n.app}="{o.app}", {n.service}="{o.service}"' + "}"
    pairs = [f"({record}{duration(w.long_seconds)}{selector} > {w.factor:g} * {budget:.6g}"
             f" and {record}{duration(w.short_seconds)}{selector} > {w.factor:g} * {budget:.6g})"
             for w in settings.policy if w.severity == severity]
    what = ("calls answered with a server fault" if slo == "availability"
            else f"calls slower than {o.latency_ms:g} ms")
    objective = (f"{o.availability_percent:g} % available" if slo == "availability"
                 else f"{o.latency_percent:g} % within {o.latency_ms:g} ms")
    speed = "fast: page" if severity == PAGE else "steadily: ticket"
    return {
        "alert": "KanriAvailabilityBudgetBurn" if slo == "availability" else "KanriLatencyBudgetBurn",
        "expr": " or ".join(pairs),
        "labels": {"severity": severity, "slo": slo, "level": o.level},
        "annotations": {
            "summary": f"{o.app}/{o.service} is burning its {slo} error budget {speed}",
            "description": f"Share of {what}: {{{{ $value | printf \"%.3g\" }}}} (the objective, {objective} over "
                           f"{o.window_days} days, allows {budget:.3g}).",
        },
    }
