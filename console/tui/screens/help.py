"""`?`: every key that works on the screen underneath, including those the footer has no room for."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


def bindings_table(screen: Screen) -> Table:
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    seen: set[str] = set()
    for (_, binding, enabled, _tooltip) in screen.active_bindings.values():
        if binding.description and enabled and binding.action not in seen:
            seen.add(binding.action)
            table.add_row(binding.key_display or screen.app.get_key_display(binding), binding.description)
    table.add_row("ctrl+p", "Command palette: every action and application by name")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            yield Static(bindings_table(self.under))
            yield Label(":  jumps to a view (apps, audit, logs, history, drift, help, app NAME); "
                        "/ filters; dangerous changes ask first", classes="dim")
