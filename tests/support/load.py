"""Steady prediction load in the background, every call's outcome timed, for the fault-injection suite.

A few callers on their own event loop (in a thread, so the test can kill
processes meanwhile) call Predict through kanri's AsyncClient, each with a
deadline, one call after the other; what a fault costs is read afterwards from
the recorded calls.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

from kanri.serving.client import AsyncClient, ServingError


@dataclass(frozen=True)
class Call:
    started: float
    ended: float
    error: str = ""


@dataclass
class SteadyLoad:
    """target: host:port; retries: the client's own retries of UNAVAILABLE (0: what the server side alone does)."""

    target: str
    retries: int = 3
    callers: int = 3
    deadline_seconds: float = 5.0
    pause_seconds: float = 0.01
    calls: list[Call] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SteadyLoad:
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.deadline_seconds + 5)

    async def _run(self) -> None:
        async with AsyncClient(self.target, timeout=self.deadline_seconds, retries=self.retries) as client:
            await asyncio.gather(*(self._caller(client, n) for n in range(self.callers)))

    async def _caller(self, client: AsyncClient, n: int) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                await client.predict(f"caller {n}")
                self.calls.append(Call(started, time.monotonic()))
            except ServingError as exc:
                self.calls.append(Call(started, time.monotonic(), f"{exc.code.name}: {exc}"))
            await asyncio.sleep(self.pause_seconds)

    def failures(self, since: float) -> list[Call]:
        return [c for c in self.calls if c.error and c.ended >= since]

    def recovery_seconds(self, since: float) -> float | None:
        """From `since` to the first success after the last failure (0 without failures); None when the calls
        still fail at the end."""
        after = sorted((c for c in self.calls if c.ended >= since), key=lambda c: c.ended)
        last_failure = max((i for i, c in enumerate(after) if c.error), default=None)
        if last_failure is None:
            return 0.0
        served = next((c for c in after[last_failure + 1:] if not c.error), None)
        return None if served is None else served.ended - since

    def succeeded_since(self, since: float) -> int:
        return sum(1 for c in self.calls if not c.error and c.started >= since)
