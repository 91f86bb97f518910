"""Live rollout progress after a change: updated/ready/desired, the pods coming and going, stuck and why.

The panel stays live until it is closed: once the rollout is over the pods
are still read every `refresh` seconds, so the old pods are seen to finish
terminating and the ages keep counting. Cancel rolls back while there is a
rollout to cancel (rolling, or stuck): it switches the service to the model
it ran before, as a rollback through the operations layer, and follows that
rollout instead; once complete, only closing is offered.
"""

from __future__ import annotations

import threading
import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, ProgressBar, Static
from textual.worker import get_current_worker

from kanri.console.cluster.base import Pod, RolloutStatus
from kanri.console.moments import duration
from kanri.console.ops.views import ServiceView
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.fit import Spec
from kanri.console.tui.guard import attempt, post, reason
from kanri.console.tui.screens.confirm import ConfirmScreen
from kanri.console.tui.widgets.fitted_table import FittedTable

clock = time.monotonic  # how long the rollout has taken; snapshot tests fix it
COLUMNS = (Spec("pod", "pod", kind="name", least=14), Spec("model", "model"), Spec("status", "status"),
           Spec("ready", "ready"), Spec("age", "age", rank=1))
KEYS = {True: "[b]c[/b] cancel = roll back   [b]escape[/b] close (the rollout goes on)",
        False: "[b]escape[/b] close"}


def pod_row(pod: Pod) -> tuple[str, ...]:
    return (pod.name, "" if pod.model_version is None else f"v{pod.model_version}", pod.status,
            "1/1" if pod.ready else "0/1", duration(pod.age_seconds))


class RolloutScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close (keeps rolling)"), Binding("c", "cancel", "Cancel = roll back")]

    def __init__(self, data: ConsoleData, app: str, service: ServiceView, change: str, refresh: float = 2.0) -> None:
        super().__init__()
        self.data = data
        self.app_name = app
        self.service = service
        self.change = change
        self.refresh_seconds = refresh
        self.started = clock()
        self.took: float | None = None  # set when the rollout completes: its time stops counting
        self._gone = threading.Event()

    @property
    def complete(self) -> bool:
        return self.took is not None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self._title(), classes="dialog-title")
            yield ProgressBar(total=max(self.service.replicas, 1), show_eta=False, id="rollout-progress")
            yield Static("waiting for the cluster…", id="rollout-status")
            yield FittedTable(COLUMNS, id="rollout-pods", cursor_type="none")
            yield Static(KEYS[True], id="rollout-keys")

    def _title(self) -> str:
        return f"Rollout of {self.app_name}/{self.service.name}: {self.change}"

    def on_mount(self) -> None:
        self.follow()

    def on_unmount(self) -> None:
        self._gone.set()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "cancel" and self.complete)

    @work(thread=True, exclusive=True, group="rollout")
    def follow(self) -> None:
        """The rollout's steps as the cluster reports them, then the pods every `refresh` seconds until the
        panel closes (or another rollout, a rollback, is followed instead)."""
        worker = get_current_worker()
        try:
            for status in self.data.rollout(self.app_name, self.service.name):
                post(self, self._show, status, self.data.pods(self.app_name, self.service.name))
                if status.converged or status.stuck:
                    break
        except Exception as exc:  # the boundary: a failing cluster or registry is said, not raised
            post(self, self._fail, reason(exc))
        while not self._gone.wait(self.refresh_seconds) and not worker.is_cancelled:
            pods, error = attempt(lambda: self.data.pods(self.app_name, self.service.name))
            if pods is None:
                post(self, self._fail, error)
            else:
                post(self, self._show_pods, pods)

    def _show(self, status: RolloutStatus, pods: list[Pod]) -> None:
        if status.converged and self.took is None:
            self.took = clock() - self.started
            self.query_one("#rollout-keys", Static).update(KEYS[False])
            self.refresh_bindings()
        bar = self.query_one("#rollout-progress", ProgressBar)
        bar.update(total=max(status.desired, 1), progress=min(status.updated, status.desired))
        seconds = self.took if self.took is not None else clock() - self.started
        text = Text(f"updated {status.updated}/{status.desired}  ready {status.ready}/{status.desired}  "
                    f"available {status.available}  ({seconds:.0f}s)")
        if status.converged:
            text.append("\nrollout complete", style="bold green")
        elif status.stuck:
            text.append(f"\nstuck: {status.stuck}", style="bold red")
            text.append("\npress c to roll back")
        elif status.message:
            text.append(f"\n{status.message}")
        self.query_one("#rollout-status", Static).update(text)
        self._show_pods(pods)

    def _show_pods(self, pods: list[Pod]) -> None:
        self.query_one("#rollout-pods", FittedTable).show({pod.name: pod_row(pod) for pod in pods})

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
        post(self, self._restart)

    def _restart(self) -> None:
        self.started, self.took = clock(), None
        self.query_one(".dialog-title", Label).update(self._title())
        self.query_one("#rollout-keys", Static).update(KEYS[True])
        self.refresh_bindings()
        self.follow()
