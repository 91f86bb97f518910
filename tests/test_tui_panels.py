"""Panels stay live until they are closed, and offer only the actions that still apply: the rollout keeps
reading its pods after "rollout complete" and stops offering cancel; a stuck one offers it; a finished
canary offers only closing; sync offers its fix only when there is something to fix."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from kanri.console.cluster.base import Pod, RolloutStatus
from kanri.console.ops.canary import CanaryEvent, CanaryPlan
from kanri.console.tui.app import KanriApp
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.screens.canary import CanaryScreen
from kanri.console.tui.screens.confirm import ConfirmScreen
from kanri.console.tui.screens.drift import DriftScreen
from kanri.console.tui.screens.rollout import RolloutScreen
from kanri.console.tui.widgets.fitted_table import FittedTable
from tests.support.console import console_data
from tests.support.memory_backend import MemoryBackend
from tests.test_tui_main import APP, SIZE, loaded, seed, to_column, type_text, until


class Draining(MemoryBackend):
    """Beside the service's pods, the old one terminating, until `drained` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.drained = threading.Event()
        self.stuck = ""

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        listed = super().pods(app, service)
        if listed and not self.drained.is_set():
            old = listed[0]
            listed.append(dataclasses.replace(old, name=f"{old.service}-old", phase="Terminating",
                                              status="Terminating", ready=False, model_version=1))
        return listed

    def rollout(self, app: str, service: str, timeout: float = 300.0) -> Iterator[RolloutStatus]:
        status = self.status(app, service)
        yield dataclasses.replace(status, converged=False, stuck=self.stuck) if self.stuck else status


@pytest.fixture
def backend() -> Draining:
    return Draining()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: Draining,
         echo_models: dict[str, Path]) -> Iterator[ConsoleData]:
    with console_data(tmp_path, monkeypatch, backend) as console:
        seed(console, echo_models)
        yield console


async def switch_prod(pilot) -> RolloutScreen:
    await loaded(pilot)
    await to_column(pilot, "echo-prod")
    await pilot.press("enter")
    await type_text(pilot, "echo-prod")
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, RolloutScreen))
    return pilot.app.screen


async def test_after_rollout_complete_the_pods_stay_live_and_only_closing_is_offered(
        data: ConsoleData, backend: Draining) -> None:
    async with KanriApp(data, refresh_seconds=0.5).run_test(size=SIZE) as pilot:
        rollout = await switch_prod(pilot)
        status, table = rollout.query_one("#rollout-status", Static), rollout.query_one(FittedTable)
        await until(pilot, lambda: "rollout complete" in str(status.render()))
        assert "echo-prod-old" in table.row_keys
        assert "cancel" not in str(rollout.query_one("#rollout-keys", Static).render())
        assert not rollout.check_action("cancel", ())
        await pilot.press("c")
        assert pilot.app.screen is rollout  # no roll back offered once complete
        backend.drained.set()
        await until(pilot, lambda: "echo-prod-old" not in table.row_keys)  # read again after completion
        assert table.row_keys == ["echo-prod-0", "echo-prod-1"]


async def test_a_stuck_rollout_offers_to_roll_back(data: ConsoleData, backend: Draining) -> None:
    backend.stuck = "echo-prod-old: Init:CrashLoopBackOff"
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        rollout = await switch_prod(pilot)
        await until(pilot, lambda: "stuck" in str(rollout.query_one("#rollout-status", Static).render()))
        assert "c cancel = roll back" in str(rollout.query_one("#rollout-keys", Static).render())
        await pilot.press("c")
        assert isinstance(pilot.app.screen, ConfirmScreen)


async def test_a_finished_canary_offers_only_closing(data: ConsoleData) -> None:
    plan = CanaryPlan(APP, "production", "echo-prod-b", (100,), 1.0)
    data.canary = lambda plan, stop: iter([CanaryEvent("promoted", {"echo-prod": 0, "echo-prod-b": 100}, "done")])
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        canary = CanaryScreen(data, plan)
        await pilot.app.push_screen(canary)
        await until(pilot, lambda: canary.finished)
        assert not canary.check_action("cancel", ())
        assert str(canary.query_one("#canary-keys", Static).render()) == "escape close"
        await pilot.press("escape")
        assert pilot.app.screen is not canary


async def test_sync_offers_its_fix_only_for_differences(data: ConsoleData, backend: Draining) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("y")
        drift = pilot.app.screen
        assert isinstance(drift, DriftScreen)
        await until(pilot, lambda: "in sync" in str(drift.query_one("#drift-status", Static).render()))
        assert not drift.check_action("fix", ())
        backend.tamper(APP, "echo-dev", replicas=3)
        await pilot.press("r")
        await until(pilot, lambda: drift.found != [])
        assert drift.check_action("fix", ())
