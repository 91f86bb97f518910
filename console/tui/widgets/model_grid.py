"""The services × models grid of one application, as the Rekcurd dashboard showed it, but live.

Rows are model versions, newest first; columns are services grouped by
service level. A cell shows ● where the service runs that model, with its
route weight. Refreshes update only the cells that changed, so the cursor
stays where the operator left it and a refresh of 10,000 cells repaints only
what is on screen (console/tui/widgets/cell_grid.py).

The grid fits its width: the models' columns (version, age, description,
eval) stay at the left while the services scroll, and when room is short
the description is cut between words, then it, the age and the eval go, and
only then are service names shortened in the middle (the status line above
says the focused one in full).
"""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding

from kanri.console.moments import duration
from kanri.console.ops.views import ModelView
from kanri.console.slo.status import SloStatus
from kanri.console.telemetry.format import score
from kanri.console.tui import marks
from kanri.console.tui.data import AppGrid, ServiceColumn
from kanri.console.tui.fit import Placed, Spec, cut_words, fit_columns, shorten
from kanri.console.tui.widgets.cell_grid import PADDING, CellGrid, Column

now = time.time  # the clock ages are measured against; snapshot tests fix it
INFO = (Spec("version", "version", "ver"), Spec("age", "age", rank=2),
        Spec("description", "description", "desc", rank=3, kind="text", least=12), Spec("eval", "eval", rank=1))
SHORT_LEVEL = {"development": "dev", "staging": "stg", "production": "prod"}
CELL_WIDTH = len("● 100%")
NAME_LEAST = 8  # a service name is not cut shorter than this
SERVICES_SHARE = 0.6  # of the width, for services that cannot all show; the models' columns get the rest
PAD = 2 * PADDING


def state(column: ServiceColumn) -> Text:
    """`prod 2/3 ⟳`: the level, ready/desired replicas (desired by the autoscaler, once it says), ⟳ while it
    rolls, ↓0 when scaled to zero, ✖ when the cluster failed."""
    service = column.service
    text = Text(SHORT_LEVEL.get(service.level, service.level), style=marks.level_style(service.level))
    text.append(f" {column.ready}/{column.target}" + (f" {marks.ROLLING}" if column.rolling else "")
                + (f" {marks.SCALED_TO_ZERO}" if column.idle else "") + (" ✖" if service.cluster_error else ""))
    return text


def header(name: str, lines: tuple[Text, Text], width: int) -> Text:
    """Three lines: the service's name (shortened in the middle to `width`), its state, its SLO standing."""
    return Text.assemble(shorten(name, width), "\n", lines[0], "\n", lines[1])


def evaluation(model: ModelView) -> str:
    return score((model.evaluation or {}).get("accuracy")) or ""


def needs(columns: tuple[ServiceColumn, ...], lines: list[tuple[Text, Text]]) -> list[tuple[int, int]]:
    """Each service column's (whole, least) width: the widest of its header (name, then `lines`) and cells,
    with its name whole or shortened as far as it may be."""
    widths = []
    for column, (status, slo) in zip(columns, lines, strict=True):
        rest = max(status.cell_len, slo.cell_len, CELL_WIDTH)
        name = len(column.service.name)
        widths.append((max(name, rest), max(min(name, NAME_LEAST), rest)))
    return widths


def total(widths: list[int]) -> int:
    return sum(widths) + PAD * len(widths)


def service_widths(wanted: list[tuple[int, int]], room: int) -> list[int]:
    """Whole names when they all fit in `room`, or when even shortened they cannot (the grid scrolls);
    else as many names whole as the room allows, the nearest to whole first, and the others shortened."""
    whole, least = [w for w, _ in wanted], [w for _, w in wanted]
    if total(whole) <= room or total(least) > room:
        return whole
    widths, spare = least, room - total(least)
    for i in sorted(range(len(whole)), key=lambda i: whole[i] - least[i]):
        grown = min(whole[i] - widths[i], spare)
        widths[i] += grown
        spare -= grown
    return widths


def info_room(wanted: list[tuple[int, int]], room: int) -> int:
    """What the services leave to the models' columns: all they do not need when every service can show
    (the models' columns go before any name is shortened), else a share of the width."""
    if total([w for _, w in wanted]) + len("ver") + PAD <= room:
        return room - total([w for w, _ in wanted])
    return room - int(room * SERVICES_SHARE)


