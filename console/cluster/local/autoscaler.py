"""CPU-driven replica counts, as the HorizontalPodAutoscaler computes them, with a cool-down."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def cpu_cores(quantity: str) -> float | None:
    """A Kubernetes CPU quantity ("500m", "2", "0.5") in cores; None when empty."""
    if not quantity:
        return None
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def desired_replicas(current: int, utilizations: list[float], threshold: int, minimum: int, maximum: int,
                     tolerance: float) -> int:
    """ceil(measured pods × mean CPU / threshold), unchanged within the tolerance, kept within [minimum, maximum].

    Utilisation is per cent of the CPU request, as for the HPA (of one core when no request is set).
    """
    clamp = min(max(current, minimum), maximum)
    if not utilizations or threshold <= 0:
        return clamp
    ratio = sum(utilizations) / len(utilizations) / threshold
    if abs(ratio - 1.0) <= tolerance:
        return clamp
    return min(max(math.ceil(len(utilizations) * ratio), minimum), maximum)


@dataclass
class CpuMeter:
    """Per cent of one core each process used since the previous reading."""

    _last: dict[int, tuple[float, float]] = field(default_factory=dict)

    def read(self, pid: int, cpu_seconds: float, now: float) -> float | None:
        """None on the first reading of a pid: a rate needs two."""
        previous = self._last.get(pid)
        self._last[pid] = (cpu_seconds, now)
        if previous is None or now <= previous[1]:
            return None
        return 100.0 * (cpu_seconds - previous[0]) / (now - previous[1])

    def forget_except(self, pids: set[int]) -> None:
        self._last = {pid: v for pid, v in self._last.items() if pid in pids}
