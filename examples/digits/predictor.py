"""Serve a scikit-learn classifier of 8x8 handwritten digits.

Input: the 64 pixel values (0..16) of one image, row by row.
Output: the digit as a string ("7"); score: the 10 class probabilities,
score[i] being the probability of digit i.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import skops.io as sio

from kanri.serving.predictor import InvalidInput, PredictInterface, PredictResult

N_PIXELS = 64
MAX_PIXEL = 16

# Types a model file may hold beyond skops' defaults, which already cover
# scikit-learn's public estimators, numpy arrays/dtypes and builtins. Both
# digits models need nothing more; add a type only after reviewing why it is there.
TRUSTED_TYPES: frozenset[str] = frozenset()


def load_trusted(path: str, allowed: frozenset[str]) -> Any:
    """Load a skops file, refusing any type that is neither a skops default nor allowed."""
    untrusted = sio.get_untrusted_types(file=path)
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise ValueError(f"{path} holds types outside the allow-list: {', '.join(refused)}")
    return sio.load(path, trusted=untrusted)


class Digits(PredictInterface):
    input_type = list[int]
    output_type = str

    def load_model(self, model_path: str) -> None:
        self.model = load_trusted(model_path, TRUSTED_TYPES)
        self.labels = [str(c) for c in self.model.classes_]

    def predict(self, input: list[int], option: dict[str, Any]) -> PredictResult:
        return self.predict_batch([input], [option])[0]

    def predict_batch(self, inputs: list[list[int]], options: list[dict[str, Any]]) -> list[PredictResult]:
        """One predict_proba call for the whole batch; per-row work is only building results."""
        if not inputs:
            return []
        proba = self.model.predict_proba(_as_pixels(inputs))
        labels = self.labels
        best = proba.argmax(axis=1).tolist()
        return [PredictResult(labels[i], row) for i, row in zip(best, proba.tolist(), strict=True)]

    def warm_up(self) -> None:
        self.predict([0] * N_PIXELS, {})


def _as_pixels(inputs: list[list[int]]) -> np.ndarray:
    """Inputs as an (n, 64) array, or a ValueError naming the first bad input."""
    try:
        pixels = np.asarray(inputs, dtype=np.float64)
    except ValueError:  # ragged rows: find the culprit below
        pixels = None
    if pixels is None or pixels.ndim != 2 or pixels.shape[1] != N_PIXELS:
        for i, row in enumerate(inputs):
            if len(row) != N_PIXELS:
                raise InvalidInput(f"input {i}: expected {N_PIXELS} pixel values (an 8x8 image), got {len(row)}")
        raise InvalidInput(f"inputs must be lists of {N_PIXELS} pixel values")
    if pixels.min() < 0 or pixels.max() > MAX_PIXEL:
        i = int(np.flatnonzero(((pixels < 0) | (pixels > MAX_PIXEL)).any(axis=1))[0])
        raise InvalidInput(f"input {i}: pixel values must be in 0..{MAX_PIXEL}")
    return pixels
