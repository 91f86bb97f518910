"""Sync with the cluster: what it really runs against what the registry wants, and a key to converge.

The key is offered only when there is something to converge and the console may change things."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from kanri.console.ops.sync import Drift
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.fit import Spec
from kanri.console.tui.guard import attempt, post
from kanri.console.tui.screens.confirm import ConfirmScreen
from kanri.console.tui.widgets.fitted_table import FittedTable

COLUMNS = (Spec("target", "target", kind="name", least=14), Spec("field", "field"),
           Spec("registry wants", "registry wants", "wants", kind="text"),
           Spec("cluster has", "cluster has", "has", kind="text"), Spec("cluster", "cluster", rank=1, kind="name"))


class DriftScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("f", "fix", "Fix (apply the registry again)"),
                Binding("r", "reload", "Reload")]

    def __init__(self, data: ConsoleData) -> None:
        super().__init__()
        self.data = data
        self.found: list[Drift] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Sync: registry against cluster", classes="dialog-title")
            yield Static("reading the cluster…", id="drift-status")
            yield FittedTable(COLUMNS, id="drift-table", cursor_type="row")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "fix" and (self.data.read_only or not self.found))

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.load(fix=False)

    def action_fix(self) -> None:
        def confirmed(go: bool | None) -> None:
            if go:
                self.load(fix=True)

        self.app.push_screen(ConfirmScreen("Apply the registry's desired state again?",
                                           f"{len(self.found)} differences; each drifted service and route is "
                                           "applied again (services roll as for a switch)."), confirmed)

    @work(thread=True, exclusive=True, group="drift")
    def load(self, fix: bool) -> None:
        if fix:
            fixed, error = attempt(self.data.sync_fix)
            if fixed is None:
                post(self, self._status, f"not applied: {error}")
                return
            post(self, self.notify, f"applied again: {len(fixed)} differences")
        found, error = attempt(self.data.drift)
        if found is None:
            post(self, self._status, f"unavailable: {error}")
            return
        post(self, self._show, found)

    def _status(self, text: str) -> None:
        self.query_one("#drift-status", Static).update(text)

    def _show(self, found: list[Drift]) -> None:
        self.found = found
        self.refresh_bindings()
        fix = "" if self.data.read_only else "; f applies the registry's state again"
        self._status("in sync: the cluster runs what the registry wants" if not found
                     else f"{len(found)} difference{'' if len(found) == 1 else 's'}{fix}")
        table = self.query_one("#drift-table", FittedTable)
        table.display = bool(found)
        table.show({f"{d.target} {d.field} {d.cluster}": (d.target, d.field, str(d.desired), str(d.actual), d.cluster)
                    for d in found})
