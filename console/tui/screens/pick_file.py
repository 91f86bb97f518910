"""A path picker: browse with the directory tree or type the path; optional extra fields below."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label

from kanri.console.tui.screens.forms import buttons


class PickFileScreen(ModalScreen[tuple[str, str] | None]):
    """Dismisses (path, note) for an existing file, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, start: str | Path = ".", note_label: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.start = Path(start).expanduser()
        self.note_label = note_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide fill"):
            yield Label(self.title_text, classes="dialog-title")
            yield DirectoryTree(self.start, id="picker-tree")
            with Horizontal(classes="field-row"):
                yield Label("path", classes="field-label")
                yield Input(id="picker-path", placeholder="type it, or pick it above", compact=True,
                            classes="field-input wide-input")
            if self.note_label:
                with Horizontal(classes="field-row"):
                    yield Label(self.note_label, classes="field-label")
                    yield Input(id="picker-note", compact=True, classes="field-input wide-input")
            yield from buttons("OK")

    def on_mount(self) -> None:
        self.query_one("#picker-path", Input).focus()

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#picker-path", Input).value = str(event.path)
        self.query_one("#picker-path", Input).focus()

    @on(Input.Submitted, "#picker-path")
    def _path_entered(self) -> None:
        if self.note_label:
            self.query_one("#picker-note", Input).focus()
        else:
            self._submit()

    @on(Input.Submitted, "#picker-note")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        path = Path(self.query_one("#picker-path", Input).value.strip()).expanduser()
        if not path.is_file():
            self.notify(f"{path} is not a file", severity="warning")
            return
        note = self.query_one("#picker-note", Input).value.strip() if self.note_label else ""
        self.dismiss((str(path), note))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
