"""JSON bodies read strictly, with errors that name the field at fault, and answers written strictly."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidInput, PredictorFailed
from ..inference import not_json

DECODER = json.JSONDecoder(parse_constant=not_json)  # made once: json.loads with an argument makes one a call


def parse_object(body: bytes, what: str) -> dict[str, Any]:
    """The JSON object body holds; NaN and Infinity are refused, as JSON has neither."""
    try:
        document = DECODER.decode(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} is not UTF-8 text: {exc}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, too-long ints, too-deep nesting
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
    return an_object(document, what)


def dump(document: dict[str, Any]) -> bytes:
    """An answer as JSON; numbers JSON cannot hold (NaN, infinity) are the predictor's doing."""
    try:
        return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:
        raise PredictorFailed(f"the answer holds a number JSON cannot carry ({exc}); the predictor returned "
                              "NaN or infinity") from None


def kind(value: Any) -> str:
    """What a JSON value is, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def required(document: dict[str, Any], key: str, what: str) -> Any:
    if key not in document:
        raise InvalidInput(f"{what} has no \"{key}\"")
    return document[key]


def an_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object, got {kind(value)}")
    return value


def an_array(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput(f"{what} must be a JSON array, got {kind(value)}")
    return value


def text(value: Any, what: str) -> str:
    """A string that is valid Unicode (JSON's \\ud800 escapes can make one that is not)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {kind(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} holds an unpaired surrogate (\\ud800-\\udfff), which is not Unicode text") from None
    return value


def integer(value: Any, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{what} must be an integer, got {kind(value)}")
    if not low <= value <= high:
        raise InvalidInput(f"{what} is {value}, out of the range {low}..{high}")
    return value


def boolean(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false, got {kind(value)}")
    return value
