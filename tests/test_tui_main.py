"""The console's main screen, driven by keys alone: every change must show in the registry and the cluster.

The registry is a real SQLite file in a fresh KANRI_HOME; the cluster is the
in-memory backend (tests/support/memory_backend.py), which converges at once,
so each test is about the console, not about rollouts (tests/test_tui_demo.py
drives the real local cluster).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Static

from kanri.console.cluster.base import ClusterError
from kanri.console.ops import applications, audit, models, routes, services
from kanri.console.ops.services import ServiceSettings
from kanri.console.tui.app import KanriApp
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.screens.confirm import ConfirmScreen
from kanri.console.tui.screens.drift import DriftScreen
from kanri.console.tui.screens.evaluation import EvaluationScreen
from kanri.console.tui.screens.help import HelpScreen
from kanri.console.tui.screens.main import MainScreen
from kanri.console.tui.screens.rollout import RolloutScreen
from kanri.console.tui.screens.weights import WeightsScreen
from kanri.console.tui.widgets.fit_line import FitLine
from kanri.console.tui.widgets.model_grid import ModelGrid
from tests.support.console import console_data
from tests.support.memory_backend import MemoryBackend
from tests.support.registry import MARIADB, database_url
from tests.support.servers import PREDICTORS

APP = "echo"
SIZE = (120, 40)


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


def seed(data: ConsoleData, echo_models: dict[str, Path]) -> None:
    """echo v1 and v2; echo-dev on v2, echo-prod (2 replicas) on v1 and echo-prod-b on v2 at 90/10."""
    ctx = data.ctx
    applications.create_app(ctx, APP, f"{PREDICTORS}:Echo")
    models.upload_model(ctx, APP, echo_models["v1"], "one")
    models.upload_model(ctx, APP, echo_models["v2"], "two")
    services.create_service(ctx, APP, "echo-dev", "development", 2)
    services.create_service(ctx, APP, "echo-prod", "production", 1, ServiceSettings(replicas=2))
    services.create_service(ctx, APP, "echo-prod-b", "production", 2)
    routes.set_weights(ctx, APP, "production", {"echo-prod": 90, "echo-prod-b": 10})


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: MemoryBackend,
         echo_models: dict[str, Path]) -> Iterator[ConsoleData]:
    with console_data(tmp_path, monkeypatch, backend) as console:
        seed(console, echo_models)
        yield console


async def until(pilot: Pilot, condition, timeout: float = 10.0) -> None:
    """Let workers run until the condition holds on the UI side."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the console did not get there in time")


def main_screen(pilot: Pilot) -> MainScreen:
    return next(s for s in pilot.app.screen_stack if isinstance(s, MainScreen))


async def loaded(pilot: Pilot) -> ModelGrid:
    """Wait for the first grid of the first application, cursor on (newest model, first service)."""
    await until(pilot, lambda: main_screen(pilot).grid.row_count == 2)
    return main_screen(pilot).grid


async def to_column(pilot: Pilot, service: str) -> None:
    grid = main_screen(pilot).grid
    for _ in range(10):
        if grid.selected_column and grid.selected_column.service.name == service:
            return
        await pilot.press("right")
    raise AssertionError(f"no column {service}")


async def type_text(pilot: Pilot, text: str) -> None:
    await pilot.press(*text)


def service(data: ConsoleData, name: str):
    return services.show_service(data.ctx, APP, name)


async def test_the_grid_shows_models_services_weights_and_pods(data: ConsoleData) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        grid = await loaded(pilot)
        assert [str(grid.get_row_at(i)[0]) for i in range(2)] == ["v2", "v1"]
        headers = [str(c.label) for c in grid.columns.values()]
        assert headers[grid.fixed_columns:] == ["echo-dev\ndev 1/1\nno slo", "echo-prod\nprod 2/2\nno slo",
                                                "echo-prod-b\nprod 1/1\nno slo"]
        assert str(grid.get_cell("1", "echo-prod")) == "● 90%"
        assert str(grid.get_cell("2", "echo-prod-b")) == "● 10%"
        assert str(grid.get_cell("2", "echo-prod")) == ""
        status = pilot.app.screen.query_one("#grid-status", FitLine)
        assert "development: echo-dev 100%" in str(status.render())
        await to_column(pilot, "echo-prod")
        assert "production: echo-prod 90% / echo-prod-b 10%" in str(status.render())
        pods = pilot.app.screen.query_one("#pods-table", DataTable)
        await until(pilot, lambda: pods.row_count == 2)
        assert {str(pods.get_row_at(i)[0]) for i in range(2)} == {"echo-prod-0", "echo-prod-1"}


