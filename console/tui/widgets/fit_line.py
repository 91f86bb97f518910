"""One line of parts in order of importance, showing as many as its width holds (console/tui/fit.py): the
status lines and titles, which must never wrap onto a second line nor end mid-word at 80 columns. A Static,
so that whoever reads a status line as one (`query_one("#alerts", Static).render()`) still can."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from kanri.console.tui.fit import fit_parts


class FitLine(Static):
    DEFAULT_CSS = "FitLine { height: 1; }"

    def __init__(self, *parts: Text | str, prose: Text | str = "", separator: str = "   ", **kwargs) -> None:
        super().__init__(**kwargs)
        self.parts: tuple[Text | str, ...] = parts
        self.prose = prose
        self.separator = separator

    def show(self, parts: Sequence[Text | str], prose: Text | str = "") -> None:
        """Parts kept whole or left out, most important first; `prose` last, cut between words."""
        if (tuple(parts), prose) != (self.parts, self.prose):
            self.parts, self.prose = tuple(parts), prose
            self.refresh()

    @property
    def text(self) -> str:
        """Everything it was given, whatever the width shows of it."""
        return self.separator.join(str(part) for part in (*self.parts, self.prose) if str(part))

    def render(self) -> Text:
        return fit_parts(self.parts, self.content_size.width, self.prose, self.separator)
