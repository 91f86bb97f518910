"""The services × models grid of one application, as the Rekcurd dashboard showed it, but live.

Rows are model versions, newest first; columns are services grouped by
service level. A cell shows ● where the service runs that model, with its
route weight. Refreshes update only the cells that changed, so the cursor
stays where the operator left it.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from console.ops.views import ModelView
from console.slo.status import SloStatus
from console.tui import marks
from console.tui.data import AppGrid, ServiceColumn, age

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


def cell(model: ModelView, column: ServiceColumn) -> Text | str:
    service = column.service
    if service.model_version != model.version:
        return ""
    return Text.assemble((marks.RUNS, "green"), f" {service.weight}%")


def evaluation(model: ModelView) -> str:
    accuracy = (model.evaluation or {}).get("accuracy")
    return "" if accuracy is None else f"{accuracy:.3f}"


class ModelGrid(DataTable):
    BINDINGS = [Binding("enter", "select_cursor", "Switch to this model")]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="cell", header_height=3, fixed_columns=1, zebra_stripes=True, **kwargs)
        self.grid_data: AppGrid | None = None
        self.slo: dict[str, SloStatus] = {}
        self.read_only = False  # enter switches models: hidden and inert when the console only watches
        self._shape: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self._cells: dict[tuple[str, str], object] = {}

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
        self.grid_data = grid
        at = now()
        models = grid.models[::-1]
        shape = (tuple(str(m.version) for m in models), tuple(c.key for c in grid.columns))
        if shape != self._shape or self.grid_data.app != getattr(self, "_app", None):
            self._rebuild(grid, shape)
        else:
            for column in grid.columns:
                label = header(column, self.slo.get(column.key))
                if self.columns[column.key].label != label:
                    self.columns[column.key].label = label
                    self.refresh()
        for model in models:
            row = str(model.version)
            values = {"version": f"v{model.version}", "age": age(at - model.created_at.timestamp()),
                      "description": model.description, "eval": evaluation(model)}
            values.update({c.key: cell(model, c) for c in grid.columns})
            for key, value in values.items():
                if self._cells.get((row, key)) != value:
                    self._cells[row, key] = value
                    self.update_cell(row, key, value)

    def _rebuild(self, grid: AppGrid, shape: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
        keep = (self.cursor_row, self.cursor_column) if getattr(self, "_app", None) == grid.app else (0, len(FIXED))
        self.clear(columns=True)
        self._cells = {}
        for key in FIXED:
            self.add_column(key, key=key, width=14 if key == "description" else None)
        for column in grid.columns:
            self.add_column(header(column, self.slo.get(column.key)), key=column.key)
        for version in shape[0]:
            self.add_row(*([""] * (len(FIXED) + len(grid.columns))), key=version)
        self._shape = shape
        self._app = grid.app
        if self.row_count:
            self.move_cursor(row=min(keep[0], self.row_count - 1),
                             column=min(max(keep[1], 0), len(self.columns) - 1), animate=False)
