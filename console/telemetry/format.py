"""Figures as an operator reads them, shared by `kanri top` and every panel of the console, so that a figure
reads the same wherever it shows: None shows as a blank."""

from __future__ import annotations

from collections.abc import Callable

from kanri.console.telemetry.types import Figures


def rate(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f}"


def ms(value: float | None) -> str | None:
    return None if value is None else f"{value * 1000:.1f}"


def percent(value: float | None) -> str | None:
    return None if value is None else f"{value * 100:.1f}%"


def mib(value: float | None) -> str | None:
    return None if value is None else f"{value / 2**20:.0f}Mi"


def cores(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def count(value: float | None) -> str | None:
    return None if value is None else f"{value:.0f}"


def score(value: float | None) -> str | None:
    """Accuracy, precision, recall, F1: three decimals wherever they show."""
    return None if value is None else f"{value:.3f}"


def score_change(value: float | None) -> str | None:
    return None if value is None else f"{value:+.3f}"


COLUMNS: dict[str, Callable[[Figures], str | None]] = {
    "rps": lambda f: rate(f.requests_per_second), "errors": lambda f: percent(f.error_ratio),
    "p50 ms": lambda f: ms(f.p50_seconds), "p99 ms": lambda f: ms(f.p99_seconds),
    "in flight": lambda f: count(f.in_flight),
    "cpu": lambda f: cores(f.cpu_cores),
    "cpu/limit": lambda f: percent(f.cpu_limit_share), "memory": lambda f: mib(f.memory_bytes),
    "gpu": lambda f: percent(f.gpu_utilization), "gpu mem": lambda f: mib(f.gpu_memory_bytes),
    "restarts": lambda f: count(f.restarts),
}
