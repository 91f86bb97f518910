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
from textual.widgets import Input

from console.tui.app import KanriApp
from console.tui.data import ConsoleData
from console.tui.widgets import model_grid
from tests.support.console import console_data
from tests.support.memory_backend import MemoryBackend
from tests.test_tui_main import loaded, seed, to_column

SIZES = [(120, 40), (80, 24)]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_models: dict[str, Path]) -> Iterator[ConsoleData]:
    with console_data(tmp_path, monkeypatch, MemoryBackend()) as console:
        seed(console, echo_models)
        monkeypatch.setattr(model_grid, "now", lambda: time.time() + 7200)  # every model is "2h" old
        monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")  # scrolling lands at once, not mid-animation
        yield console


def still(data: ConsoleData, *keys: str, column: str = "echo-prod"):
    """Wait for the grid, move to a service column, press keys, let the screen settle."""

    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.pause(0.3)  # the first layout, so the cursor scrolls the grid by real column widths
        await to_column(pilot, column)
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