async def test_switching_production_needs_the_name_typed_and_lands_everywhere(
        data: ConsoleData, backend: MemoryBackend) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await to_column(pilot, "echo-prod")  # cursor row: v2, the newest model
        await pilot.press("enter")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        assert "from v1 to v2" in str(pilot.app.screen.details)
        await type_text(pilot, "echo-pro")
        await pilot.press("enter")  # not the exact name: refused, nothing changes
        assert isinstance(pilot.app.screen, ConfirmScreen)
        assert service(data, "echo-prod").model_version == 1
        await type_text(pilot, "d")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, RolloutScreen))
        status = pilot.app.screen.query_one("#rollout-status", Static)
        await until(pilot, lambda: "rollout complete" in str(status.render()))
        await pilot.press("escape")
        grid = main_screen(pilot).grid
        await until(pilot, lambda: str(grid.get_cell("2", "echo-prod")) == "● 90%")
    assert service(data, "echo-prod").model_version == 2
    assert backend.services[APP, "echo-prod"].model.version == 2
    event = audit.audit_trail(data.ctx, target=f"{APP}/echo-prod", limit=1)[0]
    assert (event.action, event.actor, event.after["model_version"]) == ("service.switch", "alice", 2)


async def test_escape_cancels_a_change(data: ConsoleData, backend: MemoryBackend) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("+")  # echo-dev, development: a plain y would confirm
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, MainScreen)
    assert service(data, "echo-dev").replicas == 1


async def test_scale_up_down_and_to(data: ConsoleData, backend: MemoryBackend) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        grid = await loaded(pilot)
        await pilot.press("+", "y")
        await until(pilot, lambda: isinstance(pilot.app.screen, RolloutScreen))
        await pilot.press("escape")
        await until(pilot, lambda: grid.selected_column.service.replicas == 2)
        await pilot.press("s", "backspace", "5", "enter", "y")
        await until(pilot, lambda: isinstance(pilot.app.screen, RolloutScreen))
        await pilot.press("escape")
        await until(pilot, lambda: grid.selected_column.service.replicas == 5)
        await pilot.press("-", "y")
        await until(pilot, lambda: isinstance(pilot.app.screen, RolloutScreen))
        await pilot.press("escape")
        await until(pilot, lambda: grid.selected_column.service.replicas == 4)
    assert service(data, "echo-dev").replicas == 4
    assert backend.services[APP, "echo-dev"].replicas == 4


async def fill(pilot: Pilot, *values: str) -> None:
    """Type each value over a form field's own, field after field; enter on the last submits."""
    for value in values:
        await pilot.press("ctrl+u", *value, "enter")


def form_error(pilot: Pilot) -> str:
    return str(pilot.app.screen.query_one("#form-error").render())


async def test_autoscale_bounds_and_threshold(data: ConsoleData, backend: MemoryBackend) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        # fields: metric (cpu), target (80), min (1), max (1), idle (60s); a bad value is named and keeps the
        # form open
        await fill(pilot, "memory", "60", "1", "x", "60s")
        assert "'memory' is not one of cpu, concurrency, rps" in form_error(pilot)
        await fill(pilot, "cpu", "60", "1", "x", "60s")
        assert "not a whole number" in form_error(pilot)
        await fill(pilot, "4", "60s")
        assert "between 1 and 4 replicas, each replica at 60% CPU" in str(pilot.app.screen.details)
        await pilot.press("y")
        await until(pilot, lambda: service(data, "echo-dev").autoscale)
    view = service(data, "echo-dev")
    assert (view.min_replicas, view.max_replicas, view.cpu_threshold, view.scale_metric) == (1, 4, 60, "cpu")
    assert backend.services[APP, "echo-dev"].max_replicas == 4


async def test_autoscaling_on_calls_down_to_zero_by_keys(data: ConsoleData, backend: MemoryBackend) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        await fill(pilot, "concurrency", "0", "0", "8", "30s")
        assert "target per replica" in form_error(pilot) and "not a number above 0" in form_error(pilot)
        await fill(pilot, "4", "0", "8", "soon")
        assert "'soon' is not a duration" in form_error(pilot)
        await fill(pilot, "30s")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        assert pilot.app.screen.details == ("echo-dev: autoscaling between 0 and 8 replicas, each replica at "
                                            "4 in flight, idle 30s → 0.")
        await pilot.press("y")
        await until(pilot, lambda: service(data, "echo-dev").autoscale)
    view = service(data, "echo-dev")
    assert (view.scale_metric, view.scale_target, view.min_replicas, view.max_replicas,
            view.scale_to_zero_after) == ("concurrency", 4, 0, 8, 30)
    spec = backend.services[APP, "echo-dev"]
    assert (spec.scale_metric, spec.min_replicas, spec.scale_to_zero_after) == ("concurrency", 0, 30)


