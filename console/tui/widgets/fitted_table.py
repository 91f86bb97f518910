"""A DataTable whose columns fit its width (console/tui/fit.py), filled by row key.

Rows are given whole, with their full values; the table shows each cut to its column the way its kind
allows, and keeps the full ones so that the status line can say what the cursor's row was cut of. Columns
are fitted again when the width changes or a value outgrows its column; otherwise a refresh updates only
the cells that changed (dolphie's way), so the cursor stays on its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable

from kanri.console.tui.fit import Placed, Spec, fit_columns, fitted

Cell = Text | str
Row = tuple[Cell, ...]


def plain(value: Cell) -> str:
    return value.plain if isinstance(value, Text) else value


class FittedTable(DataTable):
    def __init__(self, specs: Sequence[Spec], **kwargs) -> None:
        super().__init__(**kwargs)
        self.specs = tuple(specs)
        self._full: dict[str, Row] = {}  # row key → every value, in spec order
        self._widest: dict[str, int] = {}  # only grows between fittings, so widths do not jump each refresh
        self._placed: list[Placed] = []
        self._room = -1

    @property
    def row_keys(self) -> list[str]:
        """The keys of the rows it holds, in order (on screen once it has room)."""
        return list(self._full)

    def show(self, rows: Mapping[str, Sequence[Cell]]) -> None:
        """Show these rows (by key, in order): refit if needed, else update what changed."""
        rows = {key: tuple(row) for key, row in rows.items()}
        widest = self._measure(rows.values())
        if any(width > self._widest.get(key, 0) for key, width in widest.items()):
            self._widest = {key: max(width, self._widest.get(key, 0)) for key, width in widest.items()}
            self._room = -1  # a value outgrew its column
        if self._refit() or not self._placed:  # not placed: no room yet, the first resize shows them
            self._rebuild(rows)
            return
        before = list(self._full)
        kept = [key for key in before if key in rows]
        if list(rows) != kept + [key for key in rows if key not in self._full]:
            self._rebuild(rows, columns=False)  # reordered (the newest first): rows again, columns kept
            return
        for key in before:
            if key not in rows:
                self.remove_row(key)
        for key, row in rows.items():
            old = self._full.get(key)
            if old is None:
                self.add_row(*self._cells(row), key=key)
                continue
            for place in self._placed:
                index = self.specs.index(place.spec)
                if old[index] != row[index]:
                    self.update_cell(key, place.spec.key, fitted(row[index], place.width, place.spec.kind))
        self._full = rows

    def cut_in(self, row_key: str | None) -> list[str]:
        """The full values of the cells of that row that show shortened."""
        row = self._full.get(row_key or "")
        if row is None:
            return []
        values = (plain(row[self.specs.index(p.spec)]) for p in self._placed)
        return [text for text, p in zip(values, self._placed, strict=True) if cell_len(text) > p.width]

    def cursor_key(self) -> str | None:
        if not self._full or self.row_count == 0:
            return None
        return list(self._full)[min(self.cursor_row, len(self._full) - 1)]

    def on_resize(self, _: events.Resize) -> None:
        self._widest = self._measure(self._full.values())
        if self._refit():
            self._rebuild(self._full)

    def _measure(self, rows: object) -> dict[str, int]:
        rows = list(rows)
        return {spec.key: max((cell_len(plain(row[i])) for row in rows), default=0)
                for i, spec in enumerate(self.specs)}

    def _refit(self) -> bool:
        """Fit the columns to the room there is now; True if what shows changed."""
        room = self.scrollable_content_region.width
        if room == self._room or room <= 0:
            return False
        self._room = room
        placed = fit_columns(self.specs, self._widest, room, padding=2 * self.cell_padding)
        if placed == self._placed:
            return False
        self._placed = placed
        return True

    def _cells(self, row: Row) -> list[Cell]:
        return [fitted(row[self.specs.index(p.spec)], p.width, p.spec.kind) for p in self._placed]

    def _rebuild(self, rows: dict[str, Row], columns: bool = True) -> None:
        keep = self.cursor_key()
        self._full = rows
        if not self._placed:
            return
        self.clear(columns=columns)
        if columns:
            for place in self._placed:
                self.add_column(place.label, width=place.width, key=place.spec.key)
        for key, row in rows.items():
            self.add_row(*self._cells(row), key=key)
        if keep in rows:
            self.move_cursor(row=list(rows).index(keep), animate=False)
