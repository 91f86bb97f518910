"""Live tail of an application, service or pod, as toolong tails a file: follow, level, search, back in time.

A thread worker searches, then polls the log source from its cursor every
`refresh` seconds; each page reaches the screen as one message and is written
with one `Log.write_lines` call, so thousands of lines a second cost one
update per poll. A change of filter starts a new query generation: the worker
searches again, and pages of older generations are dropped on arrival. When
nothing matches, the screen says so, and since when: the oldest line it has
seen, which the search reached back to at least.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime

from rich.highlighter import Highlighter
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Log, Static
from textual.worker import get_current_worker

from kanri.console.errors import KanriError
from kanri.console.moments import moment
from kanri.console.telemetry import LogLine, LogPage, LogQuery, TelemetryUnavailable, levels_at_least
from kanri.console.telemetry.types import LEVELS
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.fit import NARROW, shorten
from kanri.console.tui.focus import focus_now, opener, skip_while_typing
from kanri.console.tui.widgets.fit_line import FitLine
from kanri.console.tui.widgets.key_footer import KeyFooter

MAX_LINES = 5000
BUSY_POLL = 0.25  # seconds between polls while the last poll brought lines
LEVEL_CYCLE = (None, "info", "warning", "error")  # None: every level
TIME_WIDTH = len("00:00:00.000")
LEVEL_WIDTH = 8
NARROW_POD_WIDTH = 20  # under NARROW columns, so that a line keeps room for its message
LEVEL_STYLES = {"critical": "bold reverse red", "error": "bold red", "warning": "yellow", "debug": "dim",
                "raw": "dim"}
SEARCH_STYLE = "bold reverse"  # reverse survives NO_COLOR


def now() -> datetime:
    """The clock the screen opens by; snapshot tests fix it."""
    return datetime.now(UTC)


def nothing_matched(query: LogQuery, min_level: str | None, since: datetime) -> str:
    """`no error or critical lines since 2026-12-04 18:12:40 UTC; e shows every level again`."""
    levels = [level for level in LEVELS if level in query.levels]
    kinds = " or ".join([", ".join(levels[:-1]), levels[-1]] if len(levels) > 1 else levels)
    what = f"no {kinds} lines" if kinds else "no lines"
    if query.text:
        what += f" matching {query.text!r}"
    what += f" before {query.until:%Y-%m-%d %H:%M:%S %Z}" if query.until else f" since {since:%Y-%m-%d %H:%M:%S %Z}"
    hints = []
    if min_level:
        hints.append("e shows every level again" if min_level == "error" else "l changes the level")
    if query.text:
        hints.append("/ changes the search")
    if query.until:
        hints.append("f goes live")
    return "; ".join([what, *hints])


def format_line(line: LogLine, pod_width: int = 0) -> str:
    """One line as the tail shows it: time, level, pod (shortened in the middle to `pod_width`, if given),
    message; the line's own newlines become spaces."""
    message = " ".join(line.message.splitlines())
    pod = shorten(line.pod, pod_width) if pod_width else line.pod
    return f"{line.timestamp:%H:%M:%S.%f}"[:TIME_WIDTH] + f" {line.level:<{LEVEL_WIDTH}} {pod}  {message}"


class LineHighlighter(Highlighter):
    """Colours the level column and marks every search word, case-insensitively."""

    def __init__(self) -> None:
        self.words: list[str] = []

    def highlight(self, text: Text) -> None:
        start = TIME_WIDTH + 1
        level = text.plain[start:start + LEVEL_WIDTH].strip()
        if style := LEVEL_STYLES.get(level):
            text.stylize(style, start, start + len(level))
        if self.words:
            text.highlight_words(self.words, SEARCH_STYLE, case_sensitive=False)


class LogsArrived(Message):
    """A page (or why there is none) for query `generation`; `fresh` pages answer a search and replace the log."""

    def __init__(self, generation: int, page: LogPage | TelemetryUnavailable, lines: list[str],
                 fresh: bool) -> None:
        super().__init__()
        self.generation = generation
        self.page = page
        self.lines = lines
        self.fresh = fresh


