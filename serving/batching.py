"""Adaptive batching: concurrent requests for the same model become one predict_batch call.

The batcher never waits for traffic that is not there: it takes whatever queued
while the previous batch ran, keeps collecting only while new requests keep
arriving within the same event-loop turns, and stops at the maximum batch size
or the maximum wait. Under light load a request goes alone, at once; under
heavy load batches grow by themselves.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from .errors import PredictorFailed
from .models import LoadedModel
from .predictor import PredictResult

log = logging.getLogger("kanri.batching")

# Under load, keep collecting until no request arrived for this long; when idle, go at once.
IDLE_GAP_S = 0.001
# Under load, look at the queue this often while collecting; a loop turn each time would busy-wait.
POLL_S = 0.0002
# Load counts as gone after this many batches in a row held a single request. While lone batches
# follow each other within the idle gap, every so many of them one waits as under load anyway:
# when each call takes several loop turns to reach the batcher (tracing on, say), requests would
# never meet otherwise, and batching would not resume under load.
LONE_BATCHES_TO_IDLE = 8
Item = tuple[LoadedModel, Any, dict[str, Any], asyncio.Future[PredictResult]]
# Runs one batch of one model; returns a result or an exception per input.
BatchRunner = Callable[[LoadedModel, list[Any], list[dict[str, Any]]], list[PredictResult | BaseException]]


class Batcher:
    def __init__(self, run_batch: BatchRunner, max_size: int, max_wait_s: float,
                 on_batch: Callable[[int], None] | None = None) -> None:
        if max_size < 1:
            raise ValueError("maximum batch size must be at least 1")
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self._run_batch = run_batch
        self._on_batch = on_batch
        self._queue: deque[Item] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lone_batches = LONE_BATCHES_TO_IDLE
        self._last_batch_at = float("-inf")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="kanri-batcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for *_, future in self._queue:
            if not future.done():
                future.cancel()

    async def submit(self, model: LoadedModel, value: Any, option: dict[str, Any]) -> PredictResult:
        future: asyncio.Future[PredictResult] = asyncio.get_running_loop().create_future()
        self._queue.append((model, value, option, future))
        self._wakeup.set()
        return await future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._collect(loop.time() + self.max_wait_s, loop)
                self._dispatch(self._take())
                self._last_batch_at = loop.time()
                # Let handlers whose requests arrived during the batch enqueue.
                await asyncio.sleep(0)

    async def _collect(self, deadline: float, loop: asyncio.AbstractEventLoop) -> None:
        """Yield to the loop while requests keep arriving: stop when the batch is full,
        at the deadline, or once no request arrived for the idle gap."""
        last_growth = loop.time()
        busy = last_growth - self._last_batch_at < IDLE_GAP_S
        lone = self._lone_batches
        loaded = lone < LONE_BATCHES_TO_IDLE or (busy and lone % LONE_BATCHES_TO_IDLE == 0)
        idle_gap, poll = (IDLE_GAP_S, POLL_S) if loaded else (0.0, 0.0)
        size = len(self._queue)
        while size < self.max_size:
            await asyncio.sleep(poll)
            now = loop.time()
            if len(self._queue) > size:
                size, last_growth = len(self._queue), now
            elif now - last_growth >= idle_gap or now >= deadline:
                return

    def _take(self) -> list[Item]:
        """Up to max_size queued items, all of the same model (a swap splits batches)."""
        first_model = self._queue[0][0]
        batch: list[Item] = []
        while self._queue and len(batch) < self.max_size and self._queue[0][0] is first_model:
            item = self._queue.popleft()
            if not item[3].cancelled():
                batch.append(item)
        return batch

    def _dispatch(self, batch: list[Item]) -> None:
        if not batch:
            return
        self._lone_batches = self._lone_batches + 1 if len(batch) == 1 else 0
        if self._on_batch:
            try:
                self._on_batch(len(batch))
            except Exception:
                log.exception("batch observer failed")
        # Whatever goes wrong, every request of the batch gets an answer and the loop lives on.
        outcomes: list[PredictResult | BaseException]
        try:
            outcomes = self._run_batch(batch[0][0], [i[1] for i in batch], [i[2] for i in batch])
            if len(outcomes) != len(batch):
                raise PredictorFailed(f"batch runner returned {len(outcomes)} outcomes for {len(batch)} inputs")
        except Exception as exc:
            outcomes = [exc] * len(batch)
        for (_, _, _, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
