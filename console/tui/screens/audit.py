"""The audit trail (who changed what, newest first) and one service's promotion history, refreshed live.

Both are a table read from the registry in a thread worker every `refresh`
seconds; a refresh updates only the cells that changed (dolphie's way) and
rebuilds only when rows came or went, keeping the cursor on its row. Columns
fit the width (console/tui/widgets/fitted_table.py); the status line says in
full what the cursor's row shows shortened.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input

from kanri.console.moments import duration
from kanri.console.ops.audit import Tenure, change_summary
from kanri.console.ops.views import AuditView
from kanri.console.telemetry.bounded import describe
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.fit import Spec
from kanri.console.tui.focus import focus_now, opener, skip_while_typing
from kanri.console.tui.widgets.fit_line import FitLine
from kanri.console.tui.widgets.fitted_table import FittedTable
from kanri.console.tui.widgets.key_footer import KeyFooter

Row = tuple[str | Text, ...]
RESULT_STYLES = {"ok": "green", "refused": "yellow", "cluster-failed": "bold red"}


def now() -> datetime:
    """The clock a tenure that still lasts is measured against; snapshot tests fix it."""
    return datetime.now(UTC)


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
    RefreshedTable .table-title { background: $panel; padding: 0 1; }
    RefreshedTable FittedTable { height: 1fr; }
    RefreshedTable #table-filter { display: none; }
    RefreshedTable #table-filter.-open { display: block; }
    RefreshedTable .table-status { background: $panel; padding: 0 1; }
    """

    COLUMNS: tuple[Spec, ...] = ()
    BINDINGS = [Binding("r", "reload", "Refresh"), Binding("escape", "close", "Close")]

    def __init__(self, data: ConsoleData, refresh: float = 2.0) -> None:
        super().__init__()
        self.data = data
        self.refresh_seconds = refresh
        self.unavailable = ""

    def title_text(self) -> str:
        raise NotImplementedError

    def read(self) -> dict[str, Row]:
        """The rows to show, by key, in order; called off the UI thread."""
        raise NotImplementedError

    @property
    def table(self) -> FittedTable:
        return self.query_one(FittedTable)

    def compose(self) -> ComposeResult:
        yield FitLine(prose=self.title_text(), classes="table-title")
        yield FittedTable(self.COLUMNS, cursor_type="row", zebra_stripes=True)
        yield Input(id="table-filter")
        yield FitLine(classes="table-status")
        yield KeyFooter()

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
            self.table.show(message.rows)
        self._show_status()

    @on(DataTable.RowHighlighted)
    def _show_status(self) -> None:
        """How many rows and how often; then why the registry cannot be read, or the cursor's row in full
        where its cells are shortened."""
        count = len(self.table.row_keys)
        parts = [*self.status_parts(), f"{count} row{'' if count == 1 else 's'}, every {self.refresh_seconds:g}s"]
        prose = (Text(f"unavailable: {self.unavailable}", style="red") if self.unavailable
                 else " · ".join(self.table.cut_in(self.selected_key())))
        self.query_one(".table-status", FitLine).show(parts, prose)

    def status_parts(self) -> list[str]:
        """What the status line says before the row count."""
        return []

    def selected_key(self) -> str | None:
        return self.table.cursor_key()


class AuditScreen(RefreshedTable):
    COLUMNS = (Spec("#", "#", rank=4), Spec("time", "time"), Spec("actor", "actor", rank=3, kind="name", least=6),
               Spec("action", "action"), Spec("target", "target", kind="name", least=14), Spec("result", "result"),
               Spec("change", "change", rank=1, kind="text", least=17),
               Spec("error", "error", rank=2, kind="text", least=16))
    BINDINGS = [opener("slash", "filter", "Filter target"), Binding("h", "history", "History")]

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

    def status_parts(self) -> list[str]:
        return [f"target {self.target_prefix}…"] if self.target_prefix else []

    def action_filter(self) -> None:
        skip_while_typing(self)
        field = self.query_one("#table-filter", Input)
        field.placeholder = "target starts with, e.g. digits/ or digits/digits-prod (empty: all)"
        field.value = self.target_prefix
        field.add_class("-open")
        focus_now(field)

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

    COLUMNS = (Spec("model", "model"), Spec("since", "since"), Spec("until", "until"), Spec("for", "for", rank=1),
               Spec("by", "by", rank=2, kind="name", least=6), Spec("how", "how", rank=1))

    def __init__(self, data: ConsoleData, app: str, service: str, refresh: float = 2.0) -> None:
        super().__init__(data, refresh)
        self.app_name = app
        self.service = service

    def title_text(self) -> str:
        return f"promotion history of {self.app_name}/{self.service}, newest first"

    def read(self) -> dict[str, Row]:
        at = now()
        return {f"{t.since.isoformat()}-v{t.model_version}": tenure_row(t, at)
                for t in self.data.service_history(self.app_name, self.service)}


def tenure_row(tenure: Tenure, now: datetime) -> Row:
    until = when(tenure.until) if tenure.until else Text("now", style="bold green")
    held = duration(((tenure.until or now) - tenure.since).total_seconds())
    return f"v{tenure.model_version}", when(tenure.since), until, held, tenure.actor, tenure.action