async def test_cpu_cannot_scale_to_zero_and_the_refusal_shows(data: ConsoleData, backend: MemoryBackend) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("a")
        await fill(pilot, "cpu", "70", "0", "4", "60s")
        await pilot.press("y")
        await until(pilot, lambda: any("only --concurrency or --rps autoscaling can scale to zero" in n.message
                                       for n in pilot.app._notifications))
        assert isinstance(pilot.app.screen, MainScreen)
    view = service(data, "echo-dev")
    assert (view.autoscale, view.min_replicas, view.max_replicas, view.cpu_threshold) == (False, 1, 1, 80)
    assert backend.services[APP, "echo-dev"].min_replicas == 1
    event = audit.audit_trail(data.ctx, target=f"{APP}/echo-dev", limit=1)[0]
    assert (event.action, event.result) == ("service.autoscale", "refused")


async def test_the_grid_says_what_an_autoscaled_service_wants_and_why_and_idle_at_zero(
        data: ConsoleData, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    services.autoscale(data.ctx, APP, "echo-dev", 0, 8, "concurrency", 4)
    backend.autoscaler_wants(APP, "echo-dev", 3, "11.2 in flight against 4 per replica")
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        grid = await loaded(pilot)
        scaling = pilot.app.screen.query_one("#pods-scaling", FitLine)
        await until(pilot, lambda: str(grid.columns["echo-dev"].label) == "echo-dev\ndev 3/3\nno slo")
        assert scaling.display
        assert scaling.text == ("autoscaled 0–8 at 4 in flight, idle 1m → 0 · wants 3: 11.2 in flight against 4 "
                                "per replica")
        backend.autoscaler_wants(APP, "echo-dev", 0, "no call for 1m")
        await pilot.press("r")
        await until(pilot, lambda: str(grid.columns["echo-dev"].label) == "echo-dev\ndev 0/0 ↓0\nno slo")
        assert scaling.text == "idle (scaled to zero) · autoscaled 0–8 at 4 in flight, idle 1m → 0 · no call for 1m"
        pods = pilot.app.screen.query_one("#pods-table", DataTable)
        assert pods.row_count == 0

        def refused(app: str, name: str) -> None:
            raise ClusterError("the API server timed out")

        monkeypatch.setattr(backend, "status", refused)
        await pilot.press("r")
        await until(pilot, lambda: "unavailable: the API server timed out" in scaling.text)
        assert str(grid.columns["echo-dev"].label) == "echo-dev\ndev 0/1 ⟳\nno slo"  # the registry's count
        await to_column(pilot, "echo-prod")  # not autoscaled: no line for it
        await until(pilot, lambda: not scaling.display)


async def test_weights_editor_keeps_the_sum_at_100(data: ConsoleData, backend: MemoryBackend) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await to_column(pilot, "echo-prod-b")
        await pilot.press("w")
        editor = pilot.app.screen
        assert isinstance(editor, WeightsScreen)
        await pilot.press("backspace", "backspace", "5", "0")  # echo-prod 90 → 50: echo-prod-b follows to 50
        assert editor.weights == {"echo-prod": 50, "echo-prod-b": 50}
        await pilot.press("enter")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await type_text(pilot, "echo-prod")
        await pilot.press("enter")
        await until(pilot, lambda: routes.show_route(data.ctx, APP, "production").weights["echo-prod"] == 50)
    assert routes.show_route(data.ctx, APP, "production").weights == {"echo-prod": 50, "echo-prod-b": 50}
    assert backend.routes[APP, "production"].weights == {"echo-prod": 50, "echo-prod-b": 50}


async def test_rollback_returns_to_the_previous_model(data: ConsoleData, backend: MemoryBackend) -> None:
    services.switch(data.ctx, APP, "echo-dev", 1)
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+l", "y")
        await until(pilot, lambda: isinstance(pilot.app.screen, RolloutScreen))
    assert service(data, "echo-dev").model_version == 2
    assert backend.services[APP, "echo-dev"].model.version == 2


async def test_upload_then_evaluate_by_keys(data: ConsoleData, tmp_path: Path) -> None:
    model = tmp_path / "echo-v3.txt"
    model.write_text("three")
    examples = tmp_path / "examples.jsonl"
    examples.write_text('{"input": "a", "label": "three:a"}\n{"input": "b", "label": "three:b"}\n'
                        '{"input": "c", "label": "wrong"}\n')
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        grid = await loaded(pilot)
        await pilot.press("u")
        await type_text(pilot, str(model))
        await pilot.press("enter")  # path → description
        await type_text(pilot, "third")
        await pilot.press("enter", "y")
        await until(pilot, lambda: grid.row_count == 3)
        assert [m.description for m in models.list_models(data.ctx, APP)] == ["one", "two", "third"]
        await pilot.press("e")  # the cursor stays on the newest row: v3
        await type_text(pilot, str(examples))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, EvaluationScreen), timeout=60)
        assert pilot.app.screen.metrics["count"] == 3
        assert pilot.app.screen.metrics["accuracy"] == pytest.approx(2 / 3)
    assert models.show_model(data.ctx, APP, 3).evaluation["accuracy"] == pytest.approx(2 / 3)


