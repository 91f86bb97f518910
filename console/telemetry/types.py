"""What telemetry sources answer: typed figures, series and log lines, or why there are none.

Sources never raise into the console: a source that is down, slow or answering
garbage returns `TelemetryUnavailable` with the reason, and the panel shows it.
A figure that a source does not publish (no GPU, no cAdvisor) is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class TelemetryUnavailable:
    """A source could not answer in time or made no sense; the next call tries again."""

    reason: str


@dataclass(frozen=True)
class Figures:
    """A pod's or a service's figures now. None means the source has no such figure."""

    requests_per_second: float | None = None
    error_ratio: float | None = None  # server-fault answers / all answers, see promql.SERVER_FAULT_CODES
    p50_seconds: float | None = None
    p99_seconds: float | None = None
    in_flight: float | None = None
    cpu_cores: float | None = None
    cpu_limit_share: float | None = None  # cpu_cores / the CPU limit (embedded: the machine's cores)
    memory_bytes: float | None = None  # working set (Prometheus) or resident memory (embedded)
    gpu_utilization: float | None = None  # 0-1
    gpu_memory_bytes: float | None = None
    restarts: float | None = None


FIGURE_NAMES = tuple(f.name for f in fields(Figures))


@dataclass(frozen=True)
class PodFigures:
    pod: str
    service: str
    figures: Figures


@dataclass(frozen=True)
class ServiceFigures:
    service: str
    figures: Figures
    pods: tuple[PodFigures, ...]


@dataclass(frozen=True)
class MetricsSnapshot:
    """Every service of an application (or the one asked for) with its pods, sorted by name."""

    app: str
    taken_at: float  # unix seconds
    services: tuple[ServiceFigures, ...]


@dataclass(frozen=True)
class Series:
    """One figure over a window: (unix seconds, value) points, oldest first; gaps are left out."""

    points: tuple[tuple[float, float], ...]

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.points]


@dataclass(frozen=True)
class MetricsHistory:
    """Series per figure name, per service and per pod, for sparklines."""

    app: str
    window_seconds: float
    services: dict[str, dict[str, Series]]
    pods: dict[str, dict[str, Series]]


@dataclass(frozen=True)
class LogQuery:
    """Which lines: an application, optionally narrowed; `text` words must all appear in the message."""

    app: str
    service: str | None = None
    service_level: str | None = None
    pod: str | None = None
    levels: frozenset[str] = frozenset()  # empty: every level
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


def levels_at_least(level: str) -> frozenset[str]:
    """`--level warning` means warning and worse."""
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(LEVELS)}")
    return frozenset(LEVELS[LEVELS.index(level):])


@dataclass(frozen=True)
class LogLine:
    """One line with its identity; `fields` holds everything the line carried (empty for non-JSON lines)."""

    timestamp: datetime  # timezone-aware
    level: str  # a LEVELS name, or "raw" for a line that is not a runtime JSON line
    app: str
    service: str
    service_level: str
    pod: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class LogPage:
    """Lines oldest first, and the cursor to poll from for the lines after them.

    `more` says the source stopped early (a size or time bound): poll again at once.
    The cursor is opaque and belongs to the source that made it.
    """

    lines: tuple[LogLine, ...]
    cursor: object
    more: bool = False
