"""A grid of cells on Textual's Line API that renders only the rows and columns in view.

DataTable renders every column of each visible row and drops its render caches
on every update, so a 100-column grid cost hundreds of milliseconds a refresh.
Here a line costs the cells on screen, and a rendered cell line is cached by its
value, width and style: a refresh that changes one cell repaints that cell's line
from cached pieces. The header rows stay on top and the first `fixed_columns`
stay at the left while the rest scrolls.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable
from dataclasses import dataclass
from itertools import accumulate
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = Text | str
PADDING = 1  # blank cells either side of a cell's content
HEADER = -1  # the row index of the header


def cell_key(value: Cell) -> Hashable:
    """What a cell's rendering depends on (a Text is unhashable; its text, style and spans are not)."""
    return value if isinstance(value, str) else (value.plain, value.style, tuple(value.spans))


def content_width(value: Cell) -> int:
    plain = value if isinstance(value, str) else value.plain
    return max(cell_len(line) for line in plain.split("\n"))


@dataclass
class Column:
    key: str
    label: Cell  # one line per header row
    width: int = 0  # content cells, padding excluded
    fit: bool = True  # widen to the widest label or value; False: keep `width`, cut longer values with …

    @property
    def render_width(self) -> int:
        return self.width + 2 * PADDING


class CellMessage(Message):
    """About the cell at (row, column) of a grid; `@on(..., "#id")` matches the grid's id."""

    def __init__(self, grid: CellGrid, row: int, column: int) -> None:
        super().__init__()
        self.grid, self.row, self.column = grid, row, column

    @property
    def control(self) -> CellGrid:
        return self.grid


