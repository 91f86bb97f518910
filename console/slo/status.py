"""Where each service stands against its SLO, from any MetricsSource, for the console's SLO column.

The same arithmetic over PrometheusMetrics and the embedded ScrapeMetrics, so
both modes show the same figures. The burn rate is now (the source's rate
window): 1 spends the error budget exactly over the SLO's window, 14.4 pages.
The budget left is over the history the source holds: the whole window from
Prometheus, only what the embedded scraper saw since it started otherwise
(`budget_seen_seconds` says how much). The latency objective is read as a p99
bound: exact for the usual "99 % within", as the rollup has no bucket shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kanri.console.slo.alerts import FiringAlert
from kanri.console.slo.objective import Objective
from kanri.console.slo.rules import PAGE, SRE_WORKBOOK, TICKET
from kanri.console.telemetry.sources import MetricsSource
from kanri.console.telemetry.types import MetricsHistory, MetricsSnapshot, Series, TelemetryUnavailable

PAGE_BURN = max(w.factor for w in SRE_WORKBOOK)
POINTS = 500  # per history series: enough to integrate over, few enough for one Prometheus range query


@dataclass(frozen=True)
class SloStatus:
    objective: Objective
    error_ratio: float | None  # server faults / calls, now; None without calls
    burn_rate: float | None  # error_ratio / the error budget
    p99_seconds: float | None
    latency_met: bool | None  # p99 within the latency threshold
    budget_left: float | None  # share of the error budget left (1 untouched, below 0 overspent)
    budget_seen_seconds: float  # how much of the SLO's window budget_left is computed over

    @property
    def state(self) -> str:
        """For colour: "critical" (burning at paging speed or overspent), "warning" (burning faster than the
        budget lasts, or slow), "ok", or "unknown" (no calls to judge)."""
        if (self.burn_rate or 0) >= PAGE_BURN or (self.budget_left is not None and self.budget_left < 0):
            return "critical"
        if (self.burn_rate or 0) > 1 or self.latency_met is False:
            return "warning"
        return "unknown" if self.burn_rate is None and self.budget_left is None else "ok"


def slo_status(objectives: Sequence[Objective], source: MetricsSource, app: str,
               max_history_seconds: float | None = None,
               snapshot: MetricsSnapshot | None = None) -> list[SloStatus] | TelemetryUnavailable:
    """Each of `app`'s objectives with its figures, in the given order; TelemetryUnavailable if the source is.

    `max_history_seconds` caps the history asked for (a 28-day range is the costliest query a console makes).
    `snapshot`: the app's figures now when the caller has just taken them (the console has), so the pods are
    not scraped twice.
    """
    mine = [o for o in objectives if o.app == app]
    if snapshot is None or snapshot.app != app:
        snapshot = source.snapshot(app)
    if isinstance(snapshot, TelemetryUnavailable):
        return snapshot
    now = {s.service: s.figures for s in snapshot.services}
    histories: dict[float, MetricsHistory | TelemetryUnavailable] = {}
    found = []
    for o in mine:
        window = o.window_days * 86400.0
        if max_history_seconds is not None:
            window = min(window, max_history_seconds)
        if window not in histories:
            histories[window] = source.history(app, None, window, max(window / POINTS, 1.0))
        history = histories[window]
        if isinstance(history, TelemetryUnavailable):
            return history
        figures = now.get(o.service)
        errors = figures.error_ratio if figures else None
        p99 = figures.p99_seconds if figures else None
        spent, seen = _spent(history.services.get(o.service, {}))
        found.append(SloStatus(
            o, errors, None if errors is None else errors / o.error_budget, p99,
            None if p99 is None else p99 <= o.latency_seconds,
            None if spent is None else 1 - spent / o.error_budget, seen))
    return found


def burn_alerts(statuses: Sequence[SloStatus]) -> list[FiringAlert]:
    """Alerts judged from the burn rate now, for the embedded mode where no Prometheus evaluates the rules:
    a page at the workbook's fastest burn, a ticket once the budget would not last its window."""
    found = []
    for s in statuses:
        if s.burn_rate is None or s.burn_rate <= 1:
            continue
        o, severity = s.objective, PAGE if s.burn_rate >= PAGE_BURN else TICKET
        found.append(FiringAlert(
            "KanriAvailabilityBudgetBurn", severity, o.app, o.service, "availability",
            f"{o.app}/{o.service} is burning its availability error budget {s.burn_rate:.1f}x",
            f"Share of calls answered with a server fault: {s.error_ratio:.3g} (the objective, "
            f"{o.availability_percent:g} % available over {o.window_days} days, allows {o.error_budget:.3g}).",
            None))
    return sorted(found, key=lambda a: (a.severity != PAGE, a.service))


def _spent(series: dict[str, Series]) -> tuple[float | None, float]:
    """The error ratio over the whole history (each point weighted by its calls) and the seconds it covers."""
    calls = dict(series["requests_per_second"].points) if "requests_per_second" in series else {}
    errors = dict(series["error_ratio"].points) if "error_ratio" in series else {}
    total = sum(calls.values())
    if not total:
        return None, 0.0
    bad = sum(errors.get(t, 0.0) * rate for t, rate in calls.items())
    return bad / total, max(calls) - min(calls)
