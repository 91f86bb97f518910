"""`?`: every key that works on the screen underneath, including those the footer has no room for."""

from __future__ import annotations

from rich.table import Table
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


def key_rows(screen: Screen) -> list[tuple[str, str]]:
    """(key, what it does) for every enabled binding with a description, once per action."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for (owner, binding, enabled, _tooltip) in screen.active_bindings.values():
        # The screen's and the app's keys, and a widget's own additions, not every widget's cursor keys.
        own = isinstance(owner, Screen | App) or binding in type(owner).__dict__.get("BINDINGS", ())
        if own and binding.description and enabled and binding.action not in seen:
            seen.add(binding.action)
            rows.append((binding.key_display or screen.app.get_key_display(binding), binding.description))
    rows.append(("ctrl+p", "Command palette: every action and application by name"))
    return rows


def keys_table(rows: list[tuple[str, str]]) -> Table:
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for row in rows:
        table.add_row(*row)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.rows = key_rows(under)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            yield Static(keys_table(self.rows), id="help-keys")
            yield Label(":  jumps to a view (apps, audit, logs, history, drift, help, app NAME); "
                        "/ filters; dangerous changes ask first", classes="dim")
