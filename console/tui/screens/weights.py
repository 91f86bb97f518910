"""The route weight editor for one application at one service level: the weights always sum to 100.

Editing one service's weight gives the difference to (or takes it from) the
balancing service, the first one the operator has not touched, so the sum
stays 100 with every keystroke.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from kanri.console.tui.fit import shorten
from kanri.console.tui.screens.forms import buttons

NAME_WIDTH = 40  # what the dialog holds beside the input at 80 columns


class WeightsScreen(ModalScreen[dict[str, int] | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, app: str, level: str, weights: dict[str, int]) -> None:
        super().__init__()
        self.app_name = app
        self.level = level
        self.weights = dict(weights)
        self.touched: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Route weights of {self.app_name} at {self.level}", classes="dialog-title")
            for name, weight in self.weights.items():
                with Horizontal(classes="field-row"):
                    yield Label(shorten(name, NAME_WIDTH), classes="field-label")
                    yield Input(str(weight), id=f"weight-{name}", type="integer", compact=True,
                                classes="field-input weight-input")
            yield Label(self._total_text(), id="weights-total")
            yield from buttons("OK")

    def _total_text(self) -> str:
        total = sum(self.weights.values())
        return f"total {total}%" + ("" if total == 100 else "  (must be 100)")

    def _balancer(self, edited: str) -> str | None:
        untouched = [name for name in self.weights if name != edited and name not in self.touched]
        others = [name for name in self.weights if name != edited]
        return (untouched or others or [None])[-1]

    @on(Input.Changed, ".weight-input")
    def _changed(self, event: Input.Changed) -> None:
        name = event.input.id.removeprefix("weight-")
        try:
            value = int(event.value)
        except ValueError:
            return
        if value == self.weights[name] or not 0 <= value <= 100:
            return
        if name not in self.touched:
            self.touched.append(name)
        self.weights[name] = value
        balancer = self._balancer(name)
        if balancer is not None:
            rest = 100 - sum(w for n, w in self.weights.items() if n != balancer)
            if 0 <= rest <= 100:
                self.weights[balancer] = rest
                self.query_one(f"#weight-{balancer}", Input).value = str(rest)
        self.query_one("#weights-total", Label).update(self._total_text())

    @on(Input.Submitted, ".weight-input")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        if sum(self.weights.values()) != 100:
            self.notify("weights must sum to 100", severity="warning")
            return
        self.dismiss(dict(self.weights))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
