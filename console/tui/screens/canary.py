"""An automated canary, live: each step's weights and verdict as console.ops.canary yields them; c cancels.

Cancelling puts the starting weights back (the canary does that itself);
the screen stays open until the canary has finished one way or the other,
so nobody leaves a canary running unseen; once it is over, only closing is
offered.
"""

from __future__ import annotations

import threading

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, RichLog, Static

from kanri.console.ops.canary import CanaryEvent, CanaryPlan
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.guard import post, reason

KIND_STYLE = {"promoted": "bold green", "rolled-back": "bold red", "cancelled": "yellow", "passed": "green"}
FINAL = frozenset({"promoted", "rolled-back", "cancelled"})
KEYS = {True: "[b]c[/b] cancel (the starting weights come back)   [b]escape[/b] close once it is over",
        False: "[b]escape[/b] close"}


def weights_text(weights: dict[str, int]) -> str:
    return " / ".join(f"{name} {weight}%" for name, weight in weights.items())


class CanaryScreen(ModalScreen[None]):
    BINDINGS = [Binding("c", "cancel", "Cancel the canary"), Binding("escape", "close", "Close")]

    def __init__(self, data: ConsoleData, plan: CanaryPlan) -> None:
        super().__init__()
        self.data = data
        self.plan = plan
        self.stop = threading.Event()
        self.finished = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"Canary of {self.plan.app}/{self.plan.canary} at {self.plan.level}: steps "
                        f"{', '.join(f'{s}%' for s in self.plan.steps)} every {self.plan.interval_seconds:g}s",
                        classes="dialog-title")
            yield Static("starting…", id="canary-weights")
            yield RichLog(id="canary-log", max_lines=500, wrap=True)
            yield Static(KEYS[True], id="canary-keys")

    def on_mount(self) -> None:
        self.run()

    @work(thread=True, exclusive=True, group="canary")
    def run(self) -> None:
        try:
            for event in self.data.canary(self.plan, self.stop):
                post(self, self._show, event)
        except Exception as exc:  # the boundary: a refused plan or a failing cluster is said, not raised
            post(self, self._failed, reason(exc))
        post(self, self._over)

    def _show(self, event: CanaryEvent) -> None:
        self.query_one("#canary-weights", Static).update(f"weights now: {weights_text(event.weights)}")
        self.query_one("#canary-log", RichLog).write(
            Text.assemble((f"{event.kind:<12}", KIND_STYLE.get(event.kind, "")), event.message))

    def _failed(self, message: str) -> None:
        self.query_one("#canary-log", RichLog).write(Text(f"stopped: {message}", style="bold red"))

    def _over(self) -> None:
        self.finished = True
        self.query_one("#canary-log", RichLog).write(Text("the canary is over; escape closes", style="dim"))
        self.query_one("#canary-keys", Static).update(KEYS[False])
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "cancel" and self.finished)

    def action_cancel(self) -> None:
        self.stop.set()
        self.query_one("#canary-log", RichLog).write(Text("cancelling…", style="yellow"))

    def action_close(self) -> None:
        if self.finished:
            self.dismiss()
        else:
            self.notify("the canary is still running: c cancels it (and restores the weights)", severity="warning")
