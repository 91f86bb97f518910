"""The services × models grid of one application, as the Rekcurd dashboard showed it, but live.

Rows are model versions, newest first; columns are services grouped by
service level. A cell shows ● where the service runs that model, with its
route weight. Refreshes update only the cells that changed, so the cursor
stays where the operator left it and a refresh of 10,000 cells repaints only
what is on screen (console/tui/widgets/cell_grid.py).
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.binding import Binding

from console.moments import duration
from console.ops.views import ModelView
from console.slo.status import SloStatus
from console.tui import marks
from console.tui.data import AppGrid, ServiceColumn
from console.tui.widgets.cell_grid import CellGrid, Column

now = time.time  # the clock ages are measured against; snapshot tests fix it
FIXED = ("version", "age", "description", "eval")
SHORT_LEVEL = {"development": "dev", "staging": "stg", "production": "prod"}


def header(column: ServiceColumn, slo: SloStatus | None) -> Text:
    """Three lines: level and name; ready/desired and whether it rolls; its SLO standing."""
    service = column.service
    level = SHORT_LEVEL.get(service.level, service.level)
    state = f"{column.ready}/{service.replicas}" + (f" {marks.ROLLING}" if column.rolling else "")
    if service.cluster_error:
        state += " ✖"
    return Text.assemble((f"{level} ", marks.level_style(service.level)), service.name, "\n", state, "\n",
                         marks.slo(slo))


def evaluation(model: ModelView) -> str:
    accuracy = (model.evaluation or {}).get("accuracy")
    return "" if accuracy is None else f"{accuracy:.3f}"


class ModelGrid(CellGrid):
    BINDINGS = [Binding("enter", "select_cursor", "Switch to this model")]

    def __init__(self, **kwargs) -> None:
        super().__init__(header_height=3, fixed_columns=1, **kwargs)
        self.grid_data: AppGrid | None = None
        self.slo: dict[str, SloStatus] = {}
        self.read_only = False  # enter switches models: hidden and inert when the console only watches
        self._shape: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
        self._marked: dict[str, str] = {}  # service → the row whose cell shows it runs that model

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.read_only and action == "select_cursor")

    @property
    def selected_column(self) -> ServiceColumn | None:
        """The service under the cursor; in the fixed columns, the first service."""
        if self.grid_data is None or not self.grid_data.columns:
            return None
        index = self.cursor_column - len(FIXED)
        return self.grid_data.columns[max(index, 0)] if index < len(self.grid_data.columns) else None

    @property
    def selected_model(self) -> ModelView | None:
        if self.grid_data is None or not self.grid_data.models or self.row_count == 0:
            return None
        return self.grid_data.models[-1 - min(self.cursor_row, len(self.grid_data.models) - 1)]

    def show_slo(self, statuses: dict[str, SloStatus]) -> None:
        self.slo = statuses
        if self.grid_data is not None:
            self.show(self.grid_data)

    def show(self, grid: AppGrid) -> None:
        """Rebuild when the application, its models or its services changed; otherwise update what differs."""
        models = grid.models[::-1]
        shape = (grid.app, tuple(str(m.version) for m in models), tuple(c.key for c in grid.columns))
        if shape != self._shape:
            same_app = self._shape is not None and self._shape[0] == grid.app
            self.reset([Column(key, key, 14, fit=False) if key == "description" else Column(key, key)
                        for key in FIXED] + [Column(c.key, "") for c in grid.columns], list(shape[1]),
                       (self.cursor_row, self.cursor_column) if same_app else (0, len(FIXED)))
            self._shape, self._marked = shape, {}
        self.grid_data = grid
        at = now()
        for model in models:
            row = str(model.version)
            for key, value in (("version", f"v{model.version}"), ("age", duration(at - model.created_at.timestamp())),
                               ("description", model.description), ("eval", evaluation(model))):
                self.update_cell(row, key, value)
        for column in grid.columns:
            self.set_label(column.key, header(column, self.slo.get(column.key)))
            self._mark(column)

    def _mark(self, column: ServiceColumn) -> None:
        """A service runs one model: blank the cell it ran before, if another, and show the one it runs."""
        service = column.service
        row = str(service.model_version)
        before = self._marked.pop(column.key, None)
        if before is not None and before != row:
            self.update_cell(before, column.key, "")
        if self.has_row(row):
            self.update_cell(row, column.key, Text.assemble((marks.RUNS, "green"), f" {service.weight}%"))
            self._marked[column.key] = row
