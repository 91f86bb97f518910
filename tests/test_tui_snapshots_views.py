"""What the console's other screens look like at 120×40 and 80×24: the rollout and canary panels, logs,
audit, history, sync and an evaluation, each also empty or failing where it can be.

The data and the fixed figures are tests/test_tui_snapshots.py's; here every time a screen shows is fixed
too (audit times, log lines, how long a rollout took, the length of a tenure).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from textual.pilot import Pilot

from kanri.console.cluster.base import RolloutStatus
from kanri.console.cluster.local.paths import LocalPaths
from kanri.console.ops import services
from kanri.console.ops.canary import CanaryEvent, CanaryPlan
from kanri.console.telemetry.types import TelemetryUnavailable
from kanri.console.tui.app import KanriApp
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.screens import audit, rollout
from kanri.console.tui.screens.canary import CanaryScreen
from kanri.console.tui.screens.evaluation import EvaluationScreen
from kanri.console.tui.screens.rollout import RolloutScreen
from kanri.serving.logs import JsonFormatter
from tests import test_tui_snapshots as shared
from tests.test_tui_main import until
from tests.test_tui_snapshots import APP, DemoCluster, settle, sized, still

cluster, empty, data = shared.cluster, shared.empty, shared.data  # the demo's data, as fixtures here too
AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
LINES = [("info", "model 1 (sha256 3fc4ccfe7458) is live"), ("info", "Predict OK code=OK latency_ms=1.2"),
         ("warning", "slow call: Predict took 212 ms, above the 100 ms budget"),
         ("info", "Predict OK code=OK latency_ms=1.4")]


@pytest.fixture(autouse=True)
def fixed_clocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollout, "clock", lambda: 100.0)
    monkeypatch.setattr(audit, "now", lambda: AT + timedelta(hours=3))


def app_on(data: ConsoleData) -> KanriApp:
    return KanriApp(data, refresh_seconds=60)


def pushed(screen_of, *keys: str):
    """The main screen settled, then `screen_of(pilot)` pushed over it (and keys pressed there)."""

    async def run_before(pilot: Pilot) -> None:
        await still()(pilot)
        await pilot.app.push_screen(screen_of(pilot))
        await settle(pilot)
        if keys:
            await pilot.press(*keys)
        await settle(pilot)

    return run_before


# rollouts: complete (only closing is offered) and stuck (cancel = roll back)

def stuck(app: str, service: str, timeout: float = 300.0) -> Iterator[RolloutStatus]:
    yield RolloutStatus(app, service, 2, 1, 1, 1, False, stuck="digits-prod-7f9c2d1e-x4k2p: "
                        "Init:CrashLoopBackOff, init container fetch-predictor exited 128")


def rollout_of(data: ConsoleData):
    return lambda pilot: RolloutScreen(data, APP, services.show_service(data.ctx, APP, "digits-prod"), "v1 → v2")


@sized
def test_rollout_complete(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(app_on(data), terminal_size=size, run_before=pushed(rollout_of(data)))


@sized
def test_rollout_stuck(snap_compare, data: ConsoleData, cluster: DemoCluster, size: tuple[int, int],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "rollout", stuck)
    assert snap_compare(app_on(data), terminal_size=size, run_before=pushed(rollout_of(data)))


# a canary, over

@sized
def test_canary_over(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    plan = CanaryPlan(APP, "production", "digits-prod-b", (25, 100), 60.0)
    events = [CanaryEvent("started", {"digits-prod": 90, "digits-prod-b": 10}, "baseline digits-prod"),
              CanaryEvent("step", {"digits-prod": 75, "digits-prod-b": 25}, "25% to digits-prod-b"),
              CanaryEvent("passed", {"digits-prod": 75, "digits-prod-b": 25},
                          "errors 0.0% (baseline 0.0%), p99 3.7 ms (baseline 3.6 ms) within the SLO"),
              CanaryEvent("promoted", {"digits-prod": 0, "digits-prod-b": 100}, "digits-prod-b takes all traffic")]

    def canary(plan: CanaryPlan, stop: threading.Event) -> Iterator[CanaryEvent]:
        return iter(events)

    data.canary = canary
    assert snap_compare(app_on(data), terminal_size=size,
                        run_before=pushed(lambda pilot: CanaryScreen(data, plan)))


# logs: lines, nothing matched, the source failing

def write_logs(data: ConsoleData, cluster: DemoCluster) -> None:
    """LINES and an error in each pod of digits-prod, a second apart, as the runtime writes them."""
    formatter = JsonFormatter()
    for n, pod in enumerate(cluster.pods(APP, "digits-prod")):
        path = LocalPaths(data.settings.home).pod_log(APP, "digits-prod", pod.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as f:
            for i, (level, message) in enumerate(LINES):
                record = logging.LogRecord("kanri", logging.getLevelNamesMapping()[level.upper()], __file__, 0,
                                           message, None, None)
                record.created = AT.timestamp() + 2 * i + n
                record.__dict__.update(app=APP, service="digits-prod", service_level="production", pod=pod.name)
                f.write(formatter.format(record) + "\n")


def logs(*keys: str, shown: str):
    """The logs screen once its status line shows `shown`, then keys, once the search they start is done."""

    async def run_before(pilot: Pilot) -> None:
        await still("l")(pilot)
        screen = pilot.app.screen
        await until(pilot, lambda: shown in str(screen.query_one("#logs-status").render()))
        if keys:
            await pilot.press(*keys)
            await until(pilot, lambda: "searching" not in str(screen.query_one("#logs-empty").render()))
        await settle(pilot)

    return run_before


@sized
def test_logs(snap_compare, data: ConsoleData, cluster: DemoCluster, size: tuple[int, int]) -> None:
    write_logs(data, cluster)
    assert snap_compare(app_on(data), terminal_size=size, run_before=logs(shown="8 lines"))


@sized
def test_logs_with_no_error_lines(snap_compare, data: ConsoleData, cluster: DemoCluster,
                                  size: tuple[int, int]) -> None:
    write_logs(data, cluster)
    assert snap_compare(app_on(data), terminal_size=size, run_before=logs("e", shown="8 lines"))


@sized
def test_logs_unavailable(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    failed = TelemetryUnavailable("Elasticsearch at http://elasticsearch:9200: connection refused")
    data.search_logs = lambda query: failed
    data.poll_logs = lambda query, cursor: failed
    assert snap_compare(app_on(data), terminal_size=size, run_before=logs(shown="unavailable"))


# audit and history

def fixed_times(data: ConsoleData) -> None:
    """Every audit event and tenure a minute apart from AT, whenever the test ran."""
    trail, tenures = data.audit_trail, data.service_history
    data.audit_trail = lambda target=None, limit=500: [
        dataclasses.replace(e, time=AT + timedelta(minutes=e.id)) for e in trail(target, limit)]
    data.service_history = lambda app, service: [
        dataclasses.replace(t, since=AT + timedelta(minutes=i), until=t.until and AT + timedelta(minutes=i + 1))
        for i, t in enumerate(reversed(tenures(app, service)))][::-1]


@sized
def test_audit(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    services.switch(data.ctx, APP, "digits-prod", 2)
    fixed_times(data)
    assert snap_compare(app_on(data), terminal_size=size, run_before=still("A"))


@sized
def test_audit_unavailable(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    def unreadable(target: str | None = None, limit: int = 500) -> list:
        raise ConnectionError("MySQL server has gone away (the registry at db.example.com:3306)")

    data.audit_trail = unreadable
    assert snap_compare(app_on(data), terminal_size=size, run_before=still("A"))


@sized
def test_history(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    services.switch(data.ctx, APP, "digits-prod", 2)
    fixed_times(data)
    assert snap_compare(app_on(data), terminal_size=size, run_before=still("h"))


# sync: differences, and none

@sized
def test_drift(snap_compare, data: ConsoleData, cluster: DemoCluster, size: tuple[int, int]) -> None:
    cluster.tamper(APP, "digits-prod", replicas=3)
    cluster.tamper(APP, "digits-prod-b", replicas=2)
    assert snap_compare(app_on(data), terminal_size=size, run_before=still("y", figures="rps 19.8"))


@sized
def test_drift_in_sync(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(app_on(data), terminal_size=size, run_before=still("y"))


# an evaluation beside the running version's

def metrics(shift: float) -> dict:
    labels = list(range(10))
    matrix = [[(36 - round(shift * 20) if i == j else (1 if (i + j) % 7 == 0 else 0)) for j in labels]
              for i in labels]
    return {"accuracy": 0.9578 + shift, "precision": 0.9601 + shift, "recall": 0.9575 + shift, "f1": 0.958 + shift,
            "count": 360, "labels": labels, "confusion_matrix": matrix,
            "per_label": [{"label": label, "f1": 0.93 + shift + label / 200, "support": 36} for label in labels]}


@sized
def test_evaluation(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    screen = EvaluationScreen(f"{APP} v2 on digits-test.jsonl", metrics(0.0133), metrics(0.0), "v1 (digits-prod)")
    assert snap_compare(app_on(data), terminal_size=size, run_before=pushed(lambda pilot: screen))
