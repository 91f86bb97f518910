"""The canary's decisions, step by step, on the in-memory cluster with figures scripted per check."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kanri.console.errors import Invalid, NotFound
from kanri.console.ops import applications, audit, models, routes, services, slo
from kanri.console.ops.canary import CanaryPlan, run_canary
from kanri.console.ops.context import Context
from kanri.console.registry.database import Registry
from kanri.console.telemetry.types import Figures, TelemetryUnavailable
from kanri.serving.models import ModelStore
from tests.support.kube import fake_clusters
from tests.support.memory_backend import MemoryBackend
from tests.support.metrics import ScriptedMetrics
from tests.support.registry import database_url
from tests.support.servers import PREDICTORS

HEALTHY = Figures(requests_per_second=50.0, error_ratio=0.0, p99_seconds=0.004)
PLAN = CanaryPlan("echo", "production", "echo-new", steps=(10, 50, 100), interval_seconds=0.01)


@pytest.fixture
def registry_url(tmp_path: Path) -> Iterator[str]:
    """SQLite only: the canary's decisions do not depend on the database (the registry's tests cover MariaDB)."""
    with database_url("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def echo(ops: Context, echo_models: dict) -> Context:
    """echo at production: echo-old (70 %), echo-spare (30 %) and echo-new (0 %)."""
    applications.create_app(ops, "echo", f"{PREDICTORS}:Echo")
    models.upload_model(ops, "echo", echo_models["v1"])
    for name in ("echo-old", "echo-spare", "echo-new"):
        services.create_service(ops, "echo", name, "production", 1)
    routes.set_weights(ops, "echo", "production", {"echo-old": 70, "echo-spare": 30})
    return ops


def _weights(memory_backend: MemoryBackend) -> dict[str, int]:
    return memory_backend.routes[("echo", "production")].weights


def test_a_healthy_canary_is_promoted_with_the_baseline_shrinking_in_proportion(
        echo: Context, memory_backend: MemoryBackend) -> None:
    events = list(run_canary(echo, ScriptedMetrics({"echo-old": HEALTHY, "echo-new": HEALTHY}), PLAN))
    assert [e.weights for e in events if e.kind == "step"] == [
        {"echo-old": 63, "echo-spare": 27, "echo-new": 10}, {"echo-old": 35, "echo-spare": 15, "echo-new": 50},
        {"echo-old": 0, "echo-spare": 0, "echo-new": 100}]
    assert events[-1].kind == "promoted" and _weights(memory_backend)["echo-new"] == 100


@pytest.mark.parametrize(("canary", "with_slo", "reason"), [
    (Figures(requests_per_second=5.0, error_ratio=0.02, p99_seconds=0.004), True,
     "error ratio 2.00% is above the 1.00% that the 99 % SLO allows"),
    (Figures(requests_per_second=5.0, error_ratio=0.02, p99_seconds=0.004), False,
     "error ratio 2.00% is more than 1.00% above the baseline's 0.00%"),
    (Figures(requests_per_second=5.0, error_ratio=0.0, p99_seconds=0.3), True,
     "p99 300.0 ms is above the SLO's 250 ms"),
    (Figures(requests_per_second=5.0, error_ratio=0.0, p99_seconds=0.05), False,
     "p99 50.0 ms is above 31.0 ms (the baseline's 4.0 ms + 50% + 25 ms)"),
])
def test_a_breach_rolls_back_records_why_and_notifies(echo: Context, memory_backend: MemoryBackend,
                                                      canary: Figures, with_slo: bool, reason: str) -> None:
    if with_slo:
        slo.set_slo(echo, "echo", "echo-new", 99, 250)
    told: list[tuple[str, str]] = []
    source = ScriptedMetrics({"echo-old": HEALTHY, "echo-new": HEALTHY}, {"echo-old": HEALTHY, "echo-new": canary})
    events = list(run_canary(echo, source, PLAN, webhook_url="http://127.0.0.1:9/hook",
                             notify=lambda text, url: told.append((text, url))))
    assert [e.kind for e in events] == ["started", "step", "passed", "step", "rolled-back"]
    assert events[-1].message == reason and events[-1].canary == canary
    assert _weights(memory_backend) == {"echo-old": 70, "echo-spare": 30, "echo-new": 0}
    rollback = audit.audit_trail(echo)[0]
    assert (rollback.action, rollback.result, rollback.error) == ("canary.rollback", "rolled-back", reason)
    assert told == [(f"kanri: canary of echo-new at echo/production rolled back at 50 %: {reason}",
                     "http://127.0.0.1:9/hook")]


def test_a_canary_no_call_reaches_is_rolled_back_after_its_silent_checks(echo: Context) -> None:
    source = ScriptedMetrics(TelemetryUnavailable("Prometheus at x: timed out"), {"echo-old": HEALTHY})
    events = list(run_canary(echo, source, PLAN, notify=lambda text, url: None))
    assert [e.kind for e in events] == ["started", "step", "waiting", "waiting", "rolled-back"]
    assert events[2].message == "metrics unavailable: Prometheus at x: timed out; checking again"
    assert events[-1].message == "no calls reached echo-new yet after 3 checks"


def test_stopping_or_closing_the_canary_puts_the_starting_weights_back(echo: Context,
                                                                       memory_backend: MemoryBackend) -> None:
    stop = threading.Event()
    events = run_canary(echo, ScriptedMetrics({"echo-old": HEALTHY, "echo-new": HEALTHY}), PLAN, stop=stop)
    assert [next(events).kind, next(events).kind, next(events).kind] == ["started", "step", "passed"]
    stop.set()
    assert [e.kind for e in events] == ["step", "cancelled"]
    assert _weights(memory_backend) == {"echo-old": 70, "echo-spare": 30, "echo-new": 0}

    events = run_canary(echo, ScriptedMetrics({"echo-old": HEALTHY, "echo-new": HEALTHY}), PLAN)
    assert [next(events).kind, next(events).kind] == ["started", "step"]
    assert _weights(memory_backend)["echo-new"] == 10
    events.close()  # what Ctrl-C in the CLI does while the canary waits at a yield
    assert _weights(memory_backend) == {"echo-old": 70, "echo-spare": 30, "echo-new": 0}
    assert [e.action for e in audit.audit_trail(echo)[:2]] == ["canary.cancel", "route.weights"]


def test_closing_the_canary_after_its_last_event_keeps_the_outcome(echo: Context,
                                                                   memory_backend: MemoryBackend) -> None:
    events = run_canary(echo, ScriptedMetrics({"echo-old": HEALTHY, "echo-new": HEALTHY}), PLAN)
    assert next(e for e in events if e.kind == "promoted")
    events.close()  # a console that stops reading once it has the outcome
    assert _weights(memory_backend)["echo-new"] == 100 and audit.audit_trail(echo)[0].action == "canary.promote"


def test_on_kubernetes_each_step_is_what_istio_is_told(registry_url: str, tmp_path: Path, echo_models: dict) -> None:
    with fake_clusters(tmp_path) as clusters:
        registry = Registry(registry_url, auto_upgrade=True)
        ctx = Context(registry, ModelStore(str(tmp_path / "store")), clusters.backend, actor="alice")
        applications.create_app(ctx, "echo", f"{PREDICTORS}:Echo")
        models.upload_model(ctx, "echo", echo_models["v1"])
        for name in ("echo-old", "echo-new"):
            services.create_service(ctx, "echo", name, "production", 1)
        told = [clusters.route_weights("echo", "production")["kind-kanri"]
                for event in run_canary(ctx, ScriptedMetrics({"echo-old": HEALTHY, "echo-new": HEALTHY}), PLAN)
                if event.kind in ("step", "promoted")]
        registry.close()
    assert told == [{"echo-old": 90, "echo-new": 10}, {"echo-old": 50, "echo-new": 50},
                    {"echo-old": 0, "echo-new": 100}, {"echo-old": 0, "echo-new": 100}]


def test_a_plan_that_cannot_work_is_refused_before_any_weight_moves(echo: Context,
                                                                     memory_backend: MemoryBackend) -> None:
    for plan, error, message in [
        (CanaryPlan("echo", "production", "echo-x"), NotFound, "'echo-x' is not a service of echo/production"),
        (CanaryPlan("echo", "production", "echo-new", steps=(50, 25)), Invalid, "must rise from above 0 to at most"),
        (CanaryPlan("echo", "production", "echo-new", steps=(0, 100)), Invalid, "must rise from above 0"),
        (CanaryPlan("echo", "production", "echo-new", interval_seconds=0), Invalid, "must be positive"),
    ]:
        with pytest.raises(error, match=message):
            next(run_canary(echo, ScriptedMetrics({}), plan))
    routes.set_weights(echo, "echo", "production", {"echo-new": 100})
    with pytest.raises(Invalid, match="no other service of echo/production takes traffic now"):
        next(run_canary(echo, ScriptedMetrics({}), PLAN))
    assert [e.action for e in audit.audit_trail(echo)[:2]] == ["route.weights", "route.weights"]
