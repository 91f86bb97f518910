"""The audit trail (who changed what, newest first) and one service's promotion history, refreshed live.

Both are a table read from the registry in a thread worker every `refresh`
seconds; a refresh updates only the cells that changed (dolphie's way) and
rebuilds only when rows came or went, keeping the cursor on its row.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from console.moments import duration
from console.ops.audit import Tenure, change_summary
from console.ops.views import AuditView
from console.telemetry.bounded import describe
from console.tui.data import ConsoleData

Row = tuple[str | Text, ...]
RESULT_STYLES = {"ok": "green", "refused": "yellow", "cluster-failed": "bold red"}


def when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


class RowsLoaded(Message):
    """Rows by key in display order, or why the registry could not be read."""

    def __init__(self, rows: dict[str, Row] | str) -> None:
        super().__init__()
        self.rows = rows


class RefreshedTable(Screen):
    """A table filled by `read()` (blocking, run in a thread worker) now and every `refresh` seconds."""

    DEFAULT_CSS = """
    RefreshedTable .table-title { height: 1; background: $panel; padding: 0 1; }
    RefreshedTable DataTable { height: 1fr; }
    RefreshedTable #table-filter { display: none; }
    RefreshedTable #table-filter.-open { display: block; }
    RefreshedTable .table-status { height: 1; background: $panel; padding: 0 1; }
    """

    COLUMNS: tuple[str, ...] = ()
    BINDINGS = [Binding("r", "reload", "Refresh"), Binding("escape", "close", "Close")]

    def __init__(self, data: ConsoleData, refresh: float = 2.0) -> None:
        super().__init__()
        self.data = data
        self.refresh_seconds = refresh
        self.unavailable = ""
        self._rows: dict[str, Row] = {}

    def title_text(self) -> str:
        raise NotImplementedError

    def read(self) -> dict[str, Row]:
        """The rows to show, by key, in order; called off the UI thread."""
        raise NotImplementedError

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), classes="table-title")
        table = DataTable(cursor_type="row", zebra_stripes=True)
        for name in self.COLUMNS:
            table.add_column(name, key=name)
        yield table
        yield Input(id="table-filter")
        yield Static(classes="table-status")
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()
        self.action_reload()
        self.set_interval(self.refresh_seconds, self.action_reload)

    def action_reload(self) -> None:
        self._load()

    def action_close(self) -> None:
        self.app.pop_screen()

    @work(thread=True, exclusive=True, group="table-load")
    def _load(self) -> None:
        try:
            rows: dict[str, Row] | str = self.read()
        except Exception as exc:  # any registry failure is shown, never raised into the UI
            rows = describe(exc)
        self.post_message(RowsLoaded(rows))

    @on(RowsLoaded)
    def _loaded(self, message: RowsLoaded) -> None:
        if isinstance(message.rows, str):
            self.unavailable = message.rows
        else:
            self.unavailable = ""
            self._show(message.rows)
        self.query_one(".table-status", Static).update(self.status_text())

    def status_text(self) -> str:
        text = f"{len(self._rows)} rows, every {self.refresh_seconds:g}s"
        return text + (f"  │  unavailable: {self.unavailable}" if self.unavailable else "")

    def selected_key(self) -> str | None:
        if not self._rows or self.table.row_count == 0:
            return None
        return list(self._rows)[min(self.table.cursor_row, len(self._rows) - 1)]

    def _show(self, rows: dict[str, Row]) -> None:
        table = self.table
        if list(rows) != list(self._rows):
            keep = self.selected_key()
            table.clear()
            for key, row in rows.items():
                table.add_row(*row, key=key)
            if keep in rows:
                table.move_cursor(row=list(rows).index(keep), animate=False)
        else:
            for key, row in rows.items():
                for column, old, new in zip(self.COLUMNS, self._rows[key], row, strict=True):
                    if old != new:
                        table.update_cell(key, column, new)
        self._rows = rows


class AuditScreen(RefreshedTable):
    COLUMNS = ("#", "time", "actor", "action", "target", "result", "change", "error")
    BINDINGS = [Binding("slash", "filter", "Filter target"), Binding("h", "history", "History")]

    def __init__(self, data: ConsoleData, refresh: float = 2.0, limit: int = 500) -> None:
        super().__init__(data, refresh)
        self.limit = limit
        self.target_prefix = ""
        self._events: dict[str, AuditView] = {}

    def title_text(self) -> str:
        return "audit trail, newest first"

    def read(self) -> dict[str, Row]:
        events = self.data.audit_trail(target=self.target_prefix or None, limit=self.limit)
        self._events = {str(e.id): e for e in events}
        return {str(e.id): (str(e.id), when(e.time), e.actor, e.action, e.target,
                            Text(e.result, style=RESULT_STYLES.get(e.result, "")), change_summary(e), e.error)
                for e in events}

    def status_text(self) -> str:
        shown = f"target {self.target_prefix}…  │  " if self.target_prefix else ""
        return shown + super().status_text()

    def action_filter(self) -> None:
        field = self.query_one("#table-filter", Input)
        field.placeholder = "target starts with, e.g. digits/ or digits/digits-prod (empty: all)"
        field.value = self.target_prefix
        field.add_class("-open")
        field.focus()

    def action_close(self) -> None:
        field = self.query_one("#table-filter", Input)
        if field.has_class("-open"):
            field.remove_class("-open")
            self.table.focus()
        else:
            super().action_close()

    @on(Input.Submitted, "#table-filter")
    def _filter(self, event: Input.Submitted) -> None:
        self.target_prefix = event.value.strip()
        event.input.remove_class("-open")
        self.table.focus()
        self.action_reload()

    def action_history(self) -> None:
        event = self._events.get(self.selected_key() or "")
        if event is None or not event.action.startswith("service.") or "/" not in event.target:
            self.notify("select a service.* event to see that service's history", severity="warning")
            return
        app, service = event.target.split("/", 1)
        self.app.push_screen(HistoryScreen(self.data, app, service, self.refresh_seconds))


class HistoryScreen(RefreshedTable):
    """Which model version the service ran, from when to when, and who promoted it."""

    COLUMNS = ("model", "since", "until", "for", "by", "how")

    def __init__(self, data: ConsoleData, app: str, service: str, refresh: float = 2.0) -> None:
        super().__init__(data, refresh)
        self.app_name = app
        self.service = service

    def title_text(self) -> str:
        return f"promotion history of {self.app_name}/{self.service}, newest first"

    def read(self) -> dict[str, Row]:
        now = datetime.now(UTC)
        return {f"{t.since.isoformat()}-v{t.model_version}": tenure_row(t, now)
                for t in self.data.service_history(self.app_name, self.service)}


def tenure_row(tenure: Tenure, now: datetime) -> Row:
    until = when(tenure.until) if tenure.until else Text("now", style="bold green")
    held = duration(((tenure.until or now) - tenure.since).total_seconds())
    return f"v{tenure.model_version}", when(tenure.since), until, held, tenure.actor, tenure.action
