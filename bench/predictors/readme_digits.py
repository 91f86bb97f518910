"""The digits model written the README's way (its "serving runtime" example): `predict` only, no
`predict_batch`, so the runtime calls it once per request and adaptive batching has nothing to do.

The benchmark serves this one to measure what a predictor as most users write it gets from
`kanri serve`'s default flags.
"""

from __future__ import annotations

from typing import Any

from examples.digits.predictor import N_PIXELS, TRUSTED_TYPES, load_trusted
from kanri.serving.predictor import InvalidInput, PredictInterface, PredictResult


class Digits(PredictInterface):
    input_type = list[int]
    output_type = str

    def load_model(self, model_path: str) -> None:
        self.model = load_trusted(model_path, TRUSTED_TYPES)

    def predict(self, input: list[int], option: dict[str, Any]) -> PredictResult:
        if len(input) != N_PIXELS:
            raise InvalidInput(f"expected {N_PIXELS} pixel values")
        proba = self.model.predict_proba([input])[0]
        return PredictResult(label=str(proba.argmax()), score=list(proba))