class ModelGrid(CellGrid):
    BINDINGS = [Binding("enter", "select_cursor", "Switch", tooltip="Switch to this model")]

    def __init__(self, **kwargs) -> None:
        super().__init__(header_height=3, fixed_columns=1, **kwargs)
        self.grid_data: AppGrid | None = None
        self.slo: dict[str, SloStatus] = {}
        self.read_only = False  # enter switches models: hidden and inert when the console only watches
        self._shape: tuple | None = None
        self._marked: dict[str, str] = {}  # service → the row whose cell shows it runs that model

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.read_only and action == "select_cursor")

    @property
    def selected_column(self) -> ServiceColumn | None:
        """The service under the cursor; in the models' columns, the first service."""
        if self.grid_data is None or not self.grid_data.columns:
            return None
        index = self.cursor_column - self.fixed_columns
        return self.grid_data.columns[max(index, 0)] if index < len(self.grid_data.columns) else None

    @property
    def selected_model(self) -> ModelView | None:
        if self.grid_data is None or not self.grid_data.models or self.row_count == 0:
            return None
        return self.grid_data.models[-1 - min(self.cursor_row, len(self.grid_data.models) - 1)]

    def move_to_service(self, name: str) -> None:
        keys = [c.key for c in self.grid_data.columns] if self.grid_data else []
        if name in keys:
            self.move_cursor(column=self.fixed_columns + keys.index(name))

    def show_slo(self, statuses: dict[str, SloStatus]) -> None:
        self.slo = statuses
        if self.grid_data is not None:
            self.show(self.grid_data)

    def on_resize(self, _: events.Resize) -> None:
        if self.grid_data is not None:
            self.show(self.grid_data)

    def show(self, grid: AppGrid) -> None:
        """Rebuild when the application, its models, its services or what fits changed; otherwise update
        what differs."""
        at = now()
        rows = {str(m.version): (f"v{m.version}", duration(at - m.created_at.timestamp()), m.description,
                                 evaluation(m)) for m in reversed(grid.models)}
        room = self.scrollable_content_region.width or self.app.size.width
        widest = {spec.key: max((cell_len(row[i]) for row in rows.values()), default=0)
                  for i, spec in enumerate(INFO)}
        lines = [(state(c), marks.slo(self.slo.get(c.key))) for c in grid.columns]
        wanted = needs(grid.columns, lines)
        info = fit_columns(INFO, widest, info_room(wanted, room), PAD)
        widths = service_widths(wanted, room - sum(p.width + PAD for p in info))
        shape = (grid.app, tuple(rows), tuple(c.key for c in grid.columns),
                 tuple((p.spec.key, p.label, p.width if p.spec.kind == "text" else 0) for p in info), tuple(widths))
        if shape != self._shape:
            self._reset(grid, shape, info, widths, [w for w, _ in wanted])
        self.grid_data = grid
        for key, values in rows.items():
            for place in info:
                value = values[INFO.index(place.spec)]
                self.update_cell(key, place.spec.key, cut_words(value, place.width) if place.spec.kind == "text"
                                 else value)
        for column, two, width in zip(grid.columns, lines, widths, strict=True):
            self.set_label(column.key, header(column.service.name, two, width))
            self._mark(column)

    def _reset(self, grid: AppGrid, shape: tuple, info: list[Placed], widths: list[int], natural: list[int]) -> None:
        """New columns: the cursor stays on its model and service (or its column, if still shown)."""
        same_app = self._shape is not None and self._shape[0] == grid.app
        at = self._order[self.cursor_column].key if same_app and self._order else ""
        columns = [Column(p.spec.key, p.label, p.width, fit=p.spec.kind != "text") for p in info]
        columns += [Column(c.key, "", width, fit=width == whole)
                    for c, width, whole in zip(grid.columns, widths, natural, strict=True)]
        keys = [c.key for c in columns]
        column = keys.index(at) if at in keys else len(info)
        self.reset(columns, list(shape[1]), (self.cursor_row if same_app else 0, column), fixed_columns=len(info))
        self._shape, self._marked = shape, {}

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
