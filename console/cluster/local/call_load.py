"""The calls each router process counts per service, published to a file beside its table for the supervisor's
call autoscaler (call_autoscaler.py).

Counters only grow (calls started, call-seconds in flight), so the supervisor gets rates from any two
readings, however many routers and however often it reads; a router that restarts starts again from zero,
which the reader takes as a new run rather than as calls going back. Each router writes when its counters
were settled and the calls in flight then, so that the reader carries the call-seconds on to the moment it
reads: a reading stamped with one time but counted at another would measure a steady load as a burst.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from .files import read_json, write_json
from .router_table import table_identity

log = logging.getLogger("kanri.local.calls")


def load_path(table_path: Path, instance: int) -> Path:
    """Where a level's router number `instance` publishes its counters."""
    return table_path.with_suffix(f".load-{instance}")


@dataclass
class ServiceCalls:
    started: int = 0
    in_flight: int = 0
    busy_seconds: float = 0.0
    held: int = 0
    since: float = field(default_factory=time.monotonic)

    def settle(self, now: float) -> None:
        """Add the call-seconds since the last change to the integral."""
        self.busy_seconds += self.in_flight * (now - self.since)
        self.since = now


class CallMeter:
    """A router's counters; begin/end bracket every call it routes (a held call counts from when it arrived)."""

    def __init__(self) -> None:
        self.services: dict[str, ServiceCalls] = {}
        self._published: object = None

    def _calls(self, service: str) -> ServiceCalls:
        if (calls := self.services.get(service)) is None:
            calls = self.services[service] = ServiceCalls()
        return calls

    def begin(self, service: str) -> None:
        calls = self._calls(service)
        calls.settle(time.monotonic())
        calls.started += 1
        calls.in_flight += 1

    def end(self, service: str) -> None:
        calls = self._calls(service)
        calls.settle(time.monotonic())
        calls.in_flight -= 1

    def hold(self, service: str, change: int) -> None:
        self._calls(service).held += change

    def publish(self, path: Path) -> None:
        """Write the counters if they changed since the last write (a busy router writes every poll)."""
        now = time.monotonic()
        for calls in self.services.values():
            calls.settle(now)
        counters = {name: {"started": c.started, "busy_seconds": round(c.busy_seconds, 6), "held": c.held,
                           "in_flight": c.in_flight} for name, c in self.services.items()}
        if counters != self._published:
            write_json(path, {"at": time.time(), "services": counters})
            self._published = counters


@dataclass
class LevelLoad:
    """The supervisor's running sums of one level's routers: each router's counters are added as they grow,
    and a router that restarted (its counters fell) is counted again from its new zero."""

    last: dict[Path, dict[str, dict]] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    busy_seconds: dict[str, float] = field(default_factory=dict)
    """Up to when each router wrote; `busy_now` carries the calls in flight on to the reading."""
    held: dict[str, int] = field(default_factory=dict)
    pending: dict[str, float] = field(default_factory=dict)
    _parsed: dict[Path, tuple[list[int], object]] = field(default_factory=dict)

    def read(self, paths: list[Path], now: float) -> None:
        """now: the wall-clock time of this reading."""
        self.held, self.pending = {}, {}
        for path in paths:
            try:
                document = self._document(path)
            except (OSError, ValueError) as exc:  # a router's file is never worth a supervisor's tick
                log.warning("cannot read the call counts %s: %s", path, exc)
                continue
            if not isinstance(document, dict) or "services" not in document:
                continue
            before = self.last.get(path, {})
            for service, counted in document["services"].items():
                was = before.get(service, {})
                for counter, sums in (("started", self.started), ("busy_seconds", self.busy_seconds)):
                    grown = counted[counter] - was.get(counter, 0)
                    sums[service] = sums.get(service, 0) + (grown if grown >= 0 else counted[counter])
                self.held[service] = self.held.get(service, 0) + counted["held"]
                self.pending[service] = (self.pending.get(service, 0.0)
                                         + counted["in_flight"] * max(now - document["at"], 0.0))
            self.last[path] = document["services"]

    def _document(self, path: Path) -> object:
        """The router's file, parsed again only when it was replaced: an idle router leaves it as it is."""
        if not path.exists():
            return None
        identity = table_identity(path)
        cached = self._parsed.get(path)
        if cached is None or cached[0] != identity:
            cached = self._parsed[path] = (identity, read_json(path, None))
        return cached[1]

    def busy_now(self, service: str) -> float:
        return self.busy_seconds.get(service, 0.0) + self.pending.get(service, 0.0)
