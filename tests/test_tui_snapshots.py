"""What the console looks like: SVG snapshots of the main screens at 120×40 and 80×24.

Regenerate after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`
and look at the report before committing the new SVGs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Label, Static

from console.telemetry.types import Figures, MetricsHistory, Series
from console.tui.app import KanriApp
from console.tui.data import ConsoleData
from console.tui.widgets import model_grid
from tests.support.console import console_data
from tests.support.memory_backend import MemoryBackend
from tests.support.metrics import ScriptedMetrics
from tests.test_tui_main import loaded, seed, to_column, until

SIZES = [(120, 40), (80, 24)]
FIGURES = Figures(requests_per_second=20.0, error_ratio=0.0, p50_seconds=0.002, p99_seconds=0.006, in_flight=1.0,
                  cpu_cores=0.05, memory_bytes=180 * 2**20)
HISTORY = MetricsHistory("echo", 900.0, {name: {
    "requests_per_second": Series((*tuple((float(t), 10.0 + t % 7) for t in range(0, 900, 30)), (900.0, 20.0))),
    "p99_seconds": Series(tuple((float(t), 0.004 + (t % 5) / 1000) for t in range(0, 930, 30))),
    "cpu_cores": Series(tuple((float(t), 0.02 + (t % 3) / 100) for t in range(0, 930, 30)))}
    for name in ("echo-dev", "echo-prod", "echo-prod-b")}, {})


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_models: dict[str, Path]) -> Iterator[ConsoleData]:
    with console_data(tmp_path, monkeypatch, MemoryBackend()) as console:
        seed(console, echo_models)
        monkeypatch.setattr(model_grid, "now", lambda: time.time() + 7200)  # every model is "2h" old
        monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")  # scrolling lands at once, not mid-animation
        console.metrics = ScriptedMetrics({name: FIGURES for name in ("echo-dev", "echo-prod", "echo-prod-b")},
                                          history=HISTORY)  # the same figures and sparklines every run
        yield console


def still(data: ConsoleData, *keys: str, column: str = "echo-prod"):
    """Wait for the grid, move to a service column, press keys, let the screen settle."""

    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.pause(0.3)  # the first layout, so the cursor scrolls the grid by real column widths
        await to_column(pilot, column)
        title = pilot.app.screen.query_one("#pods-title", Static)
        spark = pilot.app.screen.query_one("#spark-rps-label", Label)
        await until(pilot, lambda: "rps 20.0" in str(title.render()) and "20.0" in str(spark.render()))
        if keys:
            await pilot.press(*keys)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor is caught on or off at random
        await pilot.pause(0.5)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=still(data))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_switch_confirmation(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=still(data, "enter"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_weights_editor(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=still(data, "w"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=still(data, "?"))
