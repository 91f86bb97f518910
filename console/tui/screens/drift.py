"""Sync with the cluster: what it really runs against what the registry wants, and a key to converge."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from console.ops.sync import Drift
from console.tui.data import ConsoleData
from console.tui.guard import attempt, post
from console.tui.screens.confirm import ConfirmScreen


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
            table = DataTable(id="drift-table", cursor_type="row")
            for column in ("target", "field", "registry wants", "cluster has", "cluster"):
                table.add_column(column, key=column)
            yield table

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "fix" and self.data.read_only)

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.load(fix=False)

    def action_fix(self) -> None:
        if not self.found:
            self.notify("nothing to fix: the cluster runs what the registry wants")
            return

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
        self._status("in sync: the cluster runs what the registry wants" if not found
                     else f"{len(found)} differences; f applies the registry's state again")
        table = self.query_one("#drift-table", DataTable)
        table.clear()
        for d in found:
            table.add_row(d.target, d.field, str(d.desired), str(d.actual), d.cluster)
