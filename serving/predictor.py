"""The contract a data scientist implements to serve a model with kanri.

A predictor wraps a model together with its pre- and post-processing::

    class Digits(PredictInterface):
        input_type = list[int]
        output_type = str

        def load_model(self, model_path: str) -> None:
            self.model = skops.io.load(model_path, trusted=[...])

        def predict(self, input: list[int], option: dict) -> PredictResult:
            proba = self.model.predict_proba([input])[0]
            return PredictResult(label=str(proba.argmax()), score=list(proba))

Raise ``InvalidInput("...")`` for an input the model cannot take: the caller
gets INVALID_ARGUMENT with the message; any other exception is INTERNAL.

Optional hooks: ``predict_batch(inputs, options)`` lets the runtime group
concurrent requests into one call; ``warm_up()`` runs before a freshly loaded
model takes traffic.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import numbers
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .errors import InvalidInput, PredictorFailed

__all__ = ["InvalidInput", "PredictInterface", "PredictResult"]

# The value types a predictor may declare, by the name used on the wire and in metadata.
VALUE_TYPES: dict[str, Any] = {
    "str": str,
    "bytes": bytes,
    "list[int]": list[int],
    "list[float]": list[float],
    "list[str]": list[str],
}


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Looked up on every request: a dict, not a scan comparing generic aliases.
_TYPE_NAMES: dict[Any, str] = {known: name for name, known in VALUE_TYPES.items()}


def type_name(value_type: Any) -> str:
    try:
        return _TYPE_NAMES[value_type]
    except (KeyError, TypeError):  # TypeError: an unhashable value_type
        raise TypeError(f"unsupported value type {value_type!r}; use one of {', '.join(VALUE_TYPES)}") from None


@dataclass(slots=True)
class PredictResult:
    """What a predictor returns: the label (of the predictor's output_type),
    its scores, and an optional dict of any depth."""

    label: Any
    score: float | list[float]
    option: dict[str, Any] | None = field(default=None)

    @property
    def scores(self) -> list[float]:
        score: Any = self.score  # what the predictor returned, maybe not yet float | list[float] (check_result)
        if type(score) is not list and isinstance(score, numbers.Real):  # a list, the common case, skips the ABC test
            return [float(score)]
        return list(map(float, score))


class PredictInterface:
    """Subclass this, declare ``input_type`` and ``output_type``, implement two methods."""

    input_type: ClassVar[Any] = str
    output_type: ClassVar[Any] = str

    def load_model(self, model_path: str) -> None:
        raise NotImplementedError

    def predict(self, input: Any, option: dict[str, Any]) -> PredictResult:
        raise NotImplementedError

    # Optional hooks: the runtime checks for them with has_batch()/warm_up().
    predict_batch: Callable[[list[Any], list[dict[str, Any]]], list[PredictResult]] | None = None

    def warm_up(self) -> None:
        """Run before the model takes traffic (e.g. one dummy prediction)."""


def has_batch(predictor: PredictInterface) -> bool:
    return callable(getattr(predictor, "predict_batch", None))


def check_value(value: Any, value_type: Any, what: str) -> Any:
    """Return value as value_type, or raise InvalidInput naming what was expected."""
    name = type_name(value_type)
    if value_type is str and isinstance(value, str):
        return value
    if value_type is bytes and isinstance(value, bytes | bytearray):
        return bytes(value)
    if name.startswith("list[") and isinstance(value, list | tuple):
        item = value_type.__args__[0]
        try:
            return [_check_item(v, item) for v in value]
        except TypeError as exc:
            raise InvalidInput(f"{what} must be {name}: {exc}") from None
    raise InvalidInput(f"{what} must be {name}, got {_describe(value)}")


def _check_item(v: Any, item: type) -> Any:
    # numbers.Integral/Real take numpy scalars (np.int64, np.float32...) as well; bools are not numbers here.
    if item is int:
        if not _is_number(v) or not (isinstance(v, numbers.Integral) or float(v).is_integer()):
            raise TypeError(f"element {v!r} is not an int")
        v = int(v)
        if not INT64_MIN <= v <= INT64_MAX:
            # Both wire formats carry ints as int64.
            raise TypeError(f"element {v!r} is out of the int64 range")
        return v
    if item is float:
        if not _is_number(v):
            raise TypeError(f"element {v!r} is not a number")
        try:
            f = float(v)
        except OverflowError:
            raise TypeError(f"element {v!r} is out of the float range") from None
        if not math.isfinite(f):
            raise TypeError(f"element {v!r} is not finite")
        return f
    if not isinstance(v, str):
        raise TypeError(f"element {v!r} is not a string")
    return v


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} elements"
    return type(value).__name__


def check_result(result: Any, output_type: Any) -> PredictResult:
    """Validate what user code returned, so a bug in a predictor is reported as such."""
    if not isinstance(result, PredictResult):
        raise PredictorFailed(f"predictor returned {type(result).__name__}, expected PredictResult")
    try:
        result.label = check_value(result.label, output_type, "predictor output label")
        result.score = result.scores
    except (InvalidInput, TypeError, ValueError, OverflowError) as exc:
        raise PredictorFailed(str(exc)) from None
    return result


def load_predictor_class(reference: str) -> type[PredictInterface]:
    """Resolve "path/to/file.py:Class" or "package.module:Class"."""
    module_ref, sep, class_name = reference.rpartition(":")
    if not sep or not module_ref or not class_name:
        raise ValueError(f"predictor reference {reference!r} must look like file.py:Class or module:Class")
    if module_ref.endswith(".py"):
        path = Path(module_ref).resolve()
        if not path.is_file():
            raise ValueError(f"predictor file {path} does not exist")
        module_name = f"kanri_predictor_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        # The predictor's folder is importable, so its helpers can be split into files.
        sys.path.insert(0, str(path.parent))
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_ref)
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, PredictInterface)):
        raise ValueError(f"{reference}: {class_name} is not a PredictInterface subclass")
    try:
        type_name(cls.input_type)
        type_name(cls.output_type)
    except TypeError as exc:
        raise ValueError(f"{reference}: {exc}") from None
    return cls
