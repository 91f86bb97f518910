"""An automated canary: move a level's traffic to a new service step by step while it behaves, back when not.

Each step sets the route weights through `routes.set_weights`, so every step is
in the audit trail and reaches the cluster the same way an operator's does.
After each step the canary is judged on the figures of a MetricsSource
(Prometheus or the embedded scrape): its error ratio and p99 must stay within
its SLO (when it has one) and within a margin of the baseline's (the service
that held the most traffic when the canary started). A breach sets the
canary's weight back to 0, writes why into the audit trail and notifies.
Cancelling (Ctrl-C, `stop`, or closing the generator) puts the starting
weights back. The generator yields a CanaryEvent per step and verdict, so the
CLI prints them and the console shows them live.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from kanri.console.errors import Invalid, NotFound
from kanri.console.ops import routes, slo
from kanri.console.ops.context import Context, change
from kanri.console.ops.views import RouteView
from kanri.console.slo.notify import notify as post
from kanri.console.slo.objective import Objective
from kanri.console.telemetry.sources import MetricsSource
from kanri.console.telemetry.types import Figures, MetricsSnapshot, TelemetryUnavailable


@dataclass(frozen=True)
class CanaryPlan:
    app: str
    level: str
    canary: str
    steps: tuple[int, ...] = (5, 25, 50, 100)
    interval_seconds: float = 60.0
    error_margin: float = 0.01  # the canary's error ratio may exceed the baseline's by this much (0.01 = 1 point)
    latency_margin: float = 0.5  # its p99 may exceed the baseline's by this share ...
    latency_slack_seconds: float = 0.025  # ... plus this, so that a millisecond of noise is no breach
    silent_checks: int = 3  # checks without a call reaching the canary before it counts as failing

    @property
    def target(self) -> str:
        return f"{self.app}/{self.level}"


@dataclass(frozen=True)
class CanaryEvent:
    """kind: started, step, waiting, passed, promoted, rolled-back or cancelled (the last three end it)."""

    kind: str
    weights: dict[str, int]
    message: str
    canary: Figures | None = None
    baseline: Figures | None = None


class _Cancelled(Exception):
    pass


def run_canary(ctx: Context, source: MetricsSource, plan: CanaryPlan, *, webhook_url: str = "",
               stop: threading.Event | None = None,
               notify: Callable[[str, str], Any] = post) -> Iterator[CanaryEvent]:
    """Move traffic to `plan.canary` step by step; see the module's docstring."""
    start = routes.show_route(ctx, plan.app, plan.level)
    _check(plan, start.weights)
    run = _Run(ctx, source, plan, start, _objective(ctx, plan), stop or threading.Event(),
               lambda text: notify(text, webhook_url))
    _record(ctx, "canary.start", plan, start.weights, {"canary": plan.canary, "steps": list(plan.steps),
                                                       "interval_seconds": plan.interval_seconds})
    yield CanaryEvent("started", start.weights, f"canary of {plan.canary} at {plan.target}: steps "
                      f"{', '.join(map(str, plan.steps))} % every {plan.interval_seconds:g} s"
                      + ("" if run.objective else " (it has no SLO: judged against the baseline only)"))
    try:
        final = yield from run.steps()
    except (_Cancelled, KeyboardInterrupt, GeneratorExit) as exc:
        _set(ctx, plan, start, start.weights)
        _record(ctx, "canary.cancel", plan, run.weights, start.weights, result="cancelled")
        if isinstance(exc, GeneratorExit):
            raise
        final = CanaryEvent("cancelled", start.weights, "cancelled; the starting weights are back")
    yield final  # outside the try: closing the generator after its last event must not undo it


class _Run:
    """One canary in progress: the weights it set last, and how it judges each step."""

    def __init__(self, ctx: Context, source: MetricsSource, plan: CanaryPlan, start: RouteView,
                 objective: Objective | None, stop: threading.Event, notify: Callable[[str], Any]) -> None:
        self.ctx, self.source, self.plan, self.start = ctx, source, plan, start
        self.objective, self.stop, self.notify = objective, stop, notify
        self.baseline = {name: weight for name, weight in start.weights.items() if name != plan.canary and weight}
        self.weights = start.weights

    def steps(self) -> Generator[CanaryEvent, None, CanaryEvent]:
        """Each step, judged; returns the final event (promoted or rolled back), recorded and notified."""
        plan = self.plan
        for percent in plan.steps:
            self.weights = _set(self.ctx, plan, self.start, _split(self.baseline, plan.canary, percent))
            yield CanaryEvent("step", self.weights, f"{plan.canary} takes {percent} %")
            verdict = yield from self.judge()
            if verdict is not None:
                before, self.weights = self.weights, _set(self.ctx, plan, self.start,
                                                          _split(self.baseline, plan.canary, 0))
                _record(self.ctx, "canary.rollback", plan, before, self.weights, result="rolled-back",
                        error=verdict.message)
                self.notify(f"kanri: canary of {plan.canary} at {plan.target} rolled back at {percent} %: "
                            f"{verdict.message}")
                return CanaryEvent("rolled-back", self.weights, verdict.message, verdict.canary, verdict.baseline)
        _record(self.ctx, "canary.promote", plan, self.start.weights, self.weights)
        return CanaryEvent("promoted", self.weights, f"{plan.canary} passed every step and takes {plan.steps[-1]} %")

    def judge(self) -> Generator[CanaryEvent, None, CanaryEvent | None]:
        """Wait an interval and judge, until a verdict: None when the canary passed, else the breach (an event)."""
        plan, baseline = self.plan, max(self.baseline, key=self.baseline.get)
        for check in range(1, plan.silent_checks + 1):
            if self.stop.wait(plan.interval_seconds):
                raise _Cancelled
            snapshot = self.source.snapshot(plan.app)
            if isinstance(snapshot, TelemetryUnavailable):
                problem = f"metrics unavailable: {snapshot.reason}"
                canary = base = None
            else:
                canary, base = _figures(snapshot, plan.canary), _figures(snapshot, baseline)
                problem = breach(plan, self.objective, canary, base)
                if problem == "":
                    yield CanaryEvent("passed", self.weights, _describe(canary), canary, base)
                    return None
                if problem is not None:
                    return CanaryEvent("breach", self.weights, problem, canary, base)
                problem = f"no calls reached {plan.canary} yet"
            if check < plan.silent_checks:
                yield CanaryEvent("waiting", self.weights, f"{problem}; checking again", canary, base)
        return CanaryEvent("breach", self.weights, f"{problem} after {plan.silent_checks} checks", canary, base)


