"""Small predictors that exercise every value type and every failure the runtime must survive."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kanri.serving.predictor import InvalidInput, PredictInterface, PredictResult


class Echo(PredictInterface):
    """str → str: answers the input prefixed by the model file's first line; options echoed back.

    Input "boom" raises RuntimeError; "bad" raises InvalidInput; "sleep:<s>" sleeps first.
    """

    input_type = str
    output_type = str

    def load_model(self, model_path: str) -> None:
        text = Path(model_path).read_text()
        if text.startswith("corrupt"):
            raise ValueError("model file is corrupt")
        self.prefix = text.splitlines()[0] if text else ""

    def predict(self, input: str, option: dict[str, Any]) -> PredictResult:
        if input == "boom":
            raise RuntimeError("the model exploded")
        if input == "bad":
            raise InvalidInput("'bad' is not a word this model knows")
        if input.startswith("sleep:"):
            time.sleep(float(input.split(":", 1)[1]))
        return PredictResult(f"{self.prefix}:{input}", [1.0], option)


class BatchEcho(Echo):
    """Echo with predict_batch."""

    def predict_batch(self, inputs: list[str], options: list[dict[str, Any]]) -> list[PredictResult]:
        return [self.predict(i, o) for i, o in zip(inputs, options, strict=True)]


class Breakable(Echo):
    """Echo whose model file reading "broken" loads and turns ready, then fails every call: a bad model version."""

    def predict(self, input: str, option: dict[str, Any]) -> PredictResult:
        if self.prefix == "broken":
            raise RuntimeError("this model version is broken")
        return super().predict(input, option)


class Floats(PredictInterface):
    input_type = list[float]
    output_type = list[float]

    def load_model(self, model_path: str) -> None:
        self.factor = float(Path(model_path).read_text() or 1)

    def predict(self, input: list[float], option: dict[str, Any]) -> PredictResult:
        return PredictResult([v * self.factor for v in input], [sum(input)])


class Stateless(PredictInterface):
    """A predictor whose answers need nothing from the model file."""

    def load_model(self, model_path: str) -> None:
        pass


class Bytes(Stateless):
    input_type = bytes
    output_type = bytes

    def predict(self, input: bytes, option: dict[str, Any]) -> PredictResult:
        return PredictResult(input[::-1], 0.5)


class Words(Stateless):
    input_type = list[str]
    output_type = list[str]

    def predict(self, input: list[str], option: dict[str, Any]) -> PredictResult:
        return PredictResult([w.upper() for w in input], [float(len(w)) for w in input])


class Ints(Stateless):
    input_type = list[int]
    output_type = list[int]

    def predict(self, input: list[int], option: dict[str, Any]) -> PredictResult:
        return PredictResult(sorted(input), [float(len(input))])


class WrongOutput(Echo):
    """Returns an int label where it declared str: a predictor bug the runtime must report."""

    def predict(self, input: str, option: dict[str, Any]) -> PredictResult:
        return PredictResult(42, 1.0)
