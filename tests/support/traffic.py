"""Steady calls in the background, for tests that need a service to be busy (or failing) while they watch."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from serving.client import Client
from serving.errors import ServingError


class Traffic:
    """Calls `client.predict(payload)` back to back on a thread until stopped; counts answers and errors."""

    def __init__(self, client: Client, payload: Any = "hello", pause: float = 0.005) -> None:
        self.client = client
        self.payload = payload
        self.pause = pause
        self.outcomes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.client.predict(self.payload)
                self.outcomes["ok"] += 1
            except ServingError as exc:
                self.outcomes[type(exc).__name__] += 1
            self._stop.wait(self.pause)