class CellGrid(ScrollView, can_focus=True):
    """Rows by key, columns by key, sparse cells ("" where none is set), a cell cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("left", "cursor_left", "Cursor left", show=False),
        Binding("right", "cursor_right", "Cursor right", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first_column", "First column", show=False),
        Binding("end", "last_column", "Last column", show=False),
        Binding("ctrl+home", "first_row", "First row", show=False),
        Binding("ctrl+end", "last_row", "Last row", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "cell-grid--header", "cell-grid--fixed", "cell-grid--cursor", "cell-grid--even-row", "cell-grid--odd-row",
    }
    DEFAULT_CSS = """
    CellGrid {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        & > .cell-grid--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .cell-grid--header { background: ansi_bright_blue; color: ansi_default; }
        & > .cell-grid--fixed { background: $secondary-muted; color: $foreground; }
        & > .cell-grid--even-row { background: $surface-lighten-1 50%; }
        &:dark > .cell-grid--even-row { background: $surface-darken-1 40%; }
        & > .cell-grid--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .cell-grid--header { background-tint: $foreground 5%; }
            & > .cell-grid--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    class CellHighlighted(CellMessage):
        """The cursor moved to (row, column), or the grid under it was rebuilt."""

    class CellSelected(CellMessage):
        """Enter (or a click) on the cell under the cursor."""

    def __init__(self, *, header_height: int = 1, fixed_columns: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.header_height = header_height
        self.fixed_columns = fixed_columns
        self.columns: dict[str, Column] = {}
        self._order: list[Column] = []
        self._column_index: dict[str, int] = {}
        self._rows: list[str] = []
        self._row_index: dict[str, int] = {}
        self._cells: dict[tuple[str, str], Cell] = {}
        self._fixed_width = 0
        self._offsets: list[int] = [0]  # x of each scrollable column, from the first one's left edge, and the end
        self._rendered: LRUCache[Hashable, list[Segment]] = LRUCache(8192)
        self.cursor_row = 0
        self.cursor_column = 0

    # contents

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def reset(self, columns: list[Column], rows: list[str], cursor: tuple[int, int] = (0, 0),
              fixed_columns: int | None = None) -> None:
        """New columns and rows (and, if given, how many columns stay at the left), every cell blank; the
        cursor lands on `cursor` (clamped) and is announced."""
        if fixed_columns is not None:
            self.fixed_columns = fixed_columns
        self.columns = {column.key: column for column in columns}
        self._order = list(columns)
        for column in columns:
            if column.fit:
                column.width = max(column.width, content_width(column.label))
        self._column_index = {column.key: i for i, column in enumerate(columns)}
        self._rows = list(rows)
        self._row_index = {key: i for i, key in enumerate(rows)}
        self._cells = {}
        self._measure()
        self.cursor_row, self.cursor_column = self._clamp(*cursor)
        self.refresh()
        self.call_after_refresh(self._scroll_cursor_into_view)
        self.post_message(self.CellHighlighted(self, self.cursor_row, self.cursor_column))

    def has_row(self, row_key: str) -> bool:
        return row_key in self._row_index

    def get_cell(self, row_key: str, column_key: str) -> Cell:
        if row_key not in self._row_index or column_key not in self.columns:
            raise KeyError((row_key, column_key))
        return self._cells.get((row_key, column_key), "")

    def get_row_at(self, index: int) -> list[Cell]:
        row = self._rows[index]
        return [self._cells.get((row, column.key), "") for column in self._order]

    def update_cell(self, row_key: str, column_key: str, value: Cell) -> None:
        """Set one cell; repaints only it unless its column has to widen."""
        key = (row_key, column_key)
        if self._cells.get(key, "") == value:
            return
        if value == "":
            del self._cells[key]
        else:
            self._cells[key] = value
        if not self._widen(self.columns[column_key], value):
            self._refresh_cell(self._row_index[row_key], self._column_index[column_key])

    def set_label(self, column_key: str, label: Cell) -> None:
        column = self.columns[column_key]
        if column.label == label:
            return
        column.label = label
        if not self._widen(column, label):
            self._refresh_cell(HEADER, self._column_index[column_key])

    def _widen(self, column: Column, value: Cell) -> bool:
        """Widen the column to fit value (columns never narrow until reset, so nothing jumps); True if it did."""
        if not column.fit or (width := content_width(value)) <= column.width:
            return False
        column.width = width
        self._measure()
        self.refresh()
        return True

    def _measure(self) -> None:
        fixed, scrollable = self._order[:self.fixed_columns], self._order[self.fixed_columns:]
        self._fixed_width = sum(column.render_width for column in fixed)
        self._offsets = [0, *accumulate(column.render_width for column in scrollable)]
        self.virtual_size = Size(self._fixed_width + self._offsets[-1], self.header_height + len(self._rows))

    # rendering

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        row, line = (HEADER, y) if y < self.header_height else (y - self.header_height + scroll_y, 0)
        if row >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        segments = [segment for index in range(min(self.fixed_columns, len(self._order)))
                    for segment in self._cell_line(row, index, line)]
        view = max(width - self._fixed_width, 0)
        first = bisect_right(self._offsets, scroll_x) - 1
        last = bisect_right(self._offsets, scroll_x + view - 1)  # one past the last column in view
        scrolled = [segment for index in range(self.fixed_columns + first, min(self.fixed_columns + last,
                                                                                len(self._order)))
                    for segment in self._cell_line(row, index, line)]
        start = scroll_x - self._offsets[first]
        segments += Strip(scrolled).crop(start, start + view)
        return Strip(segments).adjust_cell_length(width, self._row_style(row)).simplify()

    def _cell_line(self, row: int, index: int, line: int) -> list[Segment]:
        column = self._order[index]
        value = column.label if row == HEADER else self._cells.get((self._rows[row], column.key), "")
        style = self._row_style(row) if row == HEADER or index >= self.fixed_columns else self._component("fixed")
        if (row, index) == (self.cursor_row, self.cursor_column):
            style += self._component("cursor")
        key = (cell_key(value), line, column.width, style)
        segments = self._rendered.get(key)
        if segments is None:
            segments = self._rendered[key] = self.render_cell(value, line, column.width, style)
        return segments

    def render_cell(self, value: Cell, line: int, width: int, style: Style) -> list[Segment]:
        """One line of one cell, padded to width; called only when the cache has not got it."""
        text = value if isinstance(value, Text) else Text(value)
        lines = text.split("\n", allow_blank=True)
        part = lines[line] if line < len(lines) else Text()
        part.truncate(width, overflow="ellipsis", pad=True)
        part.pad(PADDING)
        return list(Segment.apply_style(part.render(self.app.console), style))

    def _row_style(self, row: int) -> Style:
        if row == HEADER:
            return self._component("header")
        return self._component("odd-row" if row % 2 else "even-row")

    def _component(self, name: str) -> Style:
        return self.get_component_rich_style(f"cell-grid--{name}")

    def _refresh_cell(self, row: int, index: int) -> None:
        """Mark one cell's lines on screen dirty; Textual re-renders just those lines."""
        if not self._order or row >= len(self._rows):
            return
        column = self._order[index]
        if index < self.fixed_columns:
            x = sum(c.render_width for c in self._order[:index])
        else:
            x = self._fixed_width + self._offsets[index - self.fixed_columns] - int(self.scroll_x)
        y, height = (0, self.header_height) if row == HEADER else (self.header_height + row - int(self.scroll_y), 1)
        if row == HEADER or self.header_height <= y < self.size.height:
            self.refresh(Region(x, y, column.render_width, height))

    # the cursor

    def _clamp(self, row: int, column: int) -> tuple[int, int]:
        return max(0, min(row, len(self._rows) - 1)), max(0, min(column, len(self._order) - 1))

    def move_cursor(self, row: int | None = None, column: int | None = None) -> None:
        """Move the cursor (clamped to the grid), scroll it into view and announce it if it moved."""
        target = self._clamp(self.cursor_row if row is None else row, self.cursor_column if column is None else column)
        if target == (self.cursor_row, self.cursor_column):
            return
        self._refresh_cell(self.cursor_row, self.cursor_column)
        self.cursor_row, self.cursor_column = target
        self._refresh_cell(*target)
        self._scroll_cursor_into_view()
        self.post_message(self.CellHighlighted(self, *target))

    def _scroll_cursor_into_view(self) -> None:
        """Scroll the least that shows the cursor's cell, landing on a column's edge rather than mid-column."""
        if not self._order:
            return
        row = Region(0, self.header_height + self.cursor_row, 1, 1)
        self.scroll_to_region(row, spacing=Spacing(self.header_height, 0, 0, 0), x_axis=False, animate=False,
                              force=True)
        index = self.cursor_column - self.fixed_columns
        if index < 0:  # a fixed column is always in view
            return
        start, end = self._offsets[index], self._offsets[index + 1]
        view = self.scrollable_content_region.width - self._fixed_width
        if start < self.scroll_x or view <= end - start:
            self.scroll_to(x=start, animate=False, force=True)
        elif end > self.scroll_x + view:
            self.scroll_to(x=self._offsets[bisect_left(self._offsets, end - view)], animate=False, force=True)

    def _page(self) -> int:
        return max(self.scrollable_content_region.height - self.header_height, 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_cursor_left(self) -> None:
        self.move_cursor(column=self.cursor_column - 1)

    def action_cursor_right(self) -> None:
        self.move_cursor(column=self.cursor_column + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self._page())

    def action_first_column(self) -> None:
        self.move_cursor(column=0)

    def action_last_column(self) -> None:
        self.move_cursor(column=len(self._order) - 1)

    def action_first_row(self) -> None:
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        self.move_cursor(row=len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        if self._rows and self._order:
            self.post_message(self.CellSelected(self, self.cursor_row, self.cursor_column))

    def on_click(self, event: events.Click) -> None:
        """A click moves the cursor there; a click on the cell under the cursor selects it."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < self.header_height or not self._order:
            return
        row = offset.y - self.header_height + int(self.scroll_y)
        if offset.x < self._fixed_width:
            edges = list(accumulate(c.render_width for c in self._order[:self.fixed_columns]))
            index = bisect_right(edges, offset.x)
        else:
            x = offset.x - self._fixed_width + int(self.scroll_x)
            index = self.fixed_columns + bisect_right(self._offsets, x) - 1
        if row >= len(self._rows) or index >= len(self._order):
            return
        event.stop()
        if (row, index) == (self.cursor_row, self.cursor_column):
            self.action_select_cursor()
        else:
            self.move_cursor(row, index)