async def test_sync_shows_drift_and_fixes_it(data: ConsoleData, backend: MemoryBackend) -> None:
    backend.tamper(APP, "echo-dev", replicas=3)
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("y")
        drift = pilot.app.screen
        assert isinstance(drift, DriftScreen)
        table = drift.query_one("#drift-table", DataTable)
        await until(pilot, lambda: table.row_count == 1)
        assert [str(c) for c in table.get_row_at(0)][:4] == [f"{APP}/echo-dev", "replicas", "1", "3"]
        await pilot.press("f", "y")
        await until(pilot, lambda: "in sync" in str(drift.query_one("#drift-status", Static).render()))
    assert backend.services[APP, "echo-dev"].replicas == 1


async def test_a_cluster_failure_is_said_and_the_console_keeps_working(
        data: ConsoleData, backend: MemoryBackend) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        grid = await loaded(pilot)
        backend.failure = "connection refused by the API server"
        await pilot.press("+", "y")
        await until(pilot, lambda: any("connection refused" in n.message for n in pilot.app._notifications))
        backend.failure = ""
        await pilot.press("r")
        await until(pilot, lambda: grid.selected_column.service.cluster_error != "")
        assert "✖" in str(grid.columns["echo-dev"].label)
        options = pilot.app.screen.query_one("#app-options", OptionList)  # the application's mark follows
        await until(pilot, lambda: str(options.get_option(APP).prompt).startswith("✖"))
        assert isinstance(pilot.app.screen, MainScreen)


async def test_read_only_hides_and_refuses_every_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       backend: MemoryBackend, echo_models: dict[str, Path]) -> None:
    with console_data(tmp_path, monkeypatch, backend) as writable:
        seed(writable, echo_models)
    with console_data(tmp_path, monkeypatch, backend, read_only=True) as data:
        async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
            await loaded(pilot)
            await to_column(pilot, "echo-prod")
            for key in ("enter", "+", "-", "w", "a", "s", "u", "e", "ctrl+l"):
                await pilot.press(key)
                assert isinstance(pilot.app.screen, MainScreen), key
            footer_keys = {b.action for (_, b, enabled, _) in pilot.app.screen.active_bindings.values() if enabled}
            assert not footer_keys & {"switch", "weights", "scale_up", "select_cursor"}
            assert "READ-ONLY" in pilot.app.screen.sub_title
        with pytest.raises(Exception, match="read-only"):
            data.scale(APP, service(data, "echo-dev"), 3)
        assert service(data, "echo-dev").replicas == 1


async def test_a_registry_that_dies_is_reported_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         backend: MemoryBackend, echo_models: dict[str, Path]) -> None:
    with database_url("mysql", tmp_path) as url, console_data(tmp_path, monkeypatch, backend,
                                                               database_url=url) as data:
        seed(data, echo_models)
        async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
            await loaded(pilot)
            admin = pymysql.connect(**MARIADB, autocommit=True)
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE `{url.rsplit('/', 1)[1]}`")
            admin.close()
            await pilot.press("r")
            status = pilot.app.screen.query_one("#grid-status", FitLine)
            await until(pilot, lambda: "unavailable" in status.text)
            assert "Error: (1" in status.text  # MariaDB's own error, named: unknown database or table
            await pilot.press("?")  # the rest keeps working
            assert isinstance(pilot.app.screen, HelpScreen)


async def test_help_views_and_palette(data: ConsoleData) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("?")
        assert isinstance(pilot.app.screen, HelpScreen)
        shown = dict(pilot.app.screen.rows)
        assert (shown["+"], shown["w"], shown["a"], shown[":"]) == ("Scale +1", "Weights", "Autoscale", "Jump to view")
        await pilot.press("escape", "colon")
        await type_text(pilot, "audit")
        await pilot.press("enter")
        assert type(pilot.app.screen).__name__ == "AuditScreen"
        await pilot.press("escape", "ctrl+p")
        await type_text(pilot, "open application echo")
        await until(pilot, lambda: "Open application echo" in str(pilot.app.screen.query_one("CommandList")
                                                                    .get_option_at_index(0).prompt))
