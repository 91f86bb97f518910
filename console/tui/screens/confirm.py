"""Every change asks first, saying exactly what will happen; production asks for the service name typed."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from kanri.console.ops.views import ServiceView
from kanri.console.tui.screens.forms import buttons


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses True only on an explicit yes (and, when asked, the exact name typed)."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("y", "confirm", "Yes", show=False)]

    def __init__(self, title: str, details: str, type_to_confirm: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.details = details
        self.type_to_confirm = type_to_confirm

    @classmethod
    def about(cls, service: ServiceView | None, title: str, details: str) -> ConfirmScreen:
        """The one rule: a change to a production service needs its name typed; any other change a y."""
        production = service is not None and service.level == "production"
        return cls(title, details, type_to_confirm=service.name if production else "")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.details, classes="dialog-body")
            if self.type_to_confirm:
                yield Static(f"This is production: type [b]{self.type_to_confirm}[/b] and press enter to go ahead.")
                yield Input(placeholder=self.type_to_confirm, id="confirm-name", compact=True)
            else:
                yield Static("Press [b]y[/b] to go ahead, [b]escape[/b] to cancel.")
            yield from buttons("Go ahead", "warning")

    def on_mount(self) -> None:
        if self.type_to_confirm:
            self.query_one("#confirm-name", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()

    def action_confirm(self) -> None:
        if not self.type_to_confirm:
            self.dismiss(True)

    @on(Input.Submitted, "#confirm-name")
    @on(Button.Pressed, "#ok")
    def _yes(self) -> None:
        if self.type_to_confirm and self.query_one("#confirm-name", Input).value.strip() != self.type_to_confirm:
            self.notify(f"type {self.type_to_confirm} exactly to go ahead", severity="warning")
            return
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _no(self) -> None:
        self.dismiss(False)
