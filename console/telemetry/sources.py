"""The two seams the console reads telemetry through, and `follow` written once over any LogSource.

Implementations: PrometheusMetrics and ScrapeMetrics; ElasticsearchLogs,
KubernetesPodLogs and LocalFileLogs. Every method returns within the source's
timeout and never raises: failures come back as TelemetryUnavailable. Methods
are safe to call from several threads (the console calls them from workers).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from kanri.console.telemetry.types import LogPage, LogQuery, MetricsHistory, MetricsSnapshot, TelemetryUnavailable


@runtime_checkable
class MetricsSource(Protocol):
    def snapshot(self, app: str, service: str | None = None) -> MetricsSnapshot | TelemetryUnavailable:
        """Figures now for every service of `app` (or one service) and their pods."""

    def history(self, app: str, service: str | None = None, window_seconds: float = 300.0,
                step_seconds: float = 10.0) -> MetricsHistory | TelemetryUnavailable:
        """The same figures as series over the last `window_seconds`."""


@runtime_checkable
class LogSource(Protocol):
    def search(self, query: LogQuery) -> LogPage | TelemetryUnavailable:
        """The newest `query.limit` matching lines (before `query.until` when set), oldest first."""

    def poll(self, query: LogQuery, cursor: object) -> LogPage | TelemetryUnavailable:
        """Matching lines that arrived after `cursor`, each exactly once across successive polls."""


def follow(source: LogSource, query: LogQuery, interval: float = 1.0,
           stop: threading.Event | None = None) -> Iterator[LogPage | TelemetryUnavailable]:
    """The last lines, then new lines as they arrive, until `stop` is set.

    An unavailable source is reported and retried at the next interval from the
    same cursor, so nothing is lost or repeated across an outage.
    """
    stop = stop or threading.Event()
    cursor: object = None
    while not stop.is_set():
        page = source.search(query) if cursor is None else source.poll(query, cursor)
        if isinstance(page, LogPage):
            cursor = page.cursor
        yield page
        if not (isinstance(page, LogPage) and page.more):
            stop.wait(interval)
