"""SLOs, alerts and the canary in the console: the SLO row of the grid, the alerts line with its key, and a
canary run by keys that lands in the registry and the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kanri.console.ops import audit, routes, slo
from kanri.console.telemetry.types import Figures, MetricsHistory
from kanri.console.tui.app import KanriApp
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.screens.canary import CanaryScreen
from kanri.console.tui.widgets.fit_line import FitLine
from tests.support.console import console_data
from tests.support.memory_backend import MemoryBackend
from tests.support.metrics import ScriptedMetrics
from tests.test_tui_main import APP, SIZE, loaded, main_screen, seed, to_column, type_text, until

HEALTHY = Figures(requests_per_second=20.0, error_ratio=0.0, p99_seconds=0.004)
FAILING = Figures(requests_per_second=20.0, error_ratio=0.05, p99_seconds=0.004)


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: MemoryBackend,
         echo_models: dict[str, Path]) -> Iterator[ConsoleData]:
    with console_data(tmp_path, monkeypatch, backend) as console:
        seed(console, echo_models)
        for service in ("echo-prod", "echo-prod-b"):
            slo.set_slo(console.ctx, APP, service, 99.9, 100)
        yield console


async def test_the_slo_row_and_a_firing_alert_one_key_away(data: ConsoleData) -> None:
    data.metrics = ScriptedMetrics({"echo-dev": HEALTHY, "echo-prod": FAILING, "echo-prod-b": HEALTHY},
                                   history=MetricsHistory(APP, 900.0, {}, {}))
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        grid = await loaded(pilot)
        alerts = pilot.app.screen.query_one("#alerts", FitLine)
        await until(pilot, lambda: alerts.display)
        assert "1 firing: page echo-prod" in alerts.text
        headers = {key: str(column.label).splitlines()[-1] for key, column in grid.columns.items()}
        assert headers["echo-dev"] == "no slo"
        assert headers["echo-prod"] == "✖ — ×50.0"  # 5 % errors against a 0.1 % budget
        assert headers["echo-prod-b"] == "✓ — ×0.0"
        assert grid.selected_column.key == "echo-dev"
        await pilot.press("exclamation_mark")
        assert grid.selected_column.key == "echo-prod"


async def test_a_canary_by_keys_promotes_itself(data: ConsoleData, backend: MemoryBackend) -> None:
    data.metrics = ScriptedMetrics({"echo-prod": HEALTHY, "echo-prod-b": HEALTHY})
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await to_column(pilot, "echo-prod-b")
        await pilot.press("C")
        await type_text(pilot, "50,100")  # each field starts selected: typing replaces it
        await pilot.press("enter", "1", "enter")
        await type_text(pilot, "echo-prod-b")  # production: the name, typed
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, CanaryScreen))
        canary = pilot.app.screen
        await pilot.press("escape")  # refused while it runs: nobody leaves a canary unseen
        assert pilot.app.screen is canary
        await until(pilot, lambda: canary.finished, timeout=20)
        await pilot.press("escape")
        assert pilot.app.screen is main_screen(pilot)
    assert routes.show_route(data.ctx, APP, "production").weights == {"echo-prod": 0, "echo-prod-b": 100}
    assert backend.routes[APP, "production"].weights == {"echo-prod": 0, "echo-prod-b": 100}
    actions = [e.action for e in audit.audit_trail(data.ctx, limit=10)]
    assert "canary.promote" in actions and "canary.start" in actions
