"""Textual's footer, tighter under 100 columns: compact, and without the palette's key (`?` lists it), so
that every screen's keys, `? Keys` and `q Quit` among them, fit in 80 columns."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

from kanri.console.tui.fit import NARROW


class KeyFooter(Footer):
    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW
        self.compact = narrow
        if self.show_command_palette == narrow:
            self.show_command_palette = not narrow
            self.call_after_refresh(self.recompose)
