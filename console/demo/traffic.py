"""A steady trickle of real digits images through each service level's route, every answer counted.

Requests go round robin over the levels at `rate` per second in all, each on
its own (a slow answer never delays the next request). Calls are made without
the SDK's retries: a call that fails counts as failed even when the next one
succeeds, so "0 failed" during a rollout means no request failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from kanri.serving.client import AsyncClient

CATCH_UP_SECONDS = 1.0
"""When the loop falls behind (a suspended laptop), it skips ahead instead of sending a burst."""


@dataclass(frozen=True)
class LevelStats:
    """What the traffic saw at one service level since it started."""

    ok: int = 0
    failed: int = 0
    last_error: str = ""
    versions: dict[str, int] = field(default_factory=dict)
    """Answers per model version, e.g. {"1": 812, "2": 90}: a switch shows here as it rolls."""


class Traffic:
    """Background traffic for one application; start() it, read stats() or summary() from any thread, stop() it."""

    def __init__(self, app: str, routes: dict[str, str], inputs: Sequence[Any], rate: float = 20.0,
                 timeout: float = 5.0) -> None:
        """routes maps service level → router address; inputs are sent in turn, each request one input."""
        if rate <= 0:
            raise ValueError(f"the traffic rate must be positive, got {rate}")
        if not routes or not inputs:
            raise ValueError("traffic needs at least one route and one input")
        self.app = app
        self.routes = dict(routes)
        self.rate = rate
        self.timeout = timeout
        self._inputs = list(inputs)
        self._lock = threading.Lock()
        self._ok: Counter[str] = Counter()
        self._failed: Counter[str] = Counter()
        self._last_error: dict[str, str] = {}
        self._versions: dict[str, Counter[str]] = {level: Counter() for level in self.routes}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()

    # -- from any thread --

    def start(self) -> Traffic:
        if self._thread is not None:
            raise RuntimeError("this traffic was already started")
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name=f"traffic-{self.app}",
                                        daemon=True)
        self._thread.start()
        self._started.wait()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sending; requests still in flight are abandoned, not counted. Returns within timeout seconds."""
        if self._thread is None or not self._thread.is_alive() or self._loop is None or self._stopping is None:
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)

    def stats(self) -> dict[str, LevelStats]:
        """A consistent snapshot per level, in the order of routes."""
        with self._lock:
            return {level: LevelStats(self._ok[level], self._failed[level], self._last_error.get(level, ""),
                                      dict(self._versions[level])) for level in self.routes}

    def summary(self) -> str:
        """One line for a status bar: "traffic 20/s · 1234 ok · 0 failed"."""
        with self._lock:
            ok, failed = sum(self._ok.values()), sum(self._failed.values())
        return f"traffic {self.rate:g}/s · {ok} ok · {failed} failed"

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    # -- in the traffic thread --

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._started.set()
        clients = {level: AsyncClient(target=address, app=self.app, service_level=level, retries=0,
                                      timeout=self.timeout) for level, address in self.routes.items()}
        in_flight: set[asyncio.Task] = set()
        levels, inputs = itertools.cycle(self.routes), itertools.cycle(self._inputs)
        next_at = self._loop.time()
        try:
            while not self._stopping.is_set():
                level = next(levels)
                task = asyncio.create_task(self._call(clients[level], level, next(inputs)))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                next_at = max(next_at + 1 / self.rate, self._loop.time() - CATCH_UP_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), max(0.0, next_at - self._loop.time()))
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            for client in clients.values():
                await client.close()

    async def _call(self, client: AsyncClient, level: str, data: Any) -> None:
        try:
            answer = await client.predict(data)
        except Exception as exc:  # whatever made the call fail, it is one failed request (cancelling is not)
            with self._lock:
                self._failed[level] += 1
                self._last_error[level] = f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self._ok[level] += 1
            self._versions[level][answer.model_version] += 1