class LogsScreen(Screen):
    DEFAULT_CSS = """
    LogsScreen #logs-title { height: 1; background: $panel; padding: 0 1; }
    LogsScreen #logs-log { height: 1fr; }
    LogsScreen #logs-empty { display: none; height: auto; padding: 1 2; color: $text-muted; }
    LogsScreen #logs-input { display: none; }
    LogsScreen #logs-input.-open { display: block; }
    LogsScreen #logs-status { background: $panel; padding: 0 1; }
    """

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("e", "toggle_errors", "Errors"),
        Binding("l", "cycle_level", "Level"),
        opener("slash", "search", "Search"),
        opener("b", "back_in_time", "Jump back"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, data: ConsoleData, app: str, service: str | None = None, pod: str | None = None,
                 refresh: float = 2.0, max_lines: int = MAX_LINES) -> None:
        super().__init__()
        self.data = data
        self.refresh_seconds = refresh
        self.max_lines = max_lines
        self.following = True
        self.min_level: str | None = None
        self.unavailable = ""
        self._held: deque[str] = deque(maxlen=max_lines)  # lines that arrived while not following
        self._input_mode = ""  # "search" or "back" while the input is open
        self.pod_width = 0  # pod names are shortened to this in lines formatted from now on (0: not at all)
        self._searching = True  # from a new query until its first page
        self._why = Text()  # what the empty log says
        self._oldest = now()  # the oldest moment any page reached back to; the screen's opening until one does
        self._wake = threading.Event()
        self._highlighter = LineHighlighter()
        # (generation, query), replaced as a whole so the worker reads a consistent pair.
        self._wanted = (0, LogQuery(app, service=service, pod=pod, limit=max_lines))

    @property
    def current_query(self) -> LogQuery:
        return self._wanted[1]

    @property
    def tail(self) -> Log:
        return self.query_one("#logs-log", Log)

    def compose(self) -> ComposeResult:
        q = self.current_query
        yield Static("logs of " + "/".join(p for p in (q.app, q.service, q.pod) if p), id="logs-title")
        log = Log(max_lines=self.max_lines, highlight=True, id="logs-log")
        log.highlighter = self._highlighter
        yield Static(id="logs-empty")
        yield log
        yield Input(id="logs-input")
        yield FitLine(id="logs-status", separator="  │  ")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._fit_pods(self.app.size.width)  # before the first page is formatted
        self.tail.focus()
        self._show_status()
        self._tail()

    def on_resize(self, event: events.Resize) -> None:
        self._fit_pods(event.size.width)

    def _fit_pods(self, width: int) -> None:
        self.pod_width = NARROW_POD_WIDTH if width < NARROW else 0

    def on_unmount(self) -> None:
        self._wake.set()  # the worker is cancelled with the screen; let it see that now

    @work(thread=True, exclusive=True, group="logs-tail")
    def _tail(self) -> None:
        worker = get_current_worker()
        generation, cursor = -1, None
        while not worker.is_cancelled:
            self._wake.clear()
            wanted, query = self._wanted
            if wanted != generation:
                generation, cursor = wanted, None
            fresh = cursor is None
            page = self.data.search_logs(query) if fresh else self.data.poll_logs(query, cursor)
            lines: list[str] = []
            if isinstance(page, LogPage):
                cursor = page.cursor
                # Only the last max_lines can be shown: format no more than those, here, off the UI thread.
                lines = [format_line(line, self.pod_width) for line in page.lines[-self.max_lines:]]
            self.post_message(LogsArrived(generation, page, lines, fresh))
            if not (isinstance(page, LogPage) and page.more):
                # While lines flow, poll sooner: small pages cost the UI thread short pauses, not one long one.
                self._wake.wait(min(self.refresh_seconds, BUSY_POLL) if lines else self.refresh_seconds)

    @on(LogsArrived)
    def _arrived(self, message: LogsArrived) -> None:
        if message.generation != self._wanted[0]:
            return
        self._searching = False
        if isinstance(message.page, TelemetryUnavailable):
            self.unavailable = message.page.reason
        else:
            self.unavailable = ""
            if message.page.lines:
                self._oldest = min(self._oldest, message.page.lines[0].timestamp)
            if message.fresh:  # a new query's answer: shown up to its newest line, following or not
                self.tail.clear()
                self._held.clear()
                self.tail.write_lines(message.lines, scroll_end=True)
            elif self.following:
                self.tail.write_lines(message.lines)
            else:
                self._held.extend(message.lines)
        self._show_status()

    def _requery(self, **changes: object) -> None:
        """Start a new query generation: the log empties and the worker searches at once."""
        generation, query = self._wanted
        self._wanted = (generation + 1, replace(query, **changes))
        self._highlighter.words = self.current_query.text.split()
        self.tail.clear()
        self._held.clear()
        self._searching = True
        self._wake.set()
        self._show_status()

    def _show_status(self) -> None:
        q = self.current_query
        held = f"paused, {len(self._held)} new" if self._held else "paused"
        parts = ["following" if self.following else held,
                 f"level ≥ {self.min_level}" if self.min_level else "all levels"]
        if q.text:
            parts.append(f"search {q.text!r}")
        if q.until:
            parts.append(f"until {q.until:%Y-%m-%d %H:%M:%S %Z}")
        count = self.tail.line_count
        parts.append(f"{count} line" + ("" if count == 1 else "s"))
        unavailable = Text(f"unavailable: {self.unavailable}" if self.unavailable else "", style="red")
        self.query_one("#logs-status", FitLine).show(parts, unavailable)
        self._show_empty()

    def _show_empty(self) -> None:
        """Over an empty log, why it is empty: still searching, the source failing, or nothing matched."""
        if self.tail.line_count or self._held:
            why = Text()
        elif self._searching:
            why = Text("searching…")
        elif self.unavailable:
            why = Text(f"the log source is unavailable: {self.unavailable}", style="red")
        else:
            why = Text(nothing_matched(self.current_query, self.min_level, self._oldest))
        empty = self.query_one("#logs-empty", Static)
        if why != self._why:  # as the status: lay out again only for something new
            self._why = why
            empty.update(why)
            empty.display = bool(why)

    def _set_level(self, level: str | None) -> None:
        self.min_level = level
        self._requery(levels=levels_at_least(level) if level else frozenset())

    def action_toggle_errors(self) -> None:
        self._set_level(None if self.min_level == "error" else "error")

    def action_cycle_level(self) -> None:
        self._set_level(LEVEL_CYCLE[(LEVEL_CYCLE.index(self.min_level) + 1) % len(LEVEL_CYCLE)])

    def action_toggle_follow(self) -> None:
        if self.current_query.until is not None:  # looking back: following means going live again
            self.following = self.tail.auto_scroll = True
            self._requery(until=None)
            return
        self.following = not self.following
        self.tail.auto_scroll = self.following
        if self.following:
            self.tail.write_lines(list(self._held))
            self._held.clear()
            self.tail.scroll_end(animate=False)
        self._show_status()

    def _open_input(self, mode: str, placeholder: str, value: str) -> None:
        self._input_mode = mode
        field = self.query_one("#logs-input", Input)
        field.placeholder = placeholder
        field.value = value
        field.add_class("-open")
        focus_now(field)

    def _close_input(self) -> None:
        self._input_mode = ""
        self.query_one("#logs-input", Input).remove_class("-open")
        self.tail.focus()

    def action_search(self) -> None:
        skip_while_typing(self)
        self._open_input("search", "search: words that must all appear (enter: apply, empty: clear)",
                         self.current_query.text)

    def action_back_in_time(self) -> None:
        skip_while_typing(self)
        self._open_input("back", "how far back, e.g. 15m, 2h, or a time 2026-11-23T10:00 (empty: live)", "")

    def action_close(self) -> None:
        if self._input_mode:
            self._close_input()
        else:
            self.app.pop_screen()

    @on(Input.Submitted, "#logs-input")
    def _submitted(self, event: Input.Submitted) -> None:
        mode, value = self._input_mode, event.value.strip()
        if mode == "search":
            self._close_input()
            self._requery(text=value)
            return
        try:
            until: datetime | None = moment(value, "back in time to")
        except KanriError as exc:
            self.notify(str(exc), severity="error")
            return
        self._close_input()
        self.following = until is None
        self.tail.auto_scroll = self.following
        self._requery(until=until)
