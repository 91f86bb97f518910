"""The protocol-agnostic data plane: validate, predict (batched or not), report.

Both transports (kanri's API and the Open Inference Protocol) call into this
one object, so behaviour, errors and metrics are the same on both.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from .batching import Batcher
from .errors import InvalidInput, PredictorFailed, ServingError
from .metrics import RuntimeMetrics
from .models import LoadedModel, ModelHolder
from .predictor import PredictResult, check_result

log = logging.getLogger("kanri.dataplane")


@dataclass(frozen=True, slots=True)
class Identity:
    app: str
    service: str
    service_level: str


class DataPlane:
    def __init__(self, identity: Identity, holder: ModelHolder, metrics: RuntimeMetrics,
                 batch_max_size: int = 32, batch_max_wait_s: float = 0.002, batching: bool = True) -> None:
        self.identity = identity
        self.holder = holder
        self.metrics = metrics
        self.started_at = time.time()
        self.draining = False
        self._batcher: Batcher | None = None
        self._float_input = holder.predictor_cls.input_type == list[float]
        if batching and batch_max_size > 1:
            self._batcher = Batcher(_run_batch, batch_max_size, batch_max_wait_s, metrics.observe_batch)

    @property
    def input_type(self) -> Any:
        return self.holder.predictor_cls.input_type

    @property
    def output_type(self) -> Any:
        return self.holder.predictor_cls.output_type

    @property
    def ready(self) -> bool:
        return self.holder.loaded and not self.draining

    def uses_batching(self, model: LoadedModel) -> bool:
        return self._batcher is not None and model.batching

    async def start(self) -> None:
        if self._batcher:
            self._batcher.start()

    async def stop(self) -> None:
        if self._batcher:
            await self._batcher.stop()

    async def predict(self, value: Any, option: dict[str, Any]) -> tuple[PredictResult, LoadedModel]:
        """Predict with the live model; value must already be of the predictor's input type."""
        model = self.holder.current
        if self._float_input and not all(map(math.isfinite, value)):
            raise InvalidInput("input must hold finite numbers: NaN and infinity are refused")
        if self._batcher is not None and model.batching:
            return await self._batcher.submit(model, value, option), model
        return _predict_one(model, value, option), model


def _predict_one(model: LoadedModel, value: Any, option: dict[str, Any]) -> PredictResult:
    try:
        result = model.predictor.predict(value, option)
    except ServingError:
        raise
    except Exception as exc:
        raise PredictorFailed(f"predictor raised {type(exc).__name__}: {exc}") from exc
    return check_result(result, model.predictor.output_type)


def _run_batch(model: LoadedModel, values: list[Any],
               options: list[dict[str, Any]]) -> list[PredictResult | BaseException]:
    """One predict_batch call; if it fails, each input is retried alone so one bad
    input fails only its own request."""
    if len(values) > 1:
        try:
            results = model.predictor.predict_batch(values, options)  # type: ignore[misc]
            if len(results) != len(values):
                raise PredictorFailed(f"predict_batch returned {len(results)} results for {len(values)} inputs")
            return [check_result(r, model.predictor.output_type) for r in results]
        except Exception as exc:
            log.warning("predict_batch failed on %d inputs (%s); retrying them one by one", len(values), exc)
    outcomes: list[PredictResult | BaseException] = []
    for value, option in zip(values, options, strict=True):
        try:
            outcomes.append(_predict_one(model, value, option))
        except ServingError as exc:
            outcomes.append(exc)
    return outcomes


