"""The services × models grid widget on its own: what it renders, where the cursor goes, what a refresh costs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual import on
from textual.app import App, ComposeResult

from kanri.console.ops.views import ModelView, ServiceView
from kanri.console.tui.data import AppGrid, ServiceColumn
from kanri.console.tui.widgets import model_grid
from kanri.console.tui.widgets.model_grid import ModelGrid

MODELS, SERVICES = 30, 40
SIZE = (80, 20)
NOW = datetime.now(UTC)


def service(s: int, weight: int = 10) -> ServiceView:
    """grid-s00 runs the newest model (the first row), grid-s01 the one before, and so on."""
    return ServiceView(
        app="grid", name=f"grid-s{s:02d}", level="production", model_version=MODELS - s % MODELS,
        previous_model_version=None, replicas=2, min_replicas=2, max_replicas=2, autoscale=False, cpu_threshold=80,
        scale_metric="cpu", scale_target=0.0, scale_to_zero_after=0.0, cpu_request="", cpu_limit="",
        memory_request="", memory_limit="", gpus=0, max_surge=1, max_unavailable=0,
        min_ready_seconds=0, port=50051, image="", memo="", weight=weight, converged=True, cluster_error="",
        updated_at=NOW, version=1)


def app_grid(services: list[ServiceView] | None = None) -> AppGrid:
    models = tuple(ModelView("grid", v, "0" * 64, 1, "skops", "", "model.skops", f"model {v}", NOW, "test", None)
                   for v in range(1, MODELS + 1))
    columns = tuple(ServiceColumn(s, 2, 2, 2) for s in services or [service(s) for s in range(SERVICES)])
    return AppGrid("grid", models, columns, (), ())


class Host(App):
    CSS = "ModelGrid { height: 15; }"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[str, int, int]] = []

    def compose(self) -> ComposeResult:
        yield ModelGrid(id="grid")

    def on_mount(self) -> None:
        self.query_one(ModelGrid).focus()

    @on(ModelGrid.CellHighlighted, "#grid")
    def _highlighted(self, event: ModelGrid.CellHighlighted) -> None:
        self.messages.append(("highlighted", event.row, event.column))

    @on(ModelGrid.CellSelected, "#grid")
    def _selected(self, event: ModelGrid.CellSelected) -> None:
        self.messages.append(("selected", event.row, event.column))


def lines(grid: ModelGrid) -> list[str]:
    return [grid.render_line(y).text for y in range(grid.scrollable_content_region.height)]


async def test_the_grid_holds_models_newest_first_and_a_mark_where_a_service_runs_one() -> None:
    async with Host().run_test(size=SIZE) as pilot:
        grid = pilot.app.query_one(ModelGrid)
        grid.show(app_grid())
        await pilot.pause()
        assert grid.row_count == MODELS
        assert [str(grid.get_row_at(i)[0]) for i in (0, 1)] == [f"v{MODELS}", f"v{MODELS - 1}"]
        assert str(grid.get_cell(str(MODELS), "grid-s00")) == "● 10%"
        assert str(grid.get_cell(str(MODELS), "grid-s01")) == ""
        assert str(grid.columns["grid-s00"].label) == "grid-s00\nprod 2/2\nno slo"
        assert lines(grid)[3].startswith(f" v{MODELS} ")
        assert (grid.cursor_row, grid.cursor_column) == (0, grid.fixed_columns)  # the newest model, the first service


async def test_scrolling_keeps_the_version_column_and_the_headers_in_place() -> None:
    async with Host().run_test(size=SIZE) as pilot:
        grid = pilot.app.query_one(ModelGrid)
        grid.show(app_grid())
        await pilot.pause()
        await pilot.press("end", "ctrl+end")
        assert grid.scroll_x > 0 and grid.scroll_y > 0
        shown = lines(grid)
        assert shown[0].startswith(" version ") and "grid-s39" in shown[0] and "grid-s00" not in shown[0]
        assert shown[1].strip().endswith("2/2") and shown[2].strip().endswith("no slo")
        assert shown[3].startswith(f" v{MODELS - int(grid.scroll_y)} ")  # the first row under the headers
        assert shown[-1].startswith(" v1 ")  # the cursor's row, scrolled into view
        assert grid.selected_column.key == "grid-s39" and grid.selected_model.version == 1


async def test_a_paint_renders_only_the_columns_in_view() -> None:
    async with Host().run_test(size=SIZE) as pilot:
        grid = pilot.app.query_one(ModelGrid)
        rendered: list[str] = []
        render_cell = grid.render_cell

        def counting(value, line, width, style):
            rendered.append(str(value).split("\n")[0])
            return render_cell(value, line, width, style)

        grid.render_cell = counting
        grid.show(app_grid())
        await pilot.pause()
        headers = {text for text in rendered if text.startswith("grid-s")}
        assert headers == {f"grid-s{s:02d}" for s in range(len(headers))}  # the first few, left to right
        assert 2 <= len(headers) < 10
        assert len(rendered) < 15 * 12  # 15 lines of at most a dozen cells, not 30 models × 44 columns


async def test_the_cursor_moves_by_keys_and_says_which_service_and_model() -> None:
    async with Host().run_test(size=SIZE) as pilot:
        grid = pilot.app.query_one(ModelGrid)
        grid.show(app_grid())
        await pilot.pause()
        await pilot.press("right", "right", "down")
        assert grid.selected_column.key == "grid-s02" and grid.selected_model.version == MODELS - 1
        await pilot.press("pagedown")
        assert grid.cursor_row == 1 + grid.scrollable_content_region.height - 3
        await pilot.press("pageup", "up", "up")  # clamped at the first row
        assert grid.cursor_row == 0
        await pilot.press("home")
        assert grid.cursor_column == 0 and grid.selected_column.key == "grid-s00"  # version: the first service
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.messages[-1] == ("selected", 0, 0)
        assert ("highlighted", 1, grid.fixed_columns + 2) in pilot.app.messages
        cursor = grid.get_component_rich_style("cell-grid--cursor")
        assert any(segment.style.bgcolor == cursor.bgcolor for segment in grid.render_line(3) if segment.text.strip())


async def test_a_click_moves_the_cursor_and_read_only_hides_enter() -> None:
    async with Host().run_test(size=SIZE) as pilot:
        grid = pilot.app.query_one(ModelGrid)
        grid.show(app_grid())
        grid.read_only = True
        await pilot.pause()
        await pilot.click(ModelGrid, offset=(2, 5))  # the version column, third model
        assert (grid.cursor_row, grid.cursor_column) == (2, 0)
        count = len(pilot.app.messages)
        await pilot.press("enter")
        await pilot.pause()
        assert len(pilot.app.messages) == count
        assert "select_cursor" not in {b.action for (_, b, enabled, _) in pilot.app.active_bindings.values() if enabled}


async def test_a_refresh_that_changes_one_cell_repaints_that_line_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ages are measured against the clock: a second ticking over between the two shows changes every row.
    monkeypatch.setattr(model_grid, "now", lambda: NOW.timestamp() + 60)
    async with Host().run_test(size=SIZE) as pilot:
        grid = pilot.app.query_one(ModelGrid)
        grid.show(app_grid())
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        painted: list[int] = []
        cells: list[str] = []
        render_line, render_cell = grid.render_line, grid.render_cell

        def counting_lines(y):
            painted.append(y)
            return render_line(y)

        def counting_cells(value, line, width, style):
            cells.append(str(value))
            return render_cell(value, line, width, style)

        grid.render_line, grid.render_cell = counting_lines, counting_cells
        messages = len(pilot.app.messages)
        grid.show(app_grid([service(0, weight=20), *(service(s) for s in range(1, SERVICES))]))
        await pilot.pause()
        assert str(grid.get_cell(str(MODELS), "grid-s00")) == "● 20%"
        assert painted == [3] and cells == ["● 20%"]  # the first model's line, and of it one new cell
        assert (grid.cursor_row, len(pilot.app.messages)) == (1, messages)  # not rebuilt: no cursor reset
