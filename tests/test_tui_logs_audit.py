"""The console's logs, audit and history screens, driven by keys alone.

Each screen runs in a tiny host App over a real embedded setup: a temporary
KANRI_HOME, the registry on SQLite, runtime JSON lines written into the log
folder LocalFileLogs reads, and tests/support/memory_backend.py as the cluster.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual import events
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Static

from kanri.console.cluster.local.paths import LocalPaths
from kanri.console.ops import applications, models, services
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.screens.audit import AuditScreen, HistoryScreen
from kanri.console.tui.screens.logs import LogsScreen
from kanri.console.tui.widgets.fit_line import FitLine
from kanri.serving.logs import JsonFormatter
from tests.support.console import console_data
from tests.support.memory_backend import MemoryBackend
from tests.support.servers import PREDICTORS

APP, SERVICE, POD = "echo", "echo-prod", "echo-prod-a"
POLL = 0.1


class Host(App):
    """Just enough App to show one screen."""

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.shown = screen

    def on_mount(self) -> None:
        self.push_screen(self.shown)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsoleData]:
    """ConsoleData over a fresh KANRI_HOME (SQLite registry, local log folder) and an in-memory cluster."""
    with console_data(tmp_path, monkeypatch, MemoryBackend()) as console:
        yield console


def pod_log(data: ConsoleData, pod: str = POD) -> Path:
    path = LocalPaths(data.settings.home).pod_log(APP, SERVICE, pod)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write(data: ConsoleData, *messages: tuple[str, str], ago: float = 0.0, pod: str = POD) -> None:
    """(level, message) pairs appended as the runtime writes them (serving.logs.JsonFormatter)."""
    formatter = JsonFormatter()
    with pod_log(data, pod).open("a") as f:
        for level, message in messages:
            record = logging.LogRecord("kanri", logging.getLevelNamesMapping()[level.upper()], __file__, 0,
                                       message, None, None)
            record.created -= ago
            record.__dict__.update(app=APP, service=SERVICE, service_level="production", pod=pod)
            f.write(formatter.format(record) + "\n")


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the screen did not get there in time"
        await pilot.pause(0.02)


def shown_lines(screen: LogsScreen) -> list[str]:
    return list(screen.tail.lines)


def status(screen: Screen, selector: str) -> str:
    shown = screen.query_one(selector)
    return shown.text if isinstance(shown, FitLine) else str(shown.render())


async def drive(screen: Screen, test: Callable[[Pilot], Awaitable[None]]) -> None:
    async with Host(screen).run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: pilot.app.screen is screen)
        await test(pilot)


LINES = [("info", "started"), ("debug", "cache warm"), ("info", "Predict OK"), ("error", "Predict boom: bad weights"),
         ("warning", "slow call"), ("error", "Predict boom again")]


async def test_lines_appear_and_level_keys_narrow_them(data: ConsoleData) -> None:
    write(data, *LINES)
    screen = LogsScreen(data, APP, SERVICE, refresh=POLL)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(shown_lines(screen)) == len(LINES))
        assert "started" in shown_lines(screen)[0] and "6 lines" in status(screen, "#logs-status")
        await pilot.press("e")
        await until(pilot, lambda: len(shown_lines(screen)) == 2)
        assert all(" error " in line for line in shown_lines(screen))
        assert "level ≥ error" in status(screen, "#logs-status")
        await pilot.press("e")
        await until(pilot, lambda: len(shown_lines(screen)) == len(LINES))
        await pilot.press("l")  # all → info: the debug line goes
        await until(pilot, lambda: len(shown_lines(screen)) == len(LINES) - 1)
        await pilot.press("l")  # info → warning
        await until(pilot, lambda: len(shown_lines(screen)) == 3)
        write(data, ("critical", "out of memory"), ("info", "fine"))
        await until(pilot, lambda: len(shown_lines(screen)) == 4)
        assert "out of memory" in shown_lines(screen)[-1]

    await drive(screen, keys)


async def test_errors_only_with_none_says_so_and_since_when(data: ConsoleData) -> None:
    write(data, ("info", "started"), ("warning", "slow call"), ago=90)
    screen = LogsScreen(data, APP, SERVICE, refresh=POLL)

    def said() -> str:
        empty = screen.query_one("#logs-empty", Static)
        return str(empty.render()) if empty.display else ""

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(shown_lines(screen)) == 2)
        oldest = shown_lines(screen)[0][:len("00:00:00")]
        assert said() == ""
        await pilot.press("e")
        await until(pilot, lambda: said().startswith("no error or critical lines since "))
        assert oldest in said() and said().endswith("e shows every level again")  # as far back as it looked
        write(data, ("error", "Predict boom"))
        await until(pilot, lambda: len(shown_lines(screen)) == 1)  # live: the first error line ends it
        assert said() == ""

    await drive(screen, keys)


async def test_a_burst_of_lines_reaches_the_log_in_one_update_and_old_lines_go(data: ConsoleData) -> None:
    write(data, ("info", "first"))
    screen = LogsScreen(data, APP, refresh=POLL, max_lines=100)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(shown_lines(screen)) == 1)
        writes = []
        original = screen.tail.write_lines
        screen.tail.write_lines = lambda lines, *args, **kwargs: (writes.append(len(lines)),
                                                                  original(lines, *args, **kwargs))[1]
        write(data, *[("info", f"burst {n}") for n in range(2000)])
        await until(pilot, lambda: shown_lines(screen)[-1].endswith("burst 1999"))
        assert len(shown_lines(screen)) == 100 and shown_lines(screen)[0].endswith("burst 1900")
        assert 1 <= len(writes) <= 3, writes  # one update per poll, never one per line

    await drive(screen, keys)


async def test_search_narrows_the_lines_and_highlights_the_words(data: ConsoleData) -> None:
    write(data, *LINES)
    screen = LogsScreen(data, APP, refresh=POLL)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(shown_lines(screen)) == len(LINES))
        await pilot.press("slash", *"BOOM", "enter")
        await until(pilot, lambda: len(shown_lines(screen)) == 2)
        assert "search 'BOOM'" in status(screen, "#logs-status")
        await pilot.pause(0.1)
        marked = [segment.text for segment in screen.tail.render_line(0)
                  if segment.style is not None and segment.style.reverse]
        assert marked == ["boom"]
        await pilot.press("slash", "ctrl+u", "enter")  # an empty search shows every line again
        await until(pilot, lambda: len(shown_lines(screen)) == len(LINES))

    await drive(screen, keys)


async def test_keys_typed_in_one_burst_after_slash_all_reach_the_search(data: ConsoleData) -> None:
    """A paste, or typing over a laggy SSH link: every key is read before the first is handled."""
    write(data, *LINES)
    screen = LogsScreen(data, APP, refresh=POLL)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(shown_lines(screen)) == len(LINES))
        for key, char in [("slash", "/"), *((c, c) for c in "bad weights"), ("enter", "\r")]:
            pilot.app.post_message(events.Key("space" if char == " " else key, char))  # all queued, none handled
        await until(pilot, lambda: len(shown_lines(screen)) == 1)  # 'b' and 'e' were text, not Jump back and Errors
        shown = status(screen, "#logs-status")
        assert "all levels" in shown and "search 'bad weights'" in shown, shown

    await drive(screen, keys)


async def test_follow_off_holds_new_lines_until_follow_is_on_again(data: ConsoleData) -> None:
    write(data, ("info", "first"))
    screen = LogsScreen(data, APP, SERVICE, POD, refresh=POLL)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(shown_lines(screen)) == 1)
        await pilot.press("f")
        write(data, ("info", "second"), ("info", "third"))
        await until(pilot, lambda: "paused, 2 new" in status(screen, "#logs-status"))
        assert len(shown_lines(screen)) == 1 and "first" in shown_lines(screen)[0]
        await pilot.press("f")
        assert [line.rsplit("  ", 1)[1] for line in shown_lines(screen)] == ["first", "second", "third"]
        assert status(screen, "#logs-status").startswith("following")

    await drive(screen, keys)


async def test_back_in_time_shows_the_lines_before_that_moment_and_f_goes_live(data: ConsoleData) -> None:
    write(data, ("info", "two hours ago"), ago=7200)
    write(data, ("info", "just now"))
    screen = LogsScreen(data, APP, refresh=POLL)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(shown_lines(screen)) == 2)
        await pilot.press("b", *"1x", "enter")  # not a duration: refused, the prompt stays
        await pilot.pause(0.1)
        assert len(shown_lines(screen)) == 2 and screen.query_one("#logs-input").has_class("-open")
        await pilot.press("ctrl+u", *"1h", "enter")
        await until(pilot, lambda: len(shown_lines(screen)) == 1)
        assert "two hours ago" in shown_lines(screen)[0] and "until" in status(screen, "#logs-status")
        await pilot.press("f")
        await until(pilot, lambda: len(shown_lines(screen)) == 2)

    await drive(screen, keys)


async def test_a_failing_source_says_unavailable_and_recovers_while_the_keys_keep_working(data: ConsoleData) -> None:
    write(data, ("error", "before the outage"))
    broken = pod_log(data, "echo-prod-b")
    broken.mkdir()  # a folder where a log file should be: every read of the source fails
    screen = LogsScreen(data, APP, refresh=POLL)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: "unavailable: log files in" in status(screen, "#logs-status"))
        assert "IsADirectoryError" in status(screen, "#logs-status")
        await pilot.press("e")
        await until(pilot, lambda: "level ≥ error" in status(screen, "#logs-status"))
        broken.rmdir()
        await until(pilot, lambda: len(shown_lines(screen)) == 1)
        assert "unavailable" not in status(screen, "#logs-status")
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is not screen)
        await until(pilot, lambda: not [w for w in pilot.app.workers if w.is_running])  # the tail stopped with it

    await drive(screen, keys)


@pytest.fixture
def deployed(data: ConsoleData, echo_models: dict[str, Path]) -> ConsoleData:
    """echo with v1 and v2, echo-prod created on v1 then switched to v2, all through console.ops."""
    ctx = data.ctx
    applications.create_app(ctx, APP, f"{PREDICTORS}:Echo")
    models.upload_model(ctx, APP, echo_models["v1"])
    models.upload_model(ctx, APP, echo_models["v2"])
    services.create_service(ctx, APP, SERVICE, "production", 1)
    services.switch(ctx, APP, SERVICE, 2)
    return data


def table_rows(screen: Screen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_audit_shows_every_change_newest_first_and_filters_by_target(deployed: ConsoleData) -> None:
    screen = AuditScreen(deployed, refresh=POLL)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(table_rows(screen)) == 5)
        actions = [row[3] for row in table_rows(screen)]
        assert actions == ["service.switch", "service.create", "model.upload", "model.upload", "app.create"]
        switch = table_rows(screen)[0]
        assert (switch[2], switch[4], switch[5], switch[6]) == ("alice", f"{APP}/{SERVICE}", "ok",
                                                                 "model_version 1→2")
        await pilot.press("slash", *f"{APP}/{SERVICE}", "enter")
        await until(pilot, lambda: len(table_rows(screen)) == 2)
        services.scale(deployed.ctx, APP, SERVICE, 3)  # a change made elsewhere shows up on the next refresh
        await until(pilot, lambda: len(table_rows(screen)) == 3)
        assert table_rows(screen)[0][3:7] == ["service.scale", f"{APP}/{SERVICE}", "ok",
                                              "replicas 1→3, max_replicas 1→3"]
        await pilot.press("down", "h")  # the switch event's service: its promotion history
        await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
        history = pilot.app.screen
        await until(pilot, lambda: len(table_rows(history)) == 2)
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen)

    await drive(screen, keys)


async def test_history_shows_which_model_ran_from_when_to_when(deployed: ConsoleData) -> None:
    screen = HistoryScreen(deployed, APP, SERVICE, refresh=POLL)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(table_rows(screen)) == 2)
        (now, before) = table_rows(screen)
        assert (now[0], now[2], now[4], now[5]) == ("v2", "now", "alice", "service.switch")
        assert (before[0], before[2], before[4], before[5]) == ("v1", now[1], "alice", "service.create")
        services.rollback(deployed.ctx, APP, SERVICE)
        await until(pilot, lambda: len(table_rows(screen)) == 3)
        assert [row[0] for row in table_rows(screen)] == ["v1", "v2", "v1"]

    await drive(screen, keys)


async def test_an_unreadable_registry_says_unavailable(deployed: ConsoleData) -> None:
    screen = AuditScreen(deployed, refresh=POLL)

    async def keys(pilot: Pilot) -> None:
        await until(pilot, lambda: len(table_rows(screen)) == 5)
        database = Path(deployed.settings.database_url.removeprefix("sqlite:///"))
        deployed.ctx.registry.close()
        shutil.move(database, database.with_suffix(".moved"))
        database.mkdir()  # the registry's file is now a folder
        await until(pilot, lambda: "unavailable:" in status(screen, ".table-status"))
        assert len(table_rows(screen)) == 5  # the last rows stay on screen

    await drive(screen, keys)
