"""Live rollout progress after a change: updated/ready/desired, the pods coming and going, stuck and why.

Cancel rolls back: it switches the service to the model it ran before, as a
rollback through the operations layer, and follows that rollout instead.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, ProgressBar, Static

from console.cluster.base import Pod, RolloutStatus
from console.moments import duration
from console.ops.views import ServiceView
from console.tui.data import ConsoleData
from console.tui.guard import attempt, post, reason
from console.tui.screens.confirm import ConfirmScreen


class RolloutScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close (keeps rolling)"), Binding("c", "cancel", "Cancel = roll back")]

    def __init__(self, data: ConsoleData, app: str, service: ServiceView, change: str) -> None:
        super().__init__()
        self.data = data
        self.app_name = app
        self.service = service
        self.change = change
        self.started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"Rollout of {self.app_name}/{self.service.name}: {self.change}", classes="dialog-title")
            yield ProgressBar(total=max(self.service.replicas, 1), show_eta=False, id="rollout-progress")
            yield Static("waiting for the cluster…", id="rollout-status")
            table = DataTable(id="rollout-pods", cursor_type="none")
            for column in ("pod", "model", "status", "ready", "age"):
                table.add_column(column, key=column)
            yield table
            yield Label("[b]c[/b] cancel = roll back   [b]escape[/b] close (the rollout goes on)")

    def on_mount(self) -> None:
        self.follow()

    @work(thread=True, exclusive=True, group="rollout")
    def follow(self) -> None:
        try:
            for status in self.data.rollout(self.app_name, self.service.name):
                post(self, self._show, status, self.data.pods(self.app_name, self.service.name))
                if status.converged or status.stuck:
                    return
        except Exception as exc:  # the boundary: a failing cluster or registry is said, not raised
            post(self, self._fail, reason(exc))

    def _show(self, status: RolloutStatus, pods: list[Pod]) -> None:
        bar = self.query_one("#rollout-progress", ProgressBar)
        bar.update(total=max(status.desired, 1), progress=min(status.updated, status.desired))
        text = Text(f"updated {status.updated}/{status.desired}  ready {status.ready}/{status.desired}  "
                    f"available {status.available}  ({time.monotonic() - self.started:.0f}s)")
        if status.converged:
            text.append("\nrollout complete", style="bold green")
        elif status.stuck:
            text.append(f"\nstuck: {status.stuck}", style="bold red")
            text.append("\npress c to roll back")
        elif status.message:
            text.append(f"\n{status.message}")
        self.query_one("#rollout-status", Static).update(text)
        table = self.query_one("#rollout-pods", DataTable)
        table.clear()
        for pod in pods:
            table.add_row(pod.name, "" if pod.model_version is None else f"v{pod.model_version}",
                          pod.status, "1/1" if pod.ready else "0/1", duration(pod.age_seconds), key=pod.name)

    def _fail(self, message: str) -> None:
        self.query_one("#rollout-status", Static).update(Text(f"unavailable: {message}", style="red"))

    def action_cancel(self) -> None:
        def confirmed(go: bool | None) -> None:
            if go:
                self.roll_back()

        self.app.push_screen(ConfirmScreen.about(
            self.service, f"Roll back {self.app_name}/{self.service.name}?",
            f"Switch {self.service.name} back to the model it ran before this change, by a rolling update."),
            confirmed)

    @work(thread=True, exclusive=True, group="rollout")
    def roll_back(self) -> None:
        current, error = attempt(lambda: self.data.service(self.app_name, self.service.name))
        rolled, error = attempt(lambda: self.data.rollback(self.app_name, current)) if current else (None, error)
        if rolled is None:
            post(self, self.notify, error, severity="error", timeout=10)
            return
        self.service = rolled
        self.change = f"rolling back to v{rolled.model_version}"
        self.started = time.monotonic()
        post(self, self._restart)

    def _restart(self) -> None:
        self.query_one(".dialog-title", Label).update(f"Rollout of {self.app_name}/{self.service.name}: {self.change}")
        self.follow()
