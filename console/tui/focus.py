"""Keys typed right after the one that opens an input reach that input.

Textual hands each key to the widget focused when the app reads it, and that widget runs its bindings
later, from its own queue; `Widget.focus()` is later still. So over a laggy SSH link, a paste or tmux
send-keys, `/bad weights` in the logs reached the log as commands (`e` toggled errors) instead of the
search. An opener binding is therefore a priority binding, run as the app reads it, and moves focus at
once; while an input has the keys, its key is only a character again.
"""

from __future__ import annotations

from typing import Any

from textual.actions import SkipAction
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input


def opener(key: str, action: str, description: str, **options: Any) -> Binding:
    """The binding of a key that opens an input."""
    return Binding(key, action, description, priority=True, **options)


def skip_while_typing(screen: Screen) -> None:
    """Called first by an opener's action: while an input is focused, the key goes to it as text."""
    if isinstance(screen.focused, Input):
        raise SkipAction()


def focus_now(widget: Widget) -> None:
    """Give `widget` the keys from the very next one on (`Widget.focus()` waits behind keys already read)."""
    widget.screen.set_focus(widget)
