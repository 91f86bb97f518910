"""Runtime log lines (serving/logs.py: one JSON object per line) as LogLines, and the query filter for
sources that filter lines themselves (local files, pod logs) rather than in a search engine.

A line that is not a JSON object (a traceback or a print() on the replica's
output) becomes a "raw" line whose identity comes from where it was read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kanri.console.telemetry.types import LogLine, LogQuery


@dataclass(frozen=True)
class Origin:
    """Where lines were read from, for lines that do not say who wrote them."""

    app: str
    service: str
    pod: str
    service_level: str = ""


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (UTC when it names no zone), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def from_record(record: dict[str, Any], origin: Origin, fallback_time: datetime) -> LogLine:
    """A runtime JSON line; fields it lacks come from its origin."""
    return LogLine(
        timestamp=parse_timestamp(record.get("@timestamp")) or fallback_time,
        level=str(record.get("level") or "info").lower(),
        app=str(record.get("app") or origin.app),
        service=str(record.get("service") or origin.service),
        service_level=str(record.get("service_level") or origin.service_level),
        pod=str(record.get("pod") or origin.pod),
        message=str(record.get("message", "")),
        fields=record)


def parse_line(text: str, origin: Origin, fallback_time: datetime) -> LogLine:
    """One line of a replica's output; `fallback_time` dates lines that carry no timestamp."""
    text = text.rstrip("\r\n")
    record = _json_object(text)
    if record is not None:
        return from_record(record, origin, fallback_time)
    return LogLine(fallback_time, "raw", origin.app, origin.service, origin.service_level, origin.pod, text)


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def matches(line: LogLine, query: LogQuery) -> bool:
    """The query as a search engine would apply it; free text: every word, case-insensitive, in the message."""
    if line.app != query.app:
        return False
    for wanted, actual in ((query.service, line.service), (query.service_level, line.service_level),
                           (query.pod, line.pod)):
        if wanted is not None and wanted != actual:
            return False
    if query.levels and line.level not in query.levels:
        return False
    if (query.since and line.timestamp < query.since) or (query.until and line.timestamp > query.until):
        return False
    message = line.message.casefold()
    return all(word in message for word in query.text.casefold().split())
