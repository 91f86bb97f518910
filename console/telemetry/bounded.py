"""Run a source's calls on its own threads and give up waiting at a deadline, so nothing blocks the console.

A call that overruns keeps its thread until the client's own socket timeout
ends it; its caller has long since been answered "timed out".
"""

from __future__ import annotations

import concurrent.futures
import errno
import socket
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from kanri.console.telemetry.types import TelemetryUnavailable

K = TypeVar("K")
T = TypeVar("T")


def describe(exc: BaseException) -> str:
    """One line for a panel: why the network failed when it did (HTTP clients wrap "connection refused" in a
    paragraph naming the whole query), else the exception's own words, without the traceback."""
    if (reason := _network_failure(exc)) is not None:
        return reason
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN}


def _network_failure(exc: BaseException) -> str | None:
    """The system's own words for the socket error under the client's exceptions (their causes, contexts, args and
    urllib3's `reason`), if one is there."""
    queue, seen = [exc], set()
    while queue and len(seen) < 16:
        error = queue.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, socket.gaierror):
            return f"cannot resolve its host name ({error.strerror})"
        if isinstance(error, OSError) and error.strerror and (
                isinstance(error, (ConnectionError, TimeoutError)) or error.errno in UNREACHABLE):
            return error.strerror[0].lower() + error.strerror[1:]
        queue += [e for e in (error.__cause__, error.__context__, getattr(error, "reason", None), *error.args)
                  if isinstance(e, BaseException)]
    return None


class BoundedCalls:
    def __init__(self, source: str, timeout: float, workers: int = 8) -> None:
        self.source = source
        self.timeout = timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix=f"telemetry-{source}")

    def deadline(self) -> float:
        """When a call starting now must have answered (time.monotonic)."""
        return time.monotonic() + self.timeout

    def run(self, call: Callable[[], T], deadline: float | None = None) -> T | TelemetryUnavailable:
        return self.run_all({None: call}, deadline)[None]

    def run_all(self, calls: Mapping[K, Callable[[], T]],
                deadline: float | None = None) -> dict[K, T | TelemetryUnavailable]:
        """Each call's result, or why it has none, by the deadline (default: the timeout from now)."""
        deadline = deadline or self.deadline()
        futures = {key: self._pool.submit(call) for key, call in calls.items()}
        concurrent.futures.wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
        return {key: self._result(future) for key, future in futures.items()}

    def _result(self, future: concurrent.futures.Future[T]) -> T | TelemetryUnavailable:
        if not future.done():
            future.cancel()
            return TelemetryUnavailable(f"{self.source}: no answer within {self.timeout:g}s")
        exc = future.exception()
        if exc is not None:
            return TelemetryUnavailable(f"{self.source}: {describe(exc)}")
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
