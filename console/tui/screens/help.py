"""`?`: every key that works on the screen underneath, including those the footer has no room for.

Each action once, under the key the footer shows for it; in two columns when the terminal is too short
for one (80×24 holds the main screen's twenty-odd keys that way)."""

from __future__ import annotations

from rich.table import Table
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

# Textual's own keys on every screen (focus moves, copy, ctrl+q): the note or the footer's keys say them.
TEXTUAL = frozenset((key, b.action) for cls in (App, Screen) for b in cls.BINDINGS if isinstance(b, Binding)
                    for key in b.key.split(","))
NOTE = ("tab moves between the applications and the grid;  : jumps to a view (apps, audit, logs, history, "
        "drift, help, app NAME);  / filters;  changes ask first")
ROOM = 12  # rows the dialog leaves around the keys: border, padding, title, note


def key_rows(screen: Screen) -> list[tuple[str, str]]:
    """(key, what it does) for every enabled binding with a description, once per action, under the key
    the footer shows; a binding's tooltip says more than its footer description when it has one."""
    chosen: dict[str, Binding] = {}
    for (owner, binding, enabled, _tooltip) in screen.active_bindings.values():
        # The screen's and the app's keys, and a widget's own additions, not every widget's cursor keys.
        own = isinstance(owner, Screen | App) or binding in type(owner).__dict__.get("BINDINGS", ())
        if not (own and binding.description and enabled) or (binding.key, binding.action) in TEXTUAL:
            continue
        if binding.action not in chosen or (binding.show and not chosen[binding.action].show):
            chosen[binding.action] = binding
    return [(b.key_display or screen.app.get_key_display(b), b.tooltip or b.description) for b in chosen.values()]


def keys_table(rows: list[tuple[str, str]], columns: int = 1) -> Table:
    """The keys down `columns` pairs of columns, filled column by column."""
    table = Table(box=None, show_header=False, padding=(0, 1))
    for _ in range(columns):
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True)
    height = -(-len(rows) // columns)
    for i in range(height):
        cells: list[str] = []
        for row in rows[i::height]:
            cells += row
        table.add_row(*cells)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.rows = key_rows(under)

    def compose(self) -> ComposeResult:
        columns = 1 if len(self.rows) + ROOM <= self.app.size.height else 2
        with VerticalScroll(classes="dialog", id="help"):
            yield Label("Keys", classes="dialog-title")
            yield Static(keys_table(self.rows, columns), id="help-keys")
            yield Static(NOTE, classes="dim")
