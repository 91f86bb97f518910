"""The applications column: every application with its health mark, narrowed by typing in the filter.

A name longer than the column is shortened in the middle (the status line above the grid says it whole)."""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from kanri.console.ops.overview import AppHealth
from kanri.console.tui import marks
from kanri.console.tui.fit import shorten
from kanri.console.tui.focus import focus_now


class AppList(Vertical):
    """Posts `Selected` when the highlighted application changes."""

    class Selected(Message):
        def __init__(self, app: str) -> None:
            super().__init__()
            self.app = app

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._apps: list[AppHealth] = []
        self._shown: list[str] = []
        self._health: dict[str, str] = {}  # the mark each shown application has now
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter", id="app-filter")
        yield OptionList(id="app-options")

    @property
    def apps(self) -> list[AppHealth]:
        return self._apps

    def show(self, apps: list[AppHealth]) -> None:
        self._apps = apps
        self._render_options()

    def focus_filter(self) -> None:
        focus_now(self.query_one("#app-filter", Input))

    def select(self, app: str) -> None:
        self.query_one("#app-filter", Input).value = ""
        self.selected = app
        self._render_options()
        self.post_message(self.Selected(app))

    def on_resize(self, _: events.Resize) -> None:
        self._shown = []  # every name again, shortened to the new width
        self._render_options()

    def _render_options(self) -> None:
        needle = self.query_one("#app-filter", Input).value.strip().lower()
        shown = [a for a in self._apps if needle in a.name.lower()]
        options = self.query_one("#app-options", OptionList)
        names = [a.name for a in shown]
        if names != self._shown:
            options.clear_options()
            options.add_options([Option(self._label(a), id=a.name) for a in shown])
            self._shown = names
        else:  # the same list: only the marks that changed (a refresh every 2 s of 200 prompts would redraw all)
            for a in shown:
                if self._health.get(a.name) != a.health:
                    options.replace_option_prompt(a.name, self._label(a))
        self._health = {a.name: a.health for a in shown}
        if self.selected in names:
            options.highlighted = names.index(self.selected)
        elif names:
            options.highlighted = 0

    def _label(self, app: AppHealth) -> Text:
        room = self.query_one("#app-options", OptionList).scrollable_content_region.width - 2  # the mark, a space
        return Text.assemble(marks.health(app.health), " ", shorten(app.name, room) if room > 0 else app.name)

    @on(Input.Changed, "#app-filter")
    def _filter(self) -> None:
        self._render_options()

    @on(Input.Submitted, "#app-filter")
    def _to_list(self) -> None:
        self.query_one("#app-options", OptionList).focus()

    @on(OptionList.OptionHighlighted, "#app-options")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        name = event.option.id
        if name is not None and name != self.selected:
            self.selected = name
            self.post_message(self.Selected(name))
