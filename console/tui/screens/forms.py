"""Small forms that return typed values: a few labelled fields, checked before they are handed back.

A field is one line, its label beside a compact input, so a form of three fields fits 80×24."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from kanri.console import moments
from kanri.console.errors import Invalid


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    value: str = ""
    parse: Callable[[str], Any] = str  # raises ValueError with a message for a bad value


def whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if not low <= number <= high:
            raise ValueError(f"{number} is outside {low}..{high}")
        return number

    return parse


def positive_number(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not 0 < number < math.inf:  # nan too
        raise ValueError(f"{text} is not a number above 0")
    return number


def one_of(words: tuple[str, ...]) -> Callable[[str], str]:
    """A choice typed as one of a few words (any case), so a form stays a column of inputs."""

    def parse(text: str) -> str:
        if text.lower() not in words:
            raise ValueError(f"{text!r} is not one of {', '.join(words)}")
        return text.lower()

    return parse


def seconds(text: str) -> float:
    """A duration as the CLI takes it (30s, 5m, 1h), in seconds."""
    try:
        return moments.seconds(text, "")
    except Invalid as exc:
        raise ValueError(str(exc).strip()) from None  # the form names the field


def percent_steps(text: str) -> list[int]:
    """"5,25,50,100": rising percentages ending at 100."""
    try:
        steps = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValueError(f"{text!r} is not a list of whole percentages like 5,25,50,100") from None
    if not steps or steps != sorted(set(steps)) or steps[0] < 1 or steps[-1] != 100:
        raise ValueError("steps must rise from at least 1 and end at 100")
    return steps


def buttons(ok: str, variant: str = "primary") -> ComposeResult:
    """The dialogs' two buttons, one line high: enter and escape do the same from the keyboard."""
    with Horizontal(classes="dialog-buttons"):
        yield Button(ok, variant=variant, id="ok", compact=True)
        yield Button("Cancel", id="cancel", compact=True)


class FormScreen(ModalScreen[dict[str, Any] | None]):
    """Enter on the last field (or the OK button) submits; escape cancels with None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, fields: list[Field], note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            if self.note:
                yield Static(self.note, classes="dialog-body")
            for field in self.fields:
                with Horizontal(classes="field-row"):
                    yield Label(field.label, classes="field-label")
                    yield Input(value=field.value, id=f"field-{field.name}", compact=True, classes="field-input")
            yield Static("", id="form-error", classes="error")
            yield from buttons("OK")

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self._submit()

    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        values: dict[str, Any] = {}
        for field in self.fields:
            text = self.query_one(f"#field-{field.name}", Input).value.strip()
            try:
                values[field.name] = field.parse(text)
            except ValueError as exc:
                self.query_one("#form-error", Static).update(f"{field.label}: {exc}")
                self.query_one(f"#field-{field.name}", Input).focus()
                return
        self.dismiss(values)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
