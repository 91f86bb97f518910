"""The console's pods panel during a rollout whose new pod cannot fetch its predictor: the status kubectl
shows, in red, and under the table why; a service whose pods all run well shows no such line."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from kanri.console.cluster.base import Pod
from kanri.console.cluster.kubernetes import readback
from kanri.console.tui.app import KanriApp
from kanri.console.tui.data import ConsoleData
from tests.support import pod_objects as objects
from tests.support.console import console_data
from tests.support.memory_backend import MemoryBackend
from tests.support.pod_objects import GIT_FAILED
from tests.test_tui_main import SIZE, loaded, seed, to_column, until


class StuckRollout(MemoryBackend):
    """echo-prod's pods as a real API server lists them: one serves, the new one cannot fetch its predictor."""

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        listed = [*super().pods(app, service)]
        if service in (None, "echo-prod"):
            stuck = readback.pod(objects.fetch_crash_loop("echo-prod-new"), "east")
            listed.append(dataclasses.replace(stuck, app=app, service="echo-prod"))
        return listed


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_models: dict[str, Path]) -> Iterator[ConsoleData]:
    with console_data(tmp_path, monkeypatch, StuckRollout()) as console:
        seed(console, echo_models)
        yield console


async def test_a_pod_that_cannot_start_shows_its_status_and_why(data: ConsoleData) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await to_column(pilot, "echo-prod")
        table = pilot.app.screen.query_one("#pods-table", DataTable)
        await until(pilot, lambda: table.row_count == 3)
        status = table.get_cell("echo-prod-new", "status")
        assert isinstance(status, Text) and (status.plain, status.style) == ("Init:CrashLoopBackOff", "red")
        assert (str(table.get_cell("echo-prod-new", "ready")), str(table.get_cell("echo-prod-new", "restarts"))) == (
            "0/1", "4")
        assert table.get_cell("echo-prod-0", "status").plain == "Running"
        why = pilot.app.screen.query_one("#pods-reasons", Static)
        assert why.display
        assert str(why.render()).startswith("Init:CrashLoopBackOff  echo-prod-new: init container fetch-predictor: "
                                            f"last run exited 128 (Error): {GIT_FAILED}")

        await to_column(pilot, "echo-prod-b")  # every pod runs well: no line
        await until(pilot, lambda: table.row_count == 1)
        assert not why.display
