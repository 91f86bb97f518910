"""The console at 80×24, by what it does rather than how it looks (the snapshots show that): the grid keeps
the models' columns in view, a long name is shortened in the middle and said whole in the status line, the
footer keeps `? Keys` and `q Quit`, help lists each action once under the footer's key, and a figure reads
the same in the pods table as under its sparkline."""

from __future__ import annotations

from textual.widgets import Label
from textual.widgets._footer import FooterKey

from kanri.console.ops import services
from kanri.console.tui.app import KanriApp
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.screens.help import HelpScreen
from kanri.console.tui.widgets.fit_line import FitLine
from kanri.console.tui.widgets.fitted_table import FittedTable
from tests import test_tui_snapshots as shared
from tests.test_tui_main import main_screen, until
from tests.test_tui_snapshots import APP, SERVICES, still

cluster, empty, data = shared.cluster, shared.empty, shared.data  # the demo's data, as fixtures here too
SIZE = (80, 24)
LONG = "digits-prod-canary-for-the-new-tokenizer"


def grid_lines(pilot) -> list[str]:
    grid = main_screen(pilot).grid
    return [grid.render_line(y).text for y in range(grid.scrollable_content_region.height)]


async def test_moving_right_keeps_the_models_columns_and_every_header_whole(data: ConsoleData) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await still(column=SERVICES[-1], figures="rps 6.6")(pilot)
        header, *_ = grid_lines(pilot)
        assert header.split() == ["ver", "eval", *SERVICES]
        assert "…" not in header and grid_lines(pilot)[3].startswith(" v2 ")


async def test_a_long_name_is_shortened_in_the_middle_and_said_whole_in_the_status_line(
        data: ConsoleData) -> None:
    services.create_service(data.ctx, APP, LONG, "staging", 2)
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await still(column=LONG, figures="rps 6.6")(pilot)
        header = grid_lines(pilot)[0].split()
        assert header == ["ver", "digits-dev", "digi…zer", "digits-stg", "digits-prod", "digit…od-b"]
        assert LONG in main_screen(pilot).query_one("#grid-status", FitLine).render().plain


async def test_the_footer_keeps_help_and_quit_and_help_lists_each_action_once(data: ConsoleData) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await still()(pilot)
        keys = {key.key_display: key for key in pilot.app.screen.query(FooterKey)}
        assert {"?", "q"} <= set(keys)
        assert all(key.region.right <= SIZE[0] for key in keys.values())  # all on screen, none cut
        await pilot.press("?")
        rows = pilot.app.screen.rows
        assert isinstance(pilot.app.screen, HelpScreen)
        assert ("q", "Quit") in rows and not [key for key, _ in rows if key == "^q"]  # the footer's key
        assert [what for _, what in rows if "alette" in what] == ["Palette: any action or app by name"]
        assert len({what for _, what in rows}) == len(rows)
        assert pilot.app.screen.query_one("#help").region.height <= SIZE[1]


async def test_a_one_pod_service_reads_the_same_figures_in_its_row_and_under_its_sparklines(
        data: ConsoleData) -> None:
    async with KanriApp(data, refresh_seconds=30).run_test(size=SIZE) as pilot:
        await still(column="digits-prod-b", figures="rps 6.6")(pilot)
        table = main_screen(pilot).query_one("#pods-table", FittedTable)
        (pod,) = table.row_keys
        await until(pilot, lambda: str(pilot.app.screen.query_one("#spark-cpu-label", Label).render()) == "cpu 0.02")
        assert str(table.get_cell(pod, "cpu")) == "0.02"
        title = main_screen(pilot).query_one("#pods-title", FitLine).text
        assert "rps 6.6" in title and "p99 3.7 ms" in title
        assert str(table.get_cell(pod, "rps")) == "6.6" and str(table.get_cell(pod, "p99 ms")) == "3.7"
