"""An SLO as every part of kanri reads it: plain numbers, with the budgets they imply."""

from __future__ import annotations

from dataclasses import dataclass

from kanri.serving.metrics import LATENCY_BUCKETS


@dataclass(frozen=True)
class Objective:
    """`availability_percent` of calls answered without a server fault, `latency_percent` of them within
    `latency_ms`, judged over `window_days`."""

    app: str
    service: str
    level: str
    availability_percent: float
    latency_ms: float
    latency_percent: float = 99.0
    window_days: int = 28

    @property
    def error_budget(self) -> float:
        """The share of calls that may fail: 0.001 for 99.9 %."""
        return 1 - self.availability_percent / 100

    @property
    def latency_budget(self) -> float:
        """The share of calls that may be slower than the threshold."""
        return 1 - self.latency_percent / 100

    @property
    def latency_seconds(self) -> float:
        return self.latency_ms / 1000


def latency_thresholds_ms() -> list[float]:
    """The thresholds a latency objective may use: the runtime's histogram bucket bounds."""
    return [bound * 1000 for bound in LATENCY_BUCKETS]