def breach(plan: CanaryPlan, objective: Objective | None, canary: Figures | None,
           baseline: Figures | None) -> str | None:
    """Why the canary fails ("" when it does not; None when no call reached it, so there is nothing to judge).

    The latency objective is read as a p99 bound: exact for the usual "99 % within", stricter above 99 %.
    """
    if canary is None or not canary.requests_per_second:
        return None
    errors = canary.error_ratio or 0.0
    if objective is not None and errors > objective.error_budget:
        return (f"error ratio {errors:.2%} is above the {objective.error_budget:.2%} that the "
                f"{objective.availability_percent:g} % SLO allows")
    base_errors = baseline.error_ratio if baseline and baseline.error_ratio is not None else None
    if base_errors is not None and errors > base_errors + plan.error_margin:
        return f"error ratio {errors:.2%} is more than {plan.error_margin:.2%} above the baseline's {base_errors:.2%}"
    p99 = canary.p99_seconds
    if p99 is None:
        return ""
    if objective is not None and p99 > objective.latency_seconds:
        return f"p99 {p99 * 1000:.1f} ms is above the SLO's {objective.latency_ms:g} ms"
    if baseline is not None and baseline.p99_seconds is not None:
        limit = baseline.p99_seconds * (1 + plan.latency_margin) + plan.latency_slack_seconds
        if p99 > limit:
            return (f"p99 {p99 * 1000:.1f} ms is above {limit * 1000:.1f} ms (the baseline's "
                    f"{baseline.p99_seconds * 1000:.1f} ms + {plan.latency_margin:.0%} + "
                    f"{plan.latency_slack_seconds * 1000:g} ms)")
    return ""


def _check(plan: CanaryPlan, weights: dict[str, int]) -> None:
    if plan.canary not in weights:
        raise NotFound(f"{plan.canary!r} is not a service of {plan.target} (services: {', '.join(weights)})")
    if not any(weight for name, weight in weights.items() if name != plan.canary):
        raise Invalid(f"no other service of {plan.target} takes traffic now, so there is no baseline to compare "
                      f"{plan.canary} with; give one weight first (kanri weights)")
    steps = list(plan.steps)
    if not steps or steps != sorted(set(steps)) or not 0 < steps[0] <= steps[-1] <= 100:
        raise Invalid(f"steps {','.join(map(str, steps))} must rise from above 0 to at most 100, e.g. 5,25,50,100")
    if plan.interval_seconds <= 0:
        raise Invalid("the interval between steps must be positive, e.g. 1m")


def _objective(ctx: Context, plan: CanaryPlan) -> Objective | None:
    try:
        return slo.show_slo(ctx, plan.app, plan.canary)
    except NotFound:
        return None


def _split(baseline: dict[str, int], canary: str, percent: int) -> dict[str, int]:
    """`percent` to the canary, the rest over the baseline services in their starting proportions."""
    rest, total = 100 - percent, sum(baseline.values())
    shares = {name: rest * weight // total for name, weight in baseline.items()}
    biggest = max(baseline, key=baseline.get)
    shares[biggest] += rest - sum(shares.values())  # integer rounding goes to the biggest
    return {**shares, canary: percent}


def _set(ctx: Context, plan: CanaryPlan, start: RouteView, weights: dict[str, int]) -> dict[str, int]:
    return routes.set_weights(ctx, plan.app, plan.level, weights, start.mirror, start.mirror_percent).weights


def _record(ctx: Context, action: str, plan: CanaryPlan, before: dict[str, Any], after: dict[str, Any],
            result: str = "ok", error: str = "") -> None:
    """An audit event of the canary itself, beside the route.weights events of its steps."""
    with change(ctx, action, plan.target) as c:
        c.event.before, c.event.after, c.event.result, c.event.error = dict(before), dict(after), result, error


def _figures(snapshot: MetricsSnapshot, service: str) -> Figures | None:
    return next((s.figures for s in snapshot.services if s.service == service), None)


def _describe(figures: Figures) -> str:
    p99 = "-" if figures.p99_seconds is None else f"{figures.p99_seconds * 1000:.1f} ms"
    return (f"healthy: {figures.requests_per_second or 0:.1f} calls/s, errors {figures.error_ratio or 0:.2%}, "
            f"p99 {p99}")
